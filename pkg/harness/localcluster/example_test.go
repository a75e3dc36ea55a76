package localcluster_test

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/localcluster"
)

// A test runs a control plane on this machine, without Docker, from the binaries in
// $KUBEBUILDER_ASSETS, and gives it fake nodes that kwok keeps Ready.
func Example() {
	ctx := context.Background()
	c, err := localcluster.Start(ctx) // c.Kubeconfig is for kubectl and the like
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Stop()
	cl, err := client.New(c.Config, client.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := fakenodes.Load([]byte(`{kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4}
---
apiVersion: harness.labkit.dev/v1alpha1
kind: FakeNodePools
pools: [{name: gpu, count: 2, labels: {nvidia.com/gpu.count: "8"}}]
`), "local")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := fakenodes.Create(ctx, cl, cfg.Pools...); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fakenodes.WaitReady(ctx, cl, time.Minute, cfg.Pools...))
	var nodes corev1.NodeList
	if err := cl.List(ctx, &nodes); err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range nodes.Items {
		gpus := n.Status.Allocatable[fakenodes.GPUResource]
		fmt.Println(n.Name, "GPUs:", gpus.String())
	}
	// Output:
	// <nil>
	// gpu-0 GPUs: 8
	// gpu-1 GPUs: 8
}
