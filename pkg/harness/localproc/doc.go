// Package localproc builds Go programs and runs them as local processes whose memory and CPU use can
// be read, for running a controller on the host against a cluster.
package localproc
