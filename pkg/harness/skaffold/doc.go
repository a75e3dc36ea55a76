// Package skaffold runs skaffold run, dev and debug against a cluster, and waits on what they print.
package skaffold
