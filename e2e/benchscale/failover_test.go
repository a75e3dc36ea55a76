package main

import (
	"strings"
	"testing"
	"time"
)

func TestLeasesFlagReadsLeaseRenewRetry(t *testing.T) {
	var l leaseList
	if err := l.Set("15s/10s/2s, 4s/3s/1s"); err != nil {
		t.Fatal(err)
	}
	want := leaseList{{15 * time.Second, 10 * time.Second, 2 * time.Second}, {4 * time.Second, 3 * time.Second, time.Second}}
	if len(l) != len(want) || l[0] != want[0] || l[1] != want[1] {
		t.Fatalf("got %v, want %v", l, want)
	}
	if got := l.String(); got != "15s/10s/2s,4s/3s/1s" {
		t.Errorf("String() = %q", got)
	}
	if got := strings.Join(l[1].args(), " "); !strings.Contains(got, "--leader-elect-lease-duration=4s --leader-elect-renew-deadline=3s --leader-elect-retry-period=1s") {
		t.Errorf("args %q", got)
	}
	if got := l[0].soon(time.Second); got != 18*time.Second {
		t.Errorf("lease + retry of the defaults with 1s slack = %s, want 18s", got)
	}
	// client-go's jitter: a try up to 2.2 retry periods after the one before, twice.
	if got := l[1].bound(time.Second); got != 9400*time.Millisecond {
		t.Errorf("worst case of 4s/3s/1s with 1s slack = %s, want 4s + 4.4s + 1s", got)
	}
	for _, bad := range []string{"15s/10s", "15s/10s/2s/1s", "15s/ten/2s", "15s/10s/0s", "", "15s/10s/2s,"} {
		if err := l.Set(bad); err == nil || !strings.Contains(err.Error(), "LEASE/RENEW/RETRY") {
			t.Errorf("Set(%q) = %v, want it refused saying what to give", bad, err)
		}
	}
}
