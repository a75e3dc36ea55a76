// Package e2e is labkit's end-to-end suite (the _test files, build tag e2e) and the settings it shares
// with the labkit-harness command.
package e2e

// ClusterName is the kind cluster the suite runs on.
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
}
