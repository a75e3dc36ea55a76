// Package labkitharness is the command of labkit-harness: the e2e cluster for people (up, down, status),
// and its fake GPU nodes (add, delete).
package labkitharness
