// Package labkitharness is the command of labkit-harness: the e2e cluster for people (up, down, status).
package labkitharness
