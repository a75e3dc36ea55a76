//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/catalog"
	"github.com/labkit-dev/labkit/pkg/controller"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/labstatus"
	"github.com/labkit-dev/labkit/pkg/portforward"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// The settings and the lab files of these features.
const (
	cullingCheckPeriod = "5s"
	cullingIdleTimeout = "20s"
	theFileInTheLab    = "work/kept.txt"
	theFilesContent    = "written before the lab was stopped\n"
	t4                 = "Tesla-T4"
	t4sOfTheT4Worker   = 2
)

func TestGiveGPUsBack(t *testing.T) {
	pause := features.New("A lab stopped through Git gives its GPUs back, and started again comes back with its files").
		WithLabel(labelNeeds, needsContainers). // Argo CD, Jupyter
		Setup(inNamespace("pause")).
		Assess("labctl create --wait a lab with both T4s", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ctx = withLab(ctx, namespace(ctx), "pause")
			password := randomPassword(t)
			out, err := runLabctl(ctx, t, password+"\n", "create", "pause", "-n", namespace(ctx), "--owner", "ada",
				"--gpu", fmt.Sprintf("%s:%d", t4, t4sOfTheT4Worker), "--cpu", "250m", "--memory", "512Mi", "--storage", "1Gi",
				"--password-stdin", "--wait", "--timeout", timeout("wait-labctl").String())
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			return context.WithValue(ctx, passwordKey{}, password)
		}).
		Assess("a file is written in the lab's work folder", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			putFile(ctx, t, theFileInTheLab, theFilesContent)
			return ctx
		}).
		Assess("labctl stop --wait frees the GPUs, Argo CD stays Synced and calls the lab Suspended", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			out, err := runLabctl(ctx, t, "", "stop", "pause", "-n", namespace(ctx), "--wait", "--timeout", timeout("wait-lab-stopped").String())
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if free := freeGPUs(ctx, t, t4); free != t4sOfTheT4Worker {
				t.Errorf("the catalog shows %d %s free while the lab is stopped, want %d", free, t4, t4sOfTheT4Worker)
			}
			waitForApp(ctx, t, "the stopped lab's Application Synced and Suspended", func(a *argocd.Application) string {
				if a.Status.Sync.Status != argocd.SyncStatusSynced || a.Status.Health.Status != argocd.HealthStatusSuspended {
					return fmt.Sprintf("%s/%s", a.Status.Sync.Status, a.Status.Health.Status)
				}
				return ""
			})
			return ctx
		}).
		Assess("while it is stopped another lab takes its GPUs, and labctl start --wait says the scheduler's reason", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := from(ctx)
			req := generator.Request{Name: "thief", Namespace: namespace(ctx), Owner: "bob", GPU: fmt.Sprintf("%s:%d", t4, t4sOfTheT4Worker),
				CPU: "250m", Memory: "512Mi", Storage: "1Gi", PasswordHash: mustHash(t)}
			l, err := generator.Build(req.WithDefaults(generator.Defaults), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.client.Create(ctx, l); err != nil {
				t.Fatal(err)
			}
			waitForLab(ctx, t, l, "the other lab Ready on the freed GPUs", func(l *labkitv1alpha1.JupyterLab) bool { return l.Status.Phase == labkitv1alpha1.PhaseReady })

			out, err := runLabctl(ctx, t, "", "start", "pause", "-n", namespace(ctx), "--wait", "--timeout", timeout("wait-labctl").String())
			if !errors.Is(err, labstatus.ErrUnschedulable) || !strings.Contains(err.Error(), "Insufficient nvidia.com/gpu") {
				t.Fatalf("labctl start --wait while the GPUs are taken = %v, want the scheduler's reason\n%s", err, out)
			}
			t.Logf("labctl start --wait said: %v", err)
			if err := s.client.Delete(ctx, l); err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Assess("once the GPUs are free again the lab runs, on the same volume, with the file", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			waitForLab(ctx, t, lab(ctx), "the started lab Ready", func(l *labkitv1alpha1.JupyterLab) bool { return l.Status.Phase == labkitv1alpha1.PhaseReady })
			if got := getFile(ctx, t, theFileInTheLab); got != theFilesContent {
				t.Errorf("after stop and start %s holds %q, want %q", theFileInTheLab, got, theFilesContent)
			}
			return ctx
		}).
		Teardown(removeLab()).
		Teardown(deleteNamespace()).
		Feature()

	culling := features.New("A lab with no activity for its idle timeout is stopped and stays stopped through Argo CD's reconciliations; one running a long cell is not").
		WithLabel(labelNeeds, needsContainers).
		Setup(inNamespace("idle")).
		Setup(cullingEvery(cullingCheckPeriod)).
		Assess("a lab runs a long silent cell with no browser left, another sits idle; the idle one is stopped", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			needBrowser(t) // before any lab is made: the busy one's cell runs in a browser
			ns := namespace(ctx)
			password := randomPassword(t)
			ctx = context.WithValue(ctx, passwordKey{}, password)
			// The idle lab first, not waited for: it starts while the busy one does, and is waited
			// for below, stopped.
			for _, name := range []string{"idle", "busy"} {
				ctx = withLab(ctx, ns, name)
				args := []string{"create", name, "-n", ns, "--owner", "ada", "--cpu", "250m", "--memory", "512Mi",
					"--storage", "1Gi", "--env", "DOCKER_STACKS_JUPYTER_CMD=notebook", "--idle-timeout", cullingIdleTimeout, "--password-stdin"}
				if name == "busy" {
					args = append(args, "--wait", "--timeout", timeout("wait-labctl").String())
				}
				out, err := runLabctl(ctx, t, password+"\n", args...)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if name == "busy" {
					// Its cell prints once, then works silently for longer than the test; the browser goes.
					b := startBrowser(ctx, t)
					j, err := b.OpenJupyter(ctx, labURLOf(ns, name), password)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := j.StartInNewNotebook(ctx, "print('started', flush=True)\nimport time\ntime.sleep(3600)"); err != nil {
						t.Fatal(err)
					}
					if err := b.Close(); err != nil {
						t.Fatal(err)
					}
				}
			}
			idle := labNamed(ns, "idle")
			waitForLab(ctx, t, idle, "the idle lab Stopped for being idle", func(l *labkitv1alpha1.JupyterLab) bool {
				return l.Status.Stopped != nil && l.Status.Stopped.Reason == labkitv1alpha1.ReasonIdle
			})
			ready := meta.FindStatusCondition(idle.Status.Conditions, labkitv1alpha1.ConditionReady)
			t.Logf("idle lab: %s", ready.Message)
			return context.WithValue(ctx, culledKey{}, true)
		}).
		Assess("through three more Argo CD reconciliations the idle lab stays stopped and its Application Synced, and the busy one runs", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if ctx.Value(culledKey{}) == nil {
				t.Skip("the step before did not get to stop the idle lab (it was skipped or failed): nothing to watch")
			}
			ns := namespace(ctx)
			app := generator.AppName(ns, "idle")
			watchReconciliations(ctx, t, 3, func(a *argocd.Application) {
				if a.Status.Sync.Status != argocd.SyncStatusSynced {
					t.Errorf("the culled lab's Application is %s, want Synced: culling must not fight Argo CD", a.Status.Sync.Status)
				}
			}, app)
			for name, want := range map[string]labkitv1alpha1.Phase{"idle": labkitv1alpha1.PhaseStopped, "busy": labkitv1alpha1.PhaseReady} {
				l := labNamed(ns, name)
				if err := from(ctx).client.Get(ctx, client.ObjectKeyFromObject(l), l); err != nil {
					t.Fatal(err)
				}
				if l.Status.Phase != want {
					t.Errorf("lab %s is %s (stopped %+v), want %s", name, l.Status.Phase, l.Status.Stopped, want)
				}
			}
			return ctx
		}).
		Assess("labctl start brings the culled lab back", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if ctx.Value(culledKey{}) == nil {
				t.Skip("the first step did not get to make and stop the idle lab (it was skipped or failed): nothing to start")
			}
			out, err := runLabctl(ctx, t, "", "start", "idle", "-n", namespace(ctx), "--wait", "--timeout", timeout("wait-labctl").String())
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			return ctx
		}).
		Teardown(removeLabs("busy", "idle")).
		Teardown(deleteNamespace()).
		Feature()

	expiry := features.New("A lab asked for a short while stops when it expires").
		WithLabel(labelNeeds, needsContainers).
		Setup(inNamespace("expiry")).
		Assess("labctl create --for 45s, and the lab is Stopped with reason Expired at that time, through Argo CD", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			ctx = withLab(ctx, ns, "brief")
			// No --wait: on a loaded machine the lab may well expire before it is Ready, and
			// labctl create --wait then rightly ends saying so. The expiry is what is tested.
			out, err := runLabctl(ctx, t, "pw\n", "create", "brief", "-n", ns, "--owner", "ada", "--cpu", "250m", "--memory", "512Mi",
				"--storage", "1Gi", "--for", "45s", "--password-stdin")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			refreshRoot(ctx, t)
			l := labNamed(ns, "brief")
			waitForLab(ctx, t, l, "the lab Expired", func(l *labkitv1alpha1.JupyterLab) bool {
				return l.Status.Stopped != nil && l.Status.Stopped.Reason == labkitv1alpha1.ReasonExpired
			})
			if !l.Status.Stopped.Since.Time.Equal(l.Spec.ExpiresAt.Time) {
				t.Errorf("stopped since %s, want at the expiry %s", l.Status.Stopped.Since, l.Spec.ExpiresAt)
			}
			return ctx
		}).
		Teardown(removeLab()).
		Teardown(deleteNamespace()).
		Feature()

	testParallel(t, pause, culling, expiry)
}

