// Package testenv starts a real kube-apiserver and etcd (envtest) with the labkit CRD installed, for integration tests.
package testenv
