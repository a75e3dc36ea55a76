package kindcluster_test

import (
	"context"
	"log"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/kindcluster"
	"github.com/labkit-dev/labkit/pkg/harness/traefik"
)

// A suite brings up the kind cluster of its kind config (or reuses the one made from the same config),
// preloads the images it runs, gives the GPU workers their fake GPUs and adds the declared pools of
// fake nodes. It needs Docker and takes minutes, so it is not run here.
func Example() {
	ctx := context.Background()
	c, err := kindcluster.Up(ctx, "labkit", kindcluster.WithConfigFile("kind-config.yaml"),
		kindcluster.WithHostPort(30080, 38085)) // beside another cluster made from the same config
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.LoadImages(ctx, traefik.DefaultImage); err != nil { // absent locally: the nodes pull it
		log.Fatal(err)
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		log.Fatal(err)
	}
	cl, err := client.New(cfg, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := fakenodes.AdvertiseGPUs(ctx, cl); err != nil {
		log.Fatal(err)
	}
	pools, err := fakenodes.LoadFile("kind-config.yaml", c.Name)
	if err != nil {
		log.Fatal(err)
	}
	// kwok's fake nodes: its image from the local Docker, then kwok and the nodes.
	if _, err := c.LoadImages(ctx, fakenodes.KwokImage); err != nil {
		log.Fatal(err)
	}
	if err := fakenodes.Add(ctx, cfg, 5*time.Minute, pools.Pools...); err != nil {
		log.Fatal(err)
	}
	log.Printf("kubectl --kubeconfig %s --context %s get nodes", c.Kubeconfig, c.KubeContext())
	// When a test failed: c.ExportLogs("artifacts/kind"). When done: c.Down().
}
