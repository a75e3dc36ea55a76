package stack

import (
	"context"
	"fmt"
	"io"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/localproc"
)

// A Controller is the labkit controller a Cluster runs, as a benchmark measures it.
type Controller struct {
	// Metrics GETs the controller's Prometheus metrics.
	Metrics func(ctx context.Context) (io.ReadCloser, error)
	// Process is the controller's process where it runs on this machine (its RSS, peak RSS and CPU
	// are then read from /proc); nil where it runs in the cluster.
	Process *localproc.Process
	// Where says where it runs, for a person: "pid 123 (log /tmp/...)", "pod labkit-system/...".
	Where string
	// Log is the file its log goes to, where it runs on this machine; "" otherwise.
	Log string
}

// metricsAt GETs the metrics of a controller listening on addr (host:port).
func metricsAt(addr string) func(ctx context.Context) (io.ReadCloser, error) {
	url := "http://" + addr + "/metrics"
	return func(ctx context.Context) (io.ReadCloser, error) {
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
	}
}

// inClusterController is the controller the manifests deploy (pkg/manifests/controller): its running
// pod, whose metrics (port 8080) are read through the API server's proxy.
func inClusterController(ctx context.Context, cfg *rest.Config, c client.Client) (*Controller, error) {
	sel, err := labels.Parse(ControllerSelector)
	if err != nil {
		return nil, err
	}
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(ControllerNamespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	var pod string
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			pod = p.Name
		}
	}
	if pod == "" {
		return nil, fmt.Errorf("no running labkit-controller pod in namespace %s (selector %s)", ControllerNamespace, ControllerSelector)
	}
	return ControllerPod(cfg, pod)
}

// ControllerPod is the controller of the manifests running in pod (in ControllerNamespace), such as
// one of the two a rollout runs side by side; its metrics are read through the API server's proxy.
func ControllerPod(cfg *rest.Config, pod string) (*Controller, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Controller{
		Metrics: func(ctx context.Context) (io.ReadCloser, error) {
			return cs.CoreV1().Pods(ControllerNamespace).ProxyGet("http", pod, "8080", "metrics", nil).Stream(ctx)
		},
		Where: "pod " + ControllerNamespace + "/" + pod,
	}, nil
}
