package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/localproc"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// controller is labkit-controller under measurement: its Prometheus metrics, and its process on the
// host (local) or in the cluster (kind).
type controller struct {
	get  func(ctx context.Context) (io.ReadCloser, error) // GET /metrics
	p    *localproc.Process                               // on the host: RSS, peak RSS and CPU from /proc
	stop func() error

	mu   sync.Mutex
	peak float64 // in the cluster: the highest RSS the sampler saw
}

// startController runs the controller on the host with its default flags (those users get) plus
// extra, and waits until its metrics answer.
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
	url := "http://" + addr + "/metrics"
	c := &controller{p: p, get: func(ctx context.Context) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return resp.Body, nil
	}}
	c.stop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := p.Stop(ctx)
		log.Close()
		fmt.Printf("bench-scale: the controller's log is %s\n", log.Name())
		return err
	}
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
		return nil, errors.Join(fmt.Errorf("wait-controller-metrics: %w", err), c.stop())
	}
	fmt.Printf("bench-scale: labkit-controller runs as pid %d, %s; log %s\n", p.Pid(), strings.Join(args, " "), log.Name())
	return c, nil
}

// clusterController is the controller skaffold deployed: its metrics are read through the API server's
// proxy to its pod, and its RSS is sampled from them every second for the peak.
func clusterController(ctx context.Context, cfg *rest.Config, c client.Client) (*controller, error) {
	sel, err := labels.Parse(stack.ControllerSelector)
	if err != nil {
		return nil, err
	}
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(stack.ControllerNamespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	var pod string
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			pod = p.Name
		}
	}
	if pod == "" {
		return nil, fmt.Errorf("no running labkit-controller pod in namespace %s", stack.ControllerNamespace)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctrl := &controller{get: func(ctx context.Context) (io.ReadCloser, error) {
		return cs.CoreV1().Pods(stack.ControllerNamespace).ProxyGet("http", pod, "8080", "metrics", nil).Stream(ctx)
	}}
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
	if _, err := ctrl.scrape(ctx); err != nil {
		ctrl.stop()
		return nil, fmt.Errorf("controller pod %s/%s metrics: %w", stack.ControllerNamespace, pod, err)
	}
	fmt.Printf("bench-scale: labkit-controller runs in pod %s/%s\n", stack.ControllerNamespace, pod)
	return ctrl, nil
}

// sample is the controller's figures at one moment.
type sample struct {
	usage      localproc.Usage
	reconciles float64
	requests   requestCounts
	rss, cpu   float64 // process_resident_memory_bytes, process_cpu_seconds_total
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
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return fmt.Errorf("controller metrics: %w", err)
	}
	for _, m := range families["controller_runtime_reconcile_total"].GetMetric() {
		if labelValue(m, "controller") == "jupyterlab" {
			s.reconciles += value(m)
		}
	}
	for _, m := range families["rest_client_requests_total"].GetMetric() {
		s.requests[labelValue(m, "method")] += value(m)
	}
	for _, m := range families["process_resident_memory_bytes"].GetMetric() {
		s.rss = value(m)
	}
	for _, m := range families["process_cpu_seconds_total"].GetMetric() {
		s.cpu = value(m)
	}
	return nil
}

// value is m's value, whether it is a counter, a gauge or untyped.
func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// labelValue is the value of m's label name, "?" if it has none.
func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return "?"
}