func labNamed(ns, name string) *labkitv1alpha1.JupyterLab {
	l := &labkitv1alpha1.JupyterLab{}
	l.Namespace, l.Name = ns, name
	return l
}

func labURLOf(ns, name string) string {
	return fmt.Sprintf("http://%s.%s.localhost:38080/", name, ns)
}

func mustHash(t *testing.T) string {
	h, err := generator.HashPassword([]byte(randomPassword(t)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// cullingEvery makes the controller read watched labs' activity every period, for this feature.
func cullingEvery(period string) features.Func {
	const manager = "e2e-culling"
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		doc := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {%s: %q}\n",
			controller.DefaultSettings.Name, controller.DefaultSettings.Namespace, controller.SettingCullingCheckPeriod, period)
		if _, err := apply.Apply(ctx, from(ctx).client, []byte(doc), apply.WithFieldOwner(manager)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// Applying none of the key as the same manager removes it.
			empty := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\n",
				controller.DefaultSettings.Name, controller.DefaultSettings.Namespace)
			if _, err := apply.Apply(context.Background(), from(ctx).client, []byte(empty), apply.WithFieldOwner(manager)); err != nil {
				t.Error(err)
			}
		})
		return ctx
	}
}

// removeLabs withdraws the feature's labs through Git, as removeLab does for one.
func removeLabs(names ...string) features.Func {
	return func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
		for _, name := range names {
			removeLab()(withLab(ctx, namespace(ctx), name), t, cfg)
		}
		return ctx
	}
}

