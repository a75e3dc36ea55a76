package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMetricsReadsCountersAndTheProcessFigures(t *testing.T) {
	const exposition = `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="jupyterlab",result="success"} 40
controller_runtime_reconcile_total{controller="jupyterlab",result="error"} 2
controller_runtime_reconcile_total{controller="other",result="success"} 1000
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="201",host="10.96.0.1:443",method="POST"} 12
rest_client_requests_total{code="409",host="10.96.0.1:443",method="POST"} 3
rest_client_requests_total{code="200",host="10.96.0.1:443",method="PATCH"} 7
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 4.25
process_resident_memory_bytes 1.2582912e+08
go_memstats_heap_inuse_bytes 6.7108864e+07
`
	var s sample
	s.requests = requestCounts{}
	if err := parseMetrics(strings.NewReader(exposition), &s); err != nil {
		t.Fatal(err)
	}
	if s.reconciles != 42 {
		t.Errorf("reconciles = %v, want 42 (jupyterlab only, every result)", s.reconciles)
	}
	if s.requests["POST"] != 15 || s.requests["PATCH"] != 7 || s.requests.total() != 22 {
		t.Errorf("requests = %v, want POST 15 and PATCH 7", s.requests)
	}
	if s.cpu != 4.25 || s.rss != 125829120 || s.heap != 67108864 {
		t.Errorf("cpu, rss, heap = %v, %v, %v; want 4.25, 125829120, 67108864", s.cpu, s.rss, s.heap)
	}
}

func TestParseMetricsRefusesAValueThatIsNotANumber(t *testing.T) {
	var s sample
	s.requests = requestCounts{}
	err := parseMetrics(strings.NewReader("# TYPE up gauge\nup 1\nprocess_resident_memory_bytes lots\n"), &s)
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "lots") {
		t.Errorf("parseMetrics() = %v, want an error naming line 3 and its value", err)
	}
}

// A wait stopped before its timeout says how long it waited and why, not that its timeout passed.
func TestReadyWatchStoppedSaysHowLongItWaited(t *testing.T) {
	w := &readyWatch{start: time.Now(), want: 2, done: make(chan struct{}), what: "labs of namespace scale ready",
		ready: map[string]time.Duration{"a": time.Second}}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := w.wait(ctx, "wait-labs-ready")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "wait-labs-ready: 1 of 2 labs of namespace scale ready when stopped after 0s of ") {
		t.Errorf("stopped wait: %v; want how many were ready, how long it waited, and why", err)
	}
}
