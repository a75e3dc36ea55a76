package kindcluster

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
)

// AddFakeNodes adds the pools' fake nodes to the cluster: it preloads kwok's image into the nodes from
// the local Docker (no registry need be reachable), installs kwok or brings it up to date, creates the
// nodes and waits until all of them are Ready. Each of the two waits (kwok Available, nodes Ready) is
// bounded by timeout.
func (c *Cluster) AddFakeNodes(ctx context.Context, timeout time.Duration, pools ...fakenodes.Pool) error {
	start := time.Now()
	absent, err := c.LoadImages(ctx, fakenodes.KwokImage)
	if err != nil {
		return err
	}
	for _, img := range absent {
		c.log.Info("Image not in the local Docker, nodes will pull it", "image", img)
	}
	cl, err := c.bulkClient()
	if err != nil {
		return err
	}
	if err := fakenodes.Install(ctx, cl, timeout); err != nil {
		return fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	c.log.Info("kwok is Available", "image", fakenodes.KwokImage, "elapsed", time.Since(start).Round(time.Millisecond))
	n, _ := fakenodes.Size(pools...)
	start = time.Now()
	if err := fakenodes.Create(ctx, cl, pools...); err != nil {
		return fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	c.log.Info("Fake nodes created", "nodes", n, "elapsed", time.Since(start).Round(time.Millisecond))
	if err := fakenodes.WaitReady(ctx, cl, timeout, pools...); err != nil {
		return fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	c.log.Info("Fake nodes Ready", "nodes", n, "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}

// DeleteFakeNodes deletes the pools' fake nodes; the pod garbage collector then deletes the pods that
// were bound to them. kwok stays installed.
func (c *Cluster) DeleteFakeNodes(ctx context.Context, pools ...fakenodes.Pool) error {
	cl, err := c.bulkClient()
	if err != nil {
		return err
	}
	if err := fakenodes.Delete(ctx, cl, pools...); err != nil {
		return fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	return nil
}

// bulkClient is a client for writing hundreds of objects: without client-go's default rate limit of
// 5 requests a second, which would spend two minutes on 300 nodes; the API server's priority and
// fairness still limits it.
func (c *Cluster) bulkClient() (client.Client, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.QPS = -1
	return client.New(cfg, client.Options{})
}
