package labkitcontroller

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLeaseTimingsAreCheckedAsLeaderElectionNeedsThem(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name  string
		lease lease
		want  []string // in the error, in order; none: accepted
	}{
		{name: "controller-runtime's defaults", lease: lease{DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod}},
		{name: "a short lease", lease: lease{4 * s, 3 * s, s}},
		{name: "the shortest lease", lease: lease{2 * s, 1300 * time.Millisecond, s}},
		{name: "no lease duration", lease: lease{0, 10 * s, 2 * s}, want: []string{"--leader-elect-lease-duration=0s", "greater than 0", "e.g. 15s"}},
		{name: "a negative renew deadline", lease: lease{15 * s, -s, 2 * s}, want: []string{"--leader-elect-renew-deadline=-1s", "greater than 0", "e.g. 10s"}},
		{name: "no retry period", lease: lease{15 * s, 10 * s, 0}, want: []string{"--leader-elect-retry-period=0s", "greater than 0", "e.g. 2s"}},
		{name: "a lease of part of a second", lease: lease{4500 * time.Millisecond, 3 * s, s}, want: []string{"--leader-elect-lease-duration=4.5s", "whole number of seconds", "e.g. 5s"}},
		{name: "a lease under a second", lease: lease{500 * time.Millisecond, 300 * time.Millisecond, 100 * time.Millisecond}, want: []string{"--leader-elect-lease-duration=500ms", "whole number of seconds", "e.g. 1s"}},
		{name: "renew deadline as long as the lease", lease: lease{10 * s, 10 * s, 2 * s}, want: []string{"--leader-elect-renew-deadline=10s must be less than --leader-elect-lease-duration=10s"}},
		{name: "renew deadline longer than the lease", lease: lease{4 * s, 10 * s, s}, want: []string{"--leader-elect-renew-deadline=10s must be less than --leader-elect-lease-duration=4s"}},
		{name: "retry period as long as the renew deadline", lease: lease{15 * s, 2 * s, 2 * s}, want: []string{"--leader-elect-renew-deadline=2s must be more than 1.2 times --leader-elect-retry-period=2s", "more than 2.4s"}},
		{name: "retry period longer than the renew deadline", lease: lease{15 * s, 10 * s, 20 * s}, want: []string{"--leader-elect-renew-deadline=10s must be more than 1.2 times --leader-elect-retry-period=20s"}},
		{name: "renew deadline just 1.2 retry periods", lease: lease{15 * s, 1200 * time.Millisecond, s}, want: []string{"more than 1.2s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.lease.check()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("%+v refused: %v", tc.lease, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%+v accepted, want an error saying %q", tc.lease, tc.want)
			}
			rest := err.Error()
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q does not say %q (in that order: %q)", err, w, tc.want)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// The command refuses bad timings before it reaches for a cluster, and its defaults are accepted.
func TestLeaseFlagsAreRefusedBeforeTheClusterIsReached(t *testing.T) {
	if err := runToCluster("--leader-elect"); !errors.Is(err, errReached) {
		t.Errorf("with the default timings: %v, want the cluster reached", err)
	}
	if err := runToCluster("--leader-elect", "--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s"); !errors.Is(err, errReached) {
		t.Errorf("with a short lease: %v, want the cluster reached", err)
	}
	err := runToCluster("--leader-elect", "--leader-elect-lease-duration=4s")
	if err == nil || errors.Is(err, errReached) || !strings.Contains(err.Error(), "--leader-elect-renew-deadline=10s must be less than --leader-elect-lease-duration=4s") {
		t.Errorf("a lease shorter than the default renew deadline: %v, want it refused naming both flags", err)
	}
	if err := runToCluster("--leader-elect-retry-period=soon"); err == nil || !strings.Contains(err.Error(), "leader-elect-retry-period") {
		t.Errorf("a retry period that is no duration: %v, want it refused naming the flag", err)
	}
}
