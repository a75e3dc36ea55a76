// Package gitops commits file changes to a branch of a Git remote and pushes them atomically, retrying when others push meanwhile.
package gitops
