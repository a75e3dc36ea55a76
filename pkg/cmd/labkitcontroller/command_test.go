package labkitcontroller

import (
	"errors"
	"io"

	"k8s.io/client-go/rest"
)

// errReached is what the command returns when it gets as far as reaching for a cluster (runToCluster).
var errReached = errors.New("the cluster was reached")

// runToCluster runs the command with args as far as its first reach for a cluster, where it stops
// with errReached: a flag it refuses ends it before that, with the error a person reads.
func runToCluster(args ...string) error {
	cmd := newCommand(surroundings{config: func() (*rest.Config, error) { return nil, errReached }, logs: io.Discard})
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.Execute()
}
