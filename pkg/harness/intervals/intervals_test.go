package intervals_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labkit-dev/labkit/pkg/harness/intervals"
)

var table = intervals.Table{
	"wait-lab-ready": {Timeout: 3 * time.Minute, Poll: time.Second},
	"wait-gone":      {Timeout: 2 * time.Minute, Poll: 500 * time.Millisecond},
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	t.Parallel()
	calls := 0
	err := intervals.Table{"wait-x": {Timeout: time.Minute, Poll: time.Millisecond}}.Until(t.Context(), "wait-x", func(context.Context) (string, error) {
		if calls++; calls < 3 {
			return "not yet", nil
		}
		return "", nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Until() = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestUntilNamesTheWaitAndWhatItLastSaw(t *testing.T) {
	t.Parallel()
	n := 0
	err := intervals.Table{"wait-x": {Timeout: 50 * time.Millisecond, Poll: time.Millisecond}}.Until(t.Context(), "wait-x", func(context.Context) (string, error) {
		n++
		return "phase Pending", nil
	})
	if err == nil || !strings.Contains(err.Error(), "wait-x: still not done after 50ms: phase Pending") {
		t.Fatalf("Until() = %v, want the wait's name, its timeout and the last unmet state", err)
	}
	// A look in flight when the timeout passes is not cut short by it: its requests get the caller's
	// context, bounded by MaxLook, so that it reports what it saw rather than "would exceed context
	// deadline".
	start := time.Now()
	err = intervals.Table{"wait-x": {Timeout: 50 * time.Millisecond, Poll: time.Millisecond}}.Until(t.Context(), "wait-x", func(ctx context.Context) (string, error) {
		if deadline, ok := ctx.Deadline(); !ok || deadline.Before(start.Add(intervals.MaxLook)) {
			t.Errorf("a look's context ends at %v (%v), want MaxLook after the wait began, not its 50ms timeout", deadline, ok)
		}
		return "phase Pending", nil
	})
	if err == nil || !strings.HasSuffix(err.Error(), ": phase Pending") {
		t.Errorf("Until() = %v, want what its last look saw", err)
	}
	boom := errors.New("boom")
	if err := (intervals.Table{"wait-x": {Timeout: time.Minute, Poll: time.Millisecond}}).Until(t.Context(), "wait-x", func(context.Context) (string, error) {
		return "", boom
	}); !errors.Is(err, boom) {
		t.Errorf("Until() with a failing condition = %v, want its error", err)
	}
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("interrupted by Ctrl-C"))
	if err := table.Until(ctx, "wait-gone", func(context.Context) (string, error) { return "still there", nil }); err == nil ||
		!strings.Contains(err.Error(), "interrupted by Ctrl-C") {
		t.Errorf("Until() on a cancelled context = %v, want the cause", err)
	}
}

func TestGetOfAnUnknownNamePanicsWithTheNames(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "wait-gone, wait-lab-ready") {
			t.Errorf("recover() = %v, want the table's names", r)
		}
	}()
	table.Get("wait-lab-raedy")
}

func TestScaleStretchesEveryTimeoutAndNoPoll(t *testing.T) {
	t.Parallel()
	scaled, err := table.Scale(2.5)
	if err != nil {
		t.Fatal(err)
	}
	if got := scaled.Get("wait-lab-ready"); got.Timeout != 450*time.Second || got.Poll != time.Second {
		t.Errorf("scaled wait-lab-ready = %+v, want 7m30s polled every 1s", got)
	}
	if table.Timeout("wait-lab-ready") != 3*time.Minute {
		t.Error("Scale changed the table it was called on")
	}
	if _, err := table.Scale(0); err == nil || !strings.Contains(err.Error(), "positive factor") {
		t.Errorf("Scale(0) = %v, want it refused", err)
	}
}

func TestLoadOverridesNamedIntervalsAndRefusesUnknownOnes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("wait-lab-ready: [\"10m\", \"2s\"]\nwait-gone: [\"5m\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := table.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if iv := got.Get("wait-lab-ready"); iv.Timeout != 10*time.Minute || iv.Poll != 2*time.Second {
		t.Errorf("wait-lab-ready = %+v, want 10m every 2s", iv)
	}
	if iv := got.Get("wait-gone"); iv.Timeout != 5*time.Minute || iv.Poll != 500*time.Millisecond {
		t.Errorf("wait-gone = %+v, want 5m, polled as before", iv)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("wait-lab-raedy: [\"10m\"]\nwait-gone: [\"soon\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = table.Load(bad)
	for _, want := range []string{"wait-lab-raedy: no wait of that name; there are wait-gone, wait-lab-ready", `wait-gone: "soon" is not a positive duration`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(bad) = %v, want it to say %q", err, want)
		}
	}
}
