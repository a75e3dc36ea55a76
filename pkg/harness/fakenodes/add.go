package fakenodes

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Add installs kwok in the cluster of cfg (Install: KwokImage must be on its nodes or pullable) or
// brings it up to date, creates the pools' nodes and waits until all of them are Ready. Each of the two
// waits (kwok Available, nodes Ready) is bounded by timeout. Where kwok already runs outside the
// cluster (the Docker-free control plane), Create and WaitReady alone are the step.
func Add(ctx context.Context, cfg *rest.Config, timeout time.Duration, pools ...Pool) error {
	c, err := BulkClient(cfg)
	if err != nil {
		return err
	}
	if err := Install(ctx, c, timeout); err != nil {
		return err
	}
	if err := Create(ctx, c, pools...); err != nil {
		return err
	}
	return WaitReady(ctx, c, timeout, pools...)
}

// BulkClient is a client for writing hundreds of objects: without client-go's default rate limit of
// 5 requests a second, which would spend two minutes on 300 nodes; the API server's priority and
// fairness still limits it.
func BulkClient(cfg *rest.Config) (client.Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("client for the fake nodes: %w", err)
	}
	return c, nil
}
