// Package portforward forwards a local port to a pod's port, as `kubectl port-forward` does.
package portforward
