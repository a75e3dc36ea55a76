package stack

import "github.com/labkit-dev/labkit/pkg/harness/traefik"

// ClusterName is the kind cluster the e2e suite, make dev and make debug run on.
const ClusterName = "labkit"

// Images are the upstream images the suite's pods run, preloaded into the kind nodes from the local
// Docker engine so that no test waits on a registry. Pre-pull them with `docker pull` on a connected
// machine. The controller image is built and loaded by skaffold.
var Images = []string{
	"quay.io/argoproj/argocd:v3.6.1",
	"public.ecr.aws/docker/library/redis:8.10.1-alpine",
	"quay.io/jupyter/minimal-notebook:python-3.11",
	"gcr.io/k8s-skaffold/skaffold-debug-support/go:latest",
	"busybox:1.35",
	traefik.DefaultImage,
}
