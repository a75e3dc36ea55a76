// Package portforward forwards a local port to a pod's or a Service's port through the API server, as
// `kubectl port-forward` does.
package portforward
