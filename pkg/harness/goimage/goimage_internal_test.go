package goimage

import (
	"context"
	"strings"
	"testing"
)

func TestRegistryOf(t *testing.T) {
	t.Parallel()
	for image, want := range map[string]string{
		"labkit-controller:dev":                    "",
		"library/busybox:1.35":                     "",
		"localhost:5001/labkit-controller:abc":     "localhost:5001",
		"localhost/labkit-controller":              "localhost",
		"gcr.io/distroless/static:nonroot":         "gcr.io",
		"labkit-registry:5000/labkit-controller:x": "labkit-registry:5000",
	} {
		if got := registryOf(image); got != want {
			t.Errorf("registryOf(%q) = %q, want %q", image, got, want)
		}
	}
}

// A push of a name without a registry is refused before anything is built: Docker would push it to
// Docker Hub.
func TestBuildRefusesToPushWithoutARegistry(t *testing.T) {
	t.Parallel()
	err := Build(context.Background(), t.TempDir(), "./cmd/none", "labkit-controller:dev", WithPush(true))
	if err == nil || !strings.Contains(err.Error(), "no registry to push it to") || !strings.Contains(err.Error(), "--default-repo") {
		t.Fatalf("Build with push of labkit-controller:dev: got %v, want an error saying it has no registry and naming --default-repo", err)
	}
}
