package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/labkit-dev/labkit/pkg/harness/localproc"
)

// controller is labkit-controller running on the host, with its metrics endpoint.
type controller struct {
	p       *localproc.Process
	log     *os.File
	metrics string
}

// startController runs the controller with its default flags (those users get) plus extra, and waits
// until its metrics answer.
func startController(ctx context.Context, bin, kubeconfig string, extra []string) (*controller, error) {
	addr, err := localproc.FreeAddress()
	if err != nil {
		return nil, err
	}
	log, err := os.CreateTemp("", "labkit-controller-*.log")
	if err != nil {
		return nil, err
	}
	args := append([]string{"--metrics-bind-address=" + addr, "--health-probe-bind-address=0"}, extra...)
	p, err := localproc.Start(ctx, bin, args, []string{"KUBECONFIG=" + kubeconfig}, log)
	if err != nil {
		return nil, err
	}
	c := &controller{p: p, log: log, metrics: "http://" + addr + "/metrics"}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case <-p.Done():
			return false, fmt.Errorf("labkit-controller exited; its log is %s", log.Name())
		default:
		}
		_, err := c.scrape(ctx)
		return err == nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait-controller-metrics: %w", err)
	}
	fmt.Printf("bench-scale: labkit-controller runs as pid %d, %s; log %s\n", p.Pid(), strings.Join(args, " "), log.Name())
	return c, nil
}

func (c *controller) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.p.Stop(ctx)
	c.log.Close()
	fmt.Printf("bench-scale: the controller's log is %s\n", c.log.Name())
	return err
}

// sample is the controller's figures at one moment.
type sample struct {
	usage      localproc.Usage
	reconciles float64
	requests   requestCounts
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
	s.usage, err = c.p.Usage()
	return s, err
}

// scrape reads the reconcile and API request counters from the controller's Prometheus metrics.
func (c *controller) scrape(ctx context.Context) (sample, error) {
	s := sample{requests: requestCounts{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metrics, nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET %s: %s", c.metrics, resp.Status)
	}
	return s, parseMetrics(resp.Body, &s)
}

func parseMetrics(r io.Reader, s *sample) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		switch name {
		case "controller_runtime_reconcile_total":
			if !strings.Contains(labels, `controller="jupyterlab"`) {
				continue
			}
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return fmt.Errorf("metric %q: %w", line, err)
			}
			s.reconciles += v
		case "rest_client_requests_total":
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return fmt.Errorf("metric %q: %w", line, err)
			}
			s.requests[label(labels, "method")] += v
		}
	}
	return sc.Err()
}

// label is the value of one label in a Prometheus label list such as code="200",method="GET".
func label(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return "?"
}
