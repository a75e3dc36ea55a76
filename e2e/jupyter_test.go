//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/labkit-dev/labkit/pkg/harness/assert"
	"github.com/labkit-dev/labkit/pkg/portforward"
)

func TestJupyter(t *testing.T) {
	serves := features.New("The lab really serves Jupyter: through its Service /api gives the server's version, and the API refuses requests without the password").
		WithLabel(labelNeeds, needsContainers).
		Setup(inNamespace("jupyter")).
		Setup(requestLab("requests/lab-cpu.yaml")).
		Assess("Argo CD syncs the lab and finds it Healthy", appSynced()).
		Assess("a pod asking the Service for /api gets the server's version", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			out := fetchInCluster(ctx, t, "/api", corev1.PodSucceeded)
			if !strings.Contains(out, `"version"`) {
				t.Errorf("GET /api through the Service answered %q, want the server's version", out)
			}
			return ctx
		}).
		Assess("a pod asking the Service for /api/status without the password is refused", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if out := fetchInCluster(ctx, t, "/api/status", corev1.PodFailed); !strings.Contains(out, "403") {
				t.Errorf("GET /api/status without credentials answered %q, want 403 Forbidden", out)
			}
			return ctx
		}).
		Assess("the password labctl hashed logs in, and then /api/status answers", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			pod := labPod(ctx, t)
			addr, err := portforward.Forward(ctx, from(ctx).cfg, pod.Namespace, pod.Name, 8888)
			if err != nil {
				t.Fatal(err)
			}
			if code := login(ctx, t, "http://"+addr, "not-the-password"); code != http.StatusForbidden {
				t.Errorf("GET /api/status after logging in with a wrong password: %d, want 403", code)
			}
			if code := login(ctx, t, "http://"+addr, ctx.Value(passwordKey{}).(string)); code != http.StatusOK {
				t.Errorf("GET /api/status after logging in with the password: %d, want 200", code)
			}
			return ctx
		}).
		Teardown(removeLab()).
		Teardown(deleteNamespace()).
		Feature()
	testParallel(t, serves)
}

// fetchInCluster runs a busybox pod that GETs path from the lab's Service, waits until the pod ends in
// phase want, and returns what it printed.
func fetchInCluster(ctx context.Context, t *testing.T, path string, want corev1.PodPhase) string {
	t.Helper()
	s, l := from(ctx), lab(ctx)
	url := fmt.Sprintf("http://%s.%s.svc:8888%s", l.Name, l.Namespace, path)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "fetch-", Namespace: l.Namespace},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{
				Name: "fetch", Image: "busybox:1.35", ImagePullPolicy: corev1.PullIfNotPresent,
				// busybox's wget -T crashes; timeout bounds it instead. -S prints the status line on errors.
				Command: []string{"timeout", "30", "wget", "-q", "-S", "-O-", url},
			}},
		},
	}
	if err := s.client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	done := []byte(fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nstatus: {phase: %s}\n", pod.Name, want))
	if err := assert.Object(ctx, s.client, done, assert.WithNamespace(l.Namespace), assert.WithTimeout("wait-lab-ready", timeout("wait-lab-ready"))); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cs.CoreV1().Pods(l.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.client.Delete(ctx, pod); client.IgnoreNotFound(err) != nil {
		t.Error(err)
	}
	return string(out)
}

// login logs in to Jupyter Server at base with password, as its login page does, and returns the
// status of /api/status afterwards.
func login(ctx context.Context, t *testing.T, base, password string) int {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(path string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	get("/login") // sets the _xsrf cookie
	u, _ := url.Parse(base)
	xsrf := ""
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "_xsrf" {
			xsrf = ck.Value
		}
	}
	form := url.Values{"password": {password}, "_xsrf": {xsrf}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return get("/api/status").StatusCode
}
