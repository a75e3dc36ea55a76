package labkitcontroller

import (
	"errors"
	"io"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// --status-settle takes 0 (every change written at once) and a positive duration, and refuses a
// negative one before the cluster is reached, naming the flag and what it takes.
func TestStatusSettleFlag(t *testing.T) {
	reached := errors.New("the cluster was reached")
	run := func(args ...string) error {
		cmd := newCommand(surroundings{config: func() (*rest.Config, error) { return nil, reached }, logs: io.Discard})
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		return cmd.Execute()
	}
	for _, ok := range []string{"--status-settle=0", "--status-settle=2s"} {
		if err := run(ok); !errors.Is(err, reached) {
			t.Errorf("%s: %v, want the cluster reached", ok, err)
		}
	}
	err := run("--status-settle=-1s")
	if err == nil || errors.Is(err, reached) || !strings.Contains(err.Error(), "--status-settle=-1s: give a duration of 0 or more") {
		t.Errorf("a negative settle: %v, want it refused naming the flag and what it takes", err)
	}
}
