package labkitcontroller

import (
	"errors"
	"strings"
	"testing"
)

// --status-settle takes 0 (every change written at once) and a positive duration, and refuses a
// negative one before the cluster is reached, naming the flag and what it takes.
func TestStatusSettleFlag(t *testing.T) {
	for _, ok := range []string{"--status-settle=0", "--status-settle=2s"} {
		if err := runToCluster(ok); !errors.Is(err, errReached) {
			t.Errorf("%s: %v, want the cluster reached", ok, err)
		}
	}
	err := runToCluster("--status-settle=-1s")
	if err == nil || errors.Is(err, errReached) || !strings.Contains(err.Error(), "--status-settle=-1s: give a duration of 0 or more") {
		t.Errorf("a negative settle: %v, want it refused naming the flag and what it takes", err)
	}
}
