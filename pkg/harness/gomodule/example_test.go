package gomodule_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/labkit-dev/labkit/pkg/harness/gomodule"
)

// A harness reads an upstream manifest out of a pinned release, checksummed as a Go dependency is,
// instead of downloading it from a URL: here one of kwok's node stages, as fakenodes does. The go
// command reads it from the module cache when it is there, offline.
func Example() {
	b, err := gomodule.ReadFile(context.Background(), "sigs.k8s.io/kwok", "v0.8.0", "kustomize/stage/node/fast/node-initialize.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Join(strings.Split(string(b), "\n")[:4], "\n"))
	// Output:
	// apiVersion: kwok.x-k8s.io/v1alpha1
	// kind: Stage
	// metadata:
	//   name: node-initialize
}
