// Package goimage builds a container image of one Go program from a binary compiled on this machine,
// so that Go's build cache makes a rebuild after a small edit take seconds: the inner loop of make dev.
package goimage
