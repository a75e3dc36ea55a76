package goimage_test

import (
	"context"
	"log"

	"github.com/labkit-dev/labkit/pkg/harness/goimage"
)

// A skaffold custom build, as skaffold.yaml's host-build profile runs it through labkit-harness image
// build: the controller compiled on this machine, stripped, put on distroless and pushed to the kind
// cluster's local registry, from which the node that runs it pulls it.
func ExampleBuild() {
	err := goimage.Build(context.Background(), ".", "./cmd/labkit-controller", "localhost:5001/labkit-controller:dev",
		goimage.WithStrip(true), goimage.WithPush(true))
	if err != nil {
		log.Fatal(err)
	}
}