// waitForLab waits (wait-lab-stopped) until the lab l is as ok says; what names that state.
func waitForLab(ctx context.Context, t *testing.T, l *labkitv1alpha1.JupyterLab, what string, ok func(*labkitv1alpha1.JupyterLab) bool) {
	t.Helper()
	waitForLabWith(ctx, t, "wait-lab-stopped", l, what, ok)
}

// waitForLabWith is waitForLab with the named wait given.
func waitForLabWith(ctx context.Context, t *testing.T, wait string, l *labkitv1alpha1.JupyterLab, what string, ok func(*labkitv1alpha1.JupyterLab) bool) {
	t.Helper()
	err := stack.Waits.Until(ctx, wait, func(ctx context.Context) (string, error) {
		if err := from(ctx).client.Get(ctx, client.ObjectKeyFromObject(l), l); err != nil {
			return err.Error(), nil // a hiccup of the API server: look again
		}
		if ok(l) {
			return "", nil
		}
		return fmt.Sprintf("%s: phase %s, stopped %+v", what, l.Status.Phase, l.Status.Stopped), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func waitForApp(ctx context.Context, t *testing.T, what string, unmet func(*argocd.Application) string) {
	t.Helper()
	waitForAppNamed(ctx, t, generator.AppName(lab(ctx).Namespace, lab(ctx).Name), what, unmet)
}

func waitForAppNamed(ctx context.Context, t *testing.T, name, what string, unmet func(*argocd.Application) string) {
	t.Helper()
	err := stack.Waits.Until(ctx, "wait-app-reconciled", func(ctx context.Context) (string, error) {
		a, err := argocd.Get(ctx, from(ctx).client, "argocd", name)
		if err != nil {
			return err.Error(), nil // not made yet, or a hiccup: look again
		}
		if u := unmet(a); u != "" {
			return what + ": " + u, nil
		}
		return "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// watchReconciliations waits until Argo CD has compared each Application of apps with Git n more times
// after the suite first saw it, all of them at once, and calls each with an Application at each
// comparison seen (its status.reconciledAt changed).
func watchReconciliations(ctx context.Context, t *testing.T, n int, each func(*argocd.Application), apps ...string) {
	t.Helper()
	seen := make(map[string][]time.Time, len(apps))
	err := stack.Waits.Until(ctx, "wait-app-reconciled", func(ctx context.Context) (string, error) {
		var unmet []string
		for _, name := range apps {
			a, err := argocd.Get(ctx, from(ctx).client, stack.ArgoCDNamespace, name)
			if err != nil {
				unmet = append(unmet, err.Error()) // not made yet, or a hiccup: look again
				continue
			}
			if at := a.Status.ReconciledAt; at != nil && (len(seen[name]) == 0 || !at.Time.Equal(seen[name][len(seen[name])-1])) {
				seen[name] = append(seen[name], at.Time)
				each(a)
			}
			if got := len(seen[name]) - 1; got < n {
				unmet = append(unmet, fmt.Sprintf("%s: %d of %d reconciliations seen", name, max(got, 0), n))
			}
		}
		return strings.Join(unmet, "; "), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// freeGPUs is how many GPUs of product the cluster's nodes have free now.
func freeGPUs(ctx context.Context, t *testing.T, product string) int64 {
	t.Helper()
	cat, err := catalog.FromCluster(ctx, from(ctx).client)
	if err != nil {
		t.Fatal(err)
	}
	var free int64
	for _, n := range cat.Nodes {
		if n.GPU.Product == product {
			free += n.Free.GPUs
		}
	}
	return free
}

// jupyterSession logs in to the feature's lab through a port-forward to its Service, and returns the
// base URL and a client that carries the login cookie and the XSRF token.
func jupyterSession(ctx context.Context, t *testing.T) (string, *http.Client, string) {
	t.Helper()
	l := lab(ctx)
	fwdCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	fwd, err := portforward.ForwardService(fwdCtx, from(ctx).cfg, l.Namespace, l.Name, 8888)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + fwd.Address
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, err := c.Get(base + "/login") // sets the _xsrf cookie
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	u, _ := url.Parse(base)
	xsrf := ""
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "_xsrf" {
			xsrf = ck.Value
		}
	}
	form := url.Values{"password": {ctx.Value(passwordKey{}).(string)}, "_xsrf": {xsrf}}
	res, err = c.PostForm(base+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = c.Get(base + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("logged in to the lab, /api/status answers %s", res.Status)
	}
	return base, c, xsrf
}

func putFile(ctx context.Context, t *testing.T, path, content string) {
	t.Helper()
	base, c, xsrf := jupyterSession(ctx, t)
	body, _ := json.Marshal(map[string]string{"type": "file", "format": "text", "content": content})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/api/contents/"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-XSRFToken", xsrf)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		out, _ := io.ReadAll(res.Body)
		t.Fatalf("PUT /api/contents/%s: %s %s", path, res.Status, out)
	}
}

func getFile(ctx context.Context, t *testing.T, path string) string {
	t.Helper()
	base, c, _ := jupyterSession(ctx, t)
	res, err := c.Get(base + "/api/contents/" + path + "?type=file&format=text")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var model struct {
		Content string `json:"content"`
	}
	if err := json.NewDecoder(res.Body).Decode(&model); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/contents/%s: %s %v", path, res.Status, err)
	}
	return model.Content
}

// culledKey marks in the culling feature's context that its idle lab was stopped.
type culledKey struct{}
