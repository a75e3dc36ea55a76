package main

import (
	"flag"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
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

func TestScaleMakesThePoolsThatManyTimesOverAndRefusesNoneAtAll(t *testing.T) {
	pools := []fakenodes.Pool{{Name: "h100", Count: 200}, {Name: "a100", Count: 50}, {Name: "one", Count: 1}}
	for _, tt := range []struct {
		scale float64
		want  []int
	}{{1, []int{200, 50, 1}}, {5, []int{1000, 250, 5}}, {0.1, []int{20, 5, 1}}} {
		got, err := scalePools(pools, tt.scale)
		if err != nil {
			t.Fatalf("--scale=%v: %v", tt.scale, err)
		}
		for i, p := range got {
			if p.Name != pools[i].Name || p.Count != tt.want[i] {
				t.Errorf("--scale=%v: pool %d is %s with %d nodes, want %s with %d", tt.scale, i, p.Name, p.Count, pools[i].Name, tt.want[i])
			}
		}
	}
	if pools[0].Count != 200 {
		t.Errorf("scalePools changed the pools it was given: %d nodes", pools[0].Count)
	}
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := scalePools(pools, bad); err == nil || !strings.Contains(err.Error(), "--scale=") || !strings.Contains(err.Error(), "above 0") {
			t.Errorf("--scale=%v: got %v, want a refusal naming --scale and what it takes", bad, err)
		}
	}
}
