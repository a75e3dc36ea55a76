// Package apply applies and deletes a stream of YAML manifests with server-side apply, as `kubectl apply --server-side` does.
package apply
