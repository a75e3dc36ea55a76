package intervals_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labkit-dev/labkit/pkg/harness/intervals"
)

func parse(t *testing.T, args ...string) *intervals.Flags {
	t.Helper()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := intervals.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFlagsOverrideFromTheFileThenScale(t *testing.T) {
	file := filepath.Join(t.TempDir(), "intervals.yaml")
	if err := os.WriteFile(file, []byte(`wait-gone: ["5m", "2s"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := parse(t, "-interval-scale=2", "-intervals="+file).Apply(table)
	if err != nil {
		t.Fatal(err)
	}
	want := intervals.Table{
		"wait-lab-ready": {Timeout: 6 * time.Minute, Poll: time.Second},
		"wait-gone":      {Timeout: 10 * time.Minute, Poll: 2 * time.Second},
	}
	for name, iv := range want {
		if got[name] != iv {
			t.Errorf("%s: got %+v, want %+v", name, got[name], iv)
		}
	}
	if table["wait-gone"].Timeout != 2*time.Minute {
		t.Errorf("Apply changed the table it was given: wait-gone is %v", table["wait-gone"].Timeout)
	}
}

func TestFlagsUnsetLeaveTheTableAsItIs(t *testing.T) {
	got, err := parse(t).Apply(table)
	if err != nil {
		t.Fatal(err)
	}
	for name, iv := range table {
		if got[name] != iv {
			t.Errorf("%s: got %+v, want it unchanged, %+v", name, got[name], iv)
		}
	}
}

func TestFlagsRefuseANonPositiveScaleNamingTheFlag(t *testing.T) {
	_, err := parse(t, "-interval-scale=0").Apply(table)
	if err == nil || !strings.Contains(err.Error(), "-interval-scale") || !strings.Contains(err.Error(), "positive") {
		t.Fatalf("got %v, want an error naming -interval-scale and what it takes", err)
	}
}
