package controller

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// Activity is what a lab's Jupyter server says of its use.
type Activity struct {
	// LastActivity is the server's last_activity: the newest API request of a person, kernel message or
	// terminal use.
	LastActivity time.Time
	// Busy is true while a kernel runs code: a long cell in a notebook nobody watches is work, even if it
	// prints nothing.
	Busy bool
}

// ActivityReader reads a lab's activity from its Jupyter server, running in pod, with a token the
// server accepts.
type ActivityReader interface {
	Read(ctx context.Context, lab *labkitv1alpha1.JupyterLab, pod *corev1.Pod, token string) (Activity, error)
}

// JupyterActivity reads activity through Jupyter's own REST API: /api/status (which does not count as
// activity itself) and /api/kernels?no_track_activity=1 (each kernel's execution_state). Both the
// Jupyter Server and the classic Notebook server answer them.
type JupyterActivity struct {
	// Client makes the requests; a client with a 10 s timeout when nil.
	Client *http.Client
	// BaseURL is where a lab's server answers; when nil, the pod's own address (PodURL), or the
	// in-cluster URL (InternalURL) of a pod that has none yet.
	BaseURL func(lab *labkitv1alpha1.JupyterLab) string
}

// PodURL is the address of the Jupyter server in pod, by the pod's IP; "" when the pod has none.
//
// The controller reads a lab's activity there rather than through its Service: the pod is the one
// whose readiness it judged, and its IP answers as soon as the kubelet's probe does, where the
// Service's address needs the endpoints and every node's service proxy to have caught up (until then
// it refuses the connection), and a name lookup.
func PodURL(pod *corev1.Pod) string {
	if pod == nil || pod.Status.PodIP == "" {
		return ""
	}
	return "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(JupyterPort)) + "/"
}

// Read implements ActivityReader.
func (j JupyterActivity) Read(ctx context.Context, lab *labkitv1alpha1.JupyterLab, pod *corev1.Pod, token string) (Activity, error) {
	c := j.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	base := cmp.Or(PodURL(pod), InternalURL(lab))
	if j.BaseURL != nil {
		base = j.BaseURL(lab)
	}
	base = strings.TrimSuffix(base, "/")
	var status struct {
		LastActivity time.Time `json:"last_activity"`
	}
	if err := getJSON(ctx, c, base+"/api/status", token, &status); err != nil {
		return Activity{}, err
	}
	var kernels []struct {
		ExecutionState string    `json:"execution_state"`
		LastActivity   time.Time `json:"last_activity"`
	}
	if err := getJSON(ctx, c, base+"/api/kernels?no_track_activity=1", token, &kernels); err != nil {
		return Activity{}, err
	}
	a := Activity{LastActivity: status.LastActivity}
	for _, k := range kernels {
		a.Busy = a.Busy || k.ExecutionState == "busy" || k.ExecutionState == "starting"
		if k.LastActivity.After(a.LastActivity) {
			a.LastActivity = k.LastActivity
		}
	}
	return a, nil
}

func getJSON(ctx context.Context, c *http.Client, url, token string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "token "+token)
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("read the Jupyter server's activity: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the Jupyter server's activity: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("read the Jupyter server's activity: GET %s: %s", url, res.Status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("read the Jupyter server's activity: GET %s: %w", url, err)
	}
	return nil
}

// IdleReportAfter is how long a lab must be idle before status.idleSince says so: a short pause is no news.
const IdleReportAfter = 5 * time.Minute

// idleTimeout is the lab's own idle timeout, else the settings'; 0: never.
func idleTimeout(lab *labkitv1alpha1.JupyterLab, s CullingSettings) time.Duration {
	if lab.Spec.IdleTimeout != nil {
		return lab.Spec.IdleTimeout.Duration
	}
	return s.IdleTimeout
}

// idleFor says for how long a lab has been idle at now, given what its server said; 0 when busy.
func (a Activity) idleFor(now time.Time) time.Duration {
	if a.Busy || a.LastActivity.IsZero() {
		return 0
	}
	return max(0, now.Sub(a.LastActivity))
}

// reportIdleAfter is when idleness shows in the status: IdleReportAfter, or half the timeout when
// that is shorter.
func reportIdleAfter(timeout time.Duration) time.Duration {
	return min(IdleReportAfter, timeout/2)
}
