// Package goimage builds a container image of one Go program from a binary compiled on this machine,
// so that Go's build cache makes a rebuild after a small edit take seconds: the inner loop of make dev.
// A pushed image is written straight to its registry, the binary as one layer on a base the registry
// already holds, so that Docker neither copies nor gzips it on every edit.
package goimage
