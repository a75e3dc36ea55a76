package skaffold_test

import (
	"context"
	"log"
	"os"
	"regexp"
	"time"

	"github.com/labkit-dev/labkit/pkg/harness/kindcluster"
	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
)

var watching = regexp.MustCompile(`Watching for changes`)

// A suite deploys the project of ./skaffold.yaml into its kind cluster with skaffold run; a dev-loop
// test then runs skaffold dev and waits until it has redeployed after a source change. It needs
// Docker and a kind cluster, so it is not run here.
func Example() {
	ctx := context.Background()
	c, err := kindcluster.Get("labkit")
	if err != nil {
		log.Fatal(err)
	}
	s := skaffold.New(skaffold.WithBinary("bin/skaffold"), skaffold.WithPath("bin"), // kind, kubectl
		skaffold.WithCluster(c.Kubeconfig, c.KubeContext()), skaffold.WithOutput(os.Stderr))
	if err := s.Run(ctx); err != nil { // build, load into kind, deploy, wait until ready
		log.Fatal(err)
	}
	dev, err := s.Start(ctx, "dev", "--cleanup=false") // keep what it deployed when stopped
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Stop(ctx)
	if _, err := dev.WaitFor(ctx, "wait-dev-ready", 5*time.Minute, 0, watching); err != nil {
		log.Fatal(err)
	}
	offset := len(dev.Output()) // wait only on what skaffold prints after the change
	// ... edit a source file of the project ...
	if _, err := dev.WaitFor(ctx, "wait-new-pod", 5*time.Minute, offset, watching); err != nil {
		log.Fatal(err)
	}
}
