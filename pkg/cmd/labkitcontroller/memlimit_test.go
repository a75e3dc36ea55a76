package labkitcontroller

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// The soft memory limit is 90% of --memory-limit's, else of the container's; none where there is no
// limit or GOMEMLIMIT is set. A bad flag is refused naming it and what it takes, and an unreadable
// container limit is an error that says which file held what.
func TestSoftMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	file := func(content string) string {
		p := filepath.Join(dir, strings.NewReplacer("\n", "", " ", "").Replace(content)+".max")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noEnv := func(string) string { return "" }
	gomemlimit := func(k string) string { return map[string]string{"GOMEMLIMIT": "100MiB"}[k] }
	for _, tc := range []struct {
		name      string
		flag      string
		getenv    func(string) string
		memoryMax []string
		limit     int64
		ok        bool
	}{
		{"512Mi container", "", noEnv, []string{file("536870912\n")}, 483183820, true},
		{"no limit", "", noEnv, []string{file("max\n")}, 0, false},
		{"not in a container (no cgroup v2 file)", "", noEnv, []string{filepath.Join(dir, "absent")}, 0, false},
		{"GOMEMLIMIT set", "", gomemlimit, []string{file("536870912")}, 0, false},
		{"cgroup v1: 512Mi container", "", noEnv, []string{filepath.Join(dir, "absent"), file("536870912 ")}, 483183820, true},
		{"cgroup v1: no limit", "", noEnv, []string{filepath.Join(dir, "absent"), file("9223372036854771712")}, 0, false},
		{"--memory-limit=160Mi in a 512Mi container", "160Mi", noEnv, []string{file("536870912")}, 150994944, true},
		{"--memory-limit=160Mi and GOMEMLIMIT", "160Mi", gomemlimit, []string{filepath.Join(dir, "absent")}, 150994944, true},
	} {
		limit, ok, err := softMemoryLimit(tc.flag, tc.getenv, tc.memoryMax)
		if err != nil || limit != tc.limit || ok != tc.ok {
			t.Errorf("%s: %d, %v, %v; want %d, %v, no error", tc.name, limit, ok, err, tc.limit, tc.ok)
		}
	}
	bad := file("lots")
	if _, ok, err := softMemoryLimit("", noEnv, []string{bad}); ok || err == nil || !strings.Contains(err.Error(), bad+` holds "lots", not a number of bytes or max`) {
		t.Errorf("a memory.max of lots: %v, %v; want an error naming the file and what it held", ok, err)
	}
}

// --memory-limit takes a quantity of bytes and refuses anything else before the cluster is reached,
// naming the flag and what it takes.
func TestMemoryLimitFlag(t *testing.T) {
	before := debug.SetMemoryLimit(-1) // -1 reads it
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	if err := runToCluster("--memory-limit=192Mi"); !errors.Is(err, errReached) {
		t.Errorf("--memory-limit=192Mi: %v, want the cluster reached", err)
	} else if got := debug.SetMemoryLimit(-1); got != 181193932 {
		t.Errorf("--memory-limit=192Mi: Go's soft memory limit %d, want 90%% of 192Mi, 181193932", got)
	}
	for _, bad := range []string{"lots", "0", "-1Gi"} {
		err := runToCluster("--memory-limit=" + bad)
		if err == nil || errors.Is(err, errReached) || !strings.Contains(err.Error(), "--memory-limit="+bad+": give the memory the controller may use as a number of bytes with a unit, e.g. 192Mi") {
			t.Errorf("--memory-limit=%s: %v, want it refused naming the flag and what it takes", bad, err)
		}
	}
}
