// Package stack brings up labkit's whole stack for tests, benchmarks and demos: the kind cluster, the
// controller deployed by skaffold, Argo CD, an ingress controller, and a GitOps repository Argo CD syncs.
package stack
