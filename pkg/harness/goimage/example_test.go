package goimage_test

import (
	"context"
	"log"

	"github.com/labkit-dev/labkit/pkg/harness/goimage"
)

// A skaffold custom build, as skaffold.yaml's dev profile runs it through labkit-harness image build:
// the controller compiled on this machine, stripped, put on distroless in the local Docker, from
// which skaffold loads it into kind.
func ExampleBuild() {
	err := goimage.Build(context.Background(), ".", "./cmd/labkit-controller", "labkit-controller:dev",
		goimage.WithStrip(true))
	if err != nil {
		log.Fatal(err)
	}
}
