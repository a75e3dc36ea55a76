package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/harness/intervals"
	"github.com/labkit-dev/labkit/pkg/stack"
)

func TestScaleStretchesOnlyTheWaitsOnEveryLab(t *testing.T) {
	before := stack.Waits
	t.Cleanup(func() { stack.Waits = before })
	fs := flag.NewFlagSet("bench-scale", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := intervals.AddFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := stretchWaits(f, 5); err != nil {
		t.Fatal(err)
	}
	if got, want := stack.Waits.Timeout("wait-labs-ready"), 5*before.Timeout("wait-labs-ready"); got != want {
		t.Errorf("wait-labs-ready: got %v at --scale=5, want %v", got, want)
	}
	for _, name := range before.Names() {
		if name == "wait-labs-ready" {
			continue
		}
		if got, want := stack.Waits.Get(name), before.Get(name); got != want {
			t.Errorf("%s: got %+v at --scale=5, want it unchanged, %+v", name, got, want)
		}
	}
}

func TestThroughAPIFalseNeedsTheGitOpsPath(t *testing.T) {
	err := checkPaths(options{throughAPI: false}, stack.ProviderLocal, false)
	if err == nil || !strings.Contains(err.Error(), "--through-api=false") || !strings.Contains(err.Error(), "--provider="+stack.ProviderKind) {
		t.Errorf("--through-api=false without Argo CD: got %v, want a refusal naming the flag and the provider that has the GitOps path", err)
	}
	for _, o := range []struct {
		api, argo bool
	}{{true, false}, {true, true}, {false, true}} {
		if err := checkPaths(options{throughAPI: o.api}, stack.ProviderKind, o.argo); err != nil {
			t.Errorf("through the API %v, Argo CD %v: got %v, want no error", o.api, o.argo, err)
		}
	}
}
