// Package localcluster runs a Kubernetes control plane with fake kwok nodes as local processes: no Docker.
package localcluster
