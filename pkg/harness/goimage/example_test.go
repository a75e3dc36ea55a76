package goimage_test

import (
	"context"
	"log"

	"github.com/labkit-dev/labkit/pkg/harness/goimage"
)

// A skaffold custom build (skaffold.yaml's dev profile does this through labkit-harness image build):
// the controller compiled on this machine, put on distroless, pushed to the cluster's registry.
func ExampleBuild() {
	err := goimage.Build(context.Background(), ".", "./cmd/labkit-controller", "localhost:5001/labkit-controller:dev",
		goimage.WithPush(true))
	if err != nil {
		log.Fatal(err)
	}
}
