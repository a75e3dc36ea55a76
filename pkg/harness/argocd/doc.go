// Package argocd installs Argo CD's core components into a cluster from a pinned, checksummed manifest and waits on its Applications.
package argocd
