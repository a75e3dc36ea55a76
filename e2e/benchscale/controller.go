package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/labkit-dev/labkit/pkg/harness/localproc"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// controller is labkit-controller under measurement: its Prometheus metrics, and, where it runs on
// this machine, its process.
type controller struct {
	get  func(ctx context.Context) (io.ReadCloser, error) // GET /metrics
	p    *localproc.Process                               // on this machine: RSS, peak RSS and CPU from /proc
	stop func() error

	mu   sync.Mutex
	peak float64 // in the cluster: the highest RSS the sampler saw
}

// measure is the controller the cluster runs, once its metrics answer. Where /proc cannot be read (a
// controller in the cluster), its RSS is sampled from its metrics every second, for the peak.
func measure(ctx context.Context, cluster stack.Cluster) (*controller, error) {
	sc, err := cluster.Controller(ctx)
	if err != nil {
		return nil, err
	}
	ctrl := &controller{get: sc.Metrics, p: sc.Process, stop: func() error { return nil }}
	if ctrl.p == nil {
		sampling, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = wait.PollUntilContextCancel(sampling, time.Second, true, func(ctx context.Context) (bool, error) {
				if s, err := ctrl.scrape(ctx); err == nil {
					ctrl.mu.Lock()
					ctrl.peak = max(ctrl.peak, s.rss)
					ctrl.mu.Unlock()
				}
				return false, nil
			})
		}()
		ctrl.stop = func() error { cancel(); <-done; return nil }
	}
	if _, err := ctrl.scrape(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("labkit-controller, %s: its metrics: %w", sc.Where, err), ctrl.stop())
	}
	fmt.Printf("bench-scale: labkit-controller runs as %s\n", sc.Where)
	return ctrl, nil
}

// sample is the controller's figures at one moment.
type sample struct {
	usage      localproc.Usage
	reconciles float64
	requests   requestCounts
	rss, cpu   float64 // process_resident_memory_bytes, process_cpu_seconds_total
	heap       float64 // go_memstats_heap_inuse_bytes: the Go heap's share of the RSS
}

// requestCounts counts the controller's API requests by HTTP method.
type requestCounts map[string]float64

func (r requestCounts) total() float64 {
	var t float64
	for _, v := range r {
		t += v
	}
	return t
}

func (r requestCounts) minus(o requestCounts) requestCounts {
	d := requestCounts{}
	for k, v := range r {
		d[k] = v - o[k]
	}
	return d
}

func (r requestCounts) perLab(n float64) string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, r[k]/n))
	}
	return strings.Join(parts, ", ")
}

func (c *controller) sample(ctx context.Context) (sample, error) {
	s, err := c.scrape(ctx)
	if err != nil {
		return s, err
	}
	if c.p != nil {
		s.usage, err = c.p.Usage()
		return s, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peak = max(c.peak, s.rss)
	s.usage = localproc.Usage{RSS: int64(s.rss), PeakRSS: int64(c.peak), CPU: time.Duration(s.cpu * float64(time.Second))}
	return s, nil
}

// peakNote says how the peak RSS was found.
func (c *controller) peakNote() string {
	if c.p != nil {
		return "VmHWM"
	}
	return "highest of samples each second"
}

// scrape reads the reconcile and API request counters, RSS and CPU from the controller's metrics.
func (c *controller) scrape(ctx context.Context) (sample, error) {
	s := sample{requests: requestCounts{}}
	body, err := c.get(ctx)
	if err != nil {
		return s, err
	}
	defer body.Close()
	return s, parseMetrics(body, &s)
}

// parseMetrics reads a Prometheus text exposition into s.
func parseMetrics(r io.Reader, s *sample) error {
	m, err := stack.ParseMetrics(r)
	if err != nil {
		return err
	}
	s.reconciles += m.Sum("controller_runtime_reconcile_total", "controller", "jupyterlab")
	for _, series := range m["rest_client_requests_total"].GetMetric() {
		s.requests[stack.LabelValue(series, "method")] += stack.Value(series)
	}
	s.rss = m.Sum("process_resident_memory_bytes")
	s.heap = m.Sum("go_memstats_heap_inuse_bytes")
	s.cpu = m.Sum("process_cpu_seconds_total")
	return nil
}
