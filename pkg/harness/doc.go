// Package harness is a kind e2e testing kit for Kubernetes controllers: a kind cluster with fake GPU
// nodes (kindcluster), a Git server the cluster can reach (gitserver), skaffold (skaffold), Argo CD
// (argocd), an ingress controller (traefik), a real browser (browser), manifests (apply), declarative
// asserts (assert) and evidence of failures (evidence). Nothing in it is specific to labkit.
package harness
