// Package stack brings up labkit's whole stack for tests, benchmarks and demos: the kind cluster, the
// controller deployed by skaffold, Argo CD, an ingress controller, and a GitOps repository Argo CD syncs.
// A Provider makes a Cluster ready whatever it is (kind, the Docker-free control plane, a cluster from a
// kubeconfig): each is one file here, and the e2e suite knows only the Cluster interface. Waits holds
// every named wait of the stack, the suite and the benchmarks.
package stack
