// Package argocd describes the part of Argo CD's Application API that labkit writes and waits on.
package argocd
