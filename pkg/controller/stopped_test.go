package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

func waitForReplicas(t *testing.T, ctx context.Context, lab *labkitv1alpha1.JupyterLab, want int32) *appsv1.Deployment {
	t.Helper()
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: lab.Name, Namespace: lab.Namespace}}
	waitForObject(t, ctx, dep, fmt.Sprintf("the Deployment at %d replicas", want), func() string {
		if got := ptr.Deref(dep.Spec.Replicas, -1); got != want {
			return fmt.Sprintf("%d replicas", got)
		}
		return ""
	})
	return dep
}

func waitForPhase(t *testing.T, ctx context.Context, lab *labkitv1alpha1.JupyterLab, phase labkitv1alpha1.Phase) {
	t.Helper()
	waitForObject(t, ctx, lab, "phase "+string(phase), func() string {
		if lab.Status.Phase != phase {
			return fmt.Sprintf("phase %s, stopped %+v", lab.Status.Phase, lab.Status.Stopped)
		}
		return ""
	})
}

func update(t *testing.T, ctx context.Context, lab *labkitv1alpha1.JupyterLab, change func(*labkitv1alpha1.JupyterLab)) {
	t.Helper()
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lab), lab); err != nil {
		t.Fatal(err)
	}
	change(lab)
	if err := env.Client.Update(ctx, lab); err != nil {
		t.Fatal(err)
	}
}

func TestAStoppedLabRunsNoPodAndKeepsItsVolumeAndConfigUntilStarted(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "pause", 1)
	lab.Spec.Stopped = true
	create(t, ctx, lab)

	waitForReplicas(t, ctx, lab, 0)
	waitForPhase(t, ctx, lab, labkitv1alpha1.PhaseStopped)
	if s := lab.Status.Stopped; s == nil || s.Reason != labkitv1alpha1.ReasonStopped || s.Since.IsZero() {
		t.Errorf("status.stopped = %+v, want reason Stopped with a time", s)
	}
	ready := meta.FindStatusCondition(lab.Status.Conditions, labkitv1alpha1.ConditionReady)
	if ready == nil || ready.Reason != labkitv1alpha1.ReasonStopped || !strings.Contains(ready.Message, "labctl start pause starts it again") {
		t.Errorf("Ready = %+v, want reason Stopped saying how to start it", ready)
	}
	for _, obj := range []client.Object{
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "pause-work", Namespace: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pause-jupyter-config", Namespace: ns}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "pause", Namespace: ns}},
	} {
		waitForObject(t, ctx, obj, fmt.Sprintf("the stopped lab's %T", obj), always)
	}

	update(t, ctx, lab, func(l *labkitv1alpha1.JupyterLab) {
		l.Spec.Stopped = false
		l.Spec.StartedAt = &metav1.Time{Time: time.Now().Truncate(time.Second)}
	})
	waitForReplicas(t, ctx, lab, 1)
	waitForObject(t, ctx, lab, "the started lab to say nothing of stopping", func() string {
		if lab.Status.Stopped != nil || lab.Status.Phase == labkitv1alpha1.PhaseStopped {
			return fmt.Sprintf("phase %s, stopped %+v", lab.Status.Phase, lab.Status.Stopped)
		}
		return ""
	})
}

func TestALabStopsWhenItExpires(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "brief", 0)
	expires := time.Now().Add(3 * time.Second).Truncate(time.Second)
	lab.Spec.ExpiresAt = &metav1.Time{Time: expires}
	create(t, ctx, lab)
	waitForReplicas(t, ctx, lab, 1)
	// No other event comes: the controller must look again at the expiry by itself.
	waitForReplicas(t, ctx, lab, 0)
	waitForPhase(t, ctx, lab, labkitv1alpha1.PhaseStopped)
	if s := lab.Status.Stopped; s.Reason != labkitv1alpha1.ReasonExpired || !s.Since.Time.Equal(expires) {
		t.Errorf("status.stopped = %+v, want Expired since %s", s, expires)
	}
	if time.Now().Before(expires) {
		t.Errorf("stopped before it expired at %s", expires)
	}
}

// fakeJupyter serves a Jupyter server's activity endpoints for the labs of one namespace, answering only
// to the token it expects, and counts the questions.
type fakeJupyter struct {
	mu           sync.Mutex
	token        string
	lastActivity time.Time
	state        string // the kernel's execution_state
	asked        atomic.Int64
	trackedAsked atomic.Int64 // requests without no_track_activity, which would count as activity
}

func serveJupyter(t *testing.T, ns string, lastActivity time.Time, state string) *fakeJupyter {
	t.Helper()
	f := &fakeJupyter{lastActivity: lastActivity, state: state}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.token == "" || r.Header.Get("Authorization") != "token "+f.token {
			http.Error(w, "403: Forbidden", http.StatusForbidden)
			return
		}
		f.asked.Add(1)
		switch r.URL.Path {
		case "/api/status":
			_ = json.NewEncoder(w).Encode(map[string]any{"last_activity": f.lastActivity.Format(time.RFC3339Nano), "kernels": 1, "connections": 0})
		case "/api/kernels":
			if r.URL.Query().Get("no_track_activity") == "" {
				f.trackedAsked.Add(1)
			}
			_ = json.NewEncoder(w).Encode([]map[string]any{{"id": "k1", "execution_state": f.state, "last_activity": f.lastActivity.Format(time.RFC3339Nano)}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	jupyters.Store(ns, srv.URL)
	t.Cleanup(func() { jupyters.Delete(ns) })
	return f
}

func (f *fakeJupyter) expectToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
}

// readyPod makes the lab's pod, bound and Ready, as the kubelet would.
func readyPod(t *testing.T, ctx context.Context, lab *labkitv1alpha1.JupyterLab) *corev1.Pod {
	t.Helper()
	pod := labPod(t, ctx, lab)
	if err := env.Client.SubResource("binding").Create(ctx, pod, &corev1.Binding{Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	setPodCondition(t, ctx, pod, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	return pod
}

// secretToken is the controller's API token for the lab, from the lab's config Secret.
func secretToken(t *testing.T, ctx context.Context, lab *labkitv1alpha1.JupyterLab) string {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: lab.Name + "-jupyter-config", Namespace: lab.Namespace}}
	waitForObject(t, ctx, s, "the config Secret with the API token", func() string {
		if len(s.Data[APITokenKey]) < 32 {
			return fmt.Sprintf("keys %v", len(s.Data))
		}
		return ""
	})
	if cfg := string(s.Data[serverConfigFile]); !strings.Contains(cfg, string(s.Data[APITokenKey])) {
		t.Errorf("the Jupyter Server config does not accept the API token:\n%s", cfg)
	}
	return string(s.Data[APITokenKey])
}

// Not parallel: it sets the controller's check period, which applies to every lab.
func TestIdleCulling(t *testing.T) {
	ctx, _ := setup(t)
	setSettings(t, ctx, map[string]string{SettingCullingCheckPeriod: "1s"})

	t.Run("a lab with no activity for its timeout is stopped, stays stopped, and runs again when started", func(t *testing.T) {
		ctx, ns := setup(t)
		lastActivity := time.Now().Add(-time.Hour).Truncate(time.Second)
		jupyter := serveJupyter(t, ns, lastActivity, "idle")
		lab := newLab(ns, "forgotten", 1)
		lab.Spec.IdleTimeout = &metav1.Duration{Duration: 30 * time.Minute}
		create(t, ctx, lab)
		jupyter.expectToken(secretToken(t, ctx, lab))
		readyPod(t, ctx, lab)

		waitForReplicas(t, ctx, lab, 0)
		waitForPhase(t, ctx, lab, labkitv1alpha1.PhaseStopped)
		if s := lab.Status.Stopped; s.Reason != labkitv1alpha1.ReasonIdle {
			t.Errorf("status.stopped = %+v, want reason Idle", s)
		}
		if got := lab.Status.IdleSince; got == nil || !got.Time.Equal(lastActivity) {
			t.Errorf("status.idleSince = %v, want the last activity %s", got, lastActivity)
		}
		ready := meta.FindStatusCondition(lab.Status.Conditions, labkitv1alpha1.ConditionReady)
		if ready.Reason != labkitv1alpha1.ReasonIdle || !strings.Contains(ready.Message, "had no activity for 30m0s") {
			t.Errorf("Ready = %+v", ready)
		}
		if n := jupyter.trackedAsked.Load(); n != 0 {
			t.Errorf("%d activity reads counted as activity themselves, want none (no_track_activity)", n)
		}

		// A controller that starts afresh, and finds the server busy, keeps the decision: only a start undoes it.
		fresh := &JupyterLabReconciler{Client: mgrClient, Scheme: env.Scheme, APIReader: env.Client,
			Activity: JupyterActivity{BaseURL: jupyterOf}}
		jupyter.mu.Lock()
		jupyter.state = "busy"
		jupyter.mu.Unlock()
		if _, err := fresh.Reconcile(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: lab.Name}}); err != nil {
			t.Fatal(err)
		}
		waitForReplicas(t, ctx, lab, 0)
		waitForPhase(t, ctx, lab, labkitv1alpha1.PhaseStopped)

		update(t, ctx, lab, func(l *labkitv1alpha1.JupyterLab) {
			l.Spec.StartedAt = &metav1.Time{Time: time.Now().Truncate(time.Second)}
		})
		waitForReplicas(t, ctx, lab, 1)
		waitForObject(t, ctx, lab, "the started lab to run", func() string {
			if lab.Status.Stopped != nil {
				return fmt.Sprintf("stopped %+v", lab.Status.Stopped)
			}
			return ""
		})
	})

	t.Run("a kernel running a long silent cell is not idle, however old the last activity", func(t *testing.T) {
		ctx, ns := setup(t)
		jupyter := serveJupyter(t, ns, time.Now().Add(-time.Hour), "busy")
		lab := newLab(ns, "training", 1)
		lab.Spec.IdleTimeout = &metav1.Duration{Duration: time.Minute}
		create(t, ctx, lab)
		jupyter.expectToken(secretToken(t, ctx, lab))
		readyPod(t, ctx, lab)
		waitForAsked(t, ctx, jupyter, 6) // three checks, two requests each
		waitForReplicas(t, ctx, lab, 1)
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lab), lab); err != nil {
			t.Fatal(err)
		}
		if lab.Status.Stopped != nil || lab.Status.IdleSince != nil {
			t.Errorf("a busy lab: stopped %+v, idleSince %v; want neither", lab.Status.Stopped, lab.Status.IdleSince)
		}
	})

	t.Run("a lab idle for a while but less than its timeout says since when, and runs on", func(t *testing.T) {
		ctx, ns := setup(t)
		lastActivity := time.Now().Add(-20 * time.Minute).Truncate(time.Second)
		jupyter := serveJupyter(t, ns, lastActivity, "idle")
		lab := newLab(ns, "pausing", 0)
		lab.Spec.IdleTimeout = &metav1.Duration{Duration: time.Hour}
		create(t, ctx, lab)
		jupyter.expectToken(secretToken(t, ctx, lab))
		readyPod(t, ctx, lab)
		waitForObject(t, ctx, lab, "status.idleSince", func() string {
			if lab.Status.IdleSince == nil || !lab.Status.IdleSince.Time.Equal(lastActivity) {
				return fmt.Sprintf("idleSince %v", lab.Status.IdleSince)
			}
			return ""
		})
		// A reconcile queued before the cache saw the idleSince write may patch the same status once more;
		// that is settling, not checking. Checks that write would write in every window: find one quiet
		// window of two checks in three tries.
		var made []int64
		for len(made) < 3 {
			before := writesIn(ns)
			waitForAsked(t, ctx, jupyter, jupyter.asked.Load()+4) // two more checks
			if made = append(made, writesIn(ns)-before); made[len(made)-1] == 0 {
				break
			}
		}
		if made[len(made)-1] != 0 {
			t.Errorf("checks of a lab still idle made writes in every window of two checks (%v), want a window with none", made)
		}
		waitForReplicas(t, ctx, lab, 1)
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lab), lab); err != nil || lab.Status.Stopped != nil {
			t.Errorf("a lab idle for less than its timeout: stopped %+v (%v), want it running", lab.Status.Stopped, err)
		}
	})

	t.Run("a token lab's activity is read with the lab's own token", func(t *testing.T) {
		ctx, ns := setup(t)
		jupyter := serveJupyter(t, ns, time.Now().Add(-2*time.Hour), "idle")
		create(t, ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tok", Namespace: ns}, Data: map[string][]byte{"token": []byte("the-lab-token")}})
		jupyter.expectToken("the-lab-token")
		lab := newLab(ns, "by-token", 0)
		lab.Spec.Auth = labkitv1alpha1.AuthSpec{SecretRef: &labkitv1alpha1.SecretKeyRef{Name: "tok", Key: "token"}}
		lab.Spec.IdleTimeout = &metav1.Duration{Duration: time.Hour}
		create(t, ctx, lab)
		readyPod(t, ctx, lab)
		waitForPhase(t, ctx, lab, labkitv1alpha1.PhaseStopped)
	})

	t.Run("a lab whose activity cannot be read keeps running", func(t *testing.T) {
		ctx, ns := setup(t)
		lab := newLab(ns, "unreachable", 0) // no fake server for this namespace
		lab.Spec.IdleTimeout = &metav1.Duration{Duration: time.Second}
		create(t, ctx, lab)
		readyPod(t, ctx, lab)
		waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionReady, metav1.ConditionTrue, labkitv1alpha1.ReasonPodReady)
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(lab)}
		r := &JupyterLabReconciler{Client: mgrClient, Scheme: env.Scheme, APIReader: env.Client, Activity: JupyterActivity{BaseURL: jupyterOf}}
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
		waitForReplicas(t, ctx, lab, 1)
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lab), lab); err != nil || lab.Status.Stopped != nil {
			t.Errorf("a lab whose activity is unknown: stopped %+v (%v), want it running", lab.Status.Stopped, err)
		}
	})
}

func waitForAsked(t *testing.T, ctx context.Context, f *fakeJupyter, n int64) {
	t.Helper()
	waitForObject(t, ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, fmt.Sprintf("%d activity requests", n), func() string {
		if got := f.asked.Load(); got < n {
			return fmt.Sprintf("%d requests", got)
		}
		return ""
	})
}

func TestAMissingVolumeIsSaidAndTheLabStartsOnceItExists(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "reader", 0)
	lab.Spec.Volumes = []labkitv1alpha1.VolumeMount{{ClaimName: "imagenet", MountPath: "/data/imagenet", ReadOnly: true}}
	create(t, ctx, lab)
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionVolumesReady, metav1.ConditionFalse, labkitv1alpha1.ReasonClaimNotFound)
	if c := meta.FindStatusCondition(lab.Status.Conditions, labkitv1alpha1.ConditionVolumesReady); !strings.Contains(c.Message, "the volume imagenet that spec.volumes mounts does not exist in namespace "+ns) {
		t.Errorf("VolumesReady message %q", c.Message)
	}
	dep := waitForReplicas(t, ctx, lab, 1)
	mounts := dep.Spec.Template.Spec.Containers[0].VolumeMounts
	if m := mounts[len(mounts)-1]; m.MountPath != "/data/imagenet" || !m.ReadOnly {
		t.Errorf("last mount = %+v, want /data/imagenet read-only", m)
	}

	create(t, ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "imagenet", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
	})
	// Nothing the controller watches changes: it looks again by itself while a claim is missing.
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionVolumesReady, metav1.ConditionTrue, labkitv1alpha1.ReasonClaimsFound)
}

func TestTheAPITokenSurvivesACacheThatHasNotSeenTheSecretYet(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "steady-token", 0)
	create(t, ctx, lab)
	token := secretToken(t, ctx, lab)
	dep := waitForReplicas(t, ctx, lab, 1)
	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: secretName(lab)}, secret); err != nil {
		t.Fatal(err)
	}
	// A cache a moment behind: it has not seen the lab's config Secret yet, and holds the rest as the
	// API server does.
	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	behind := interceptor.NewClient(c, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	r := &JupyterLabReconciler{Client: behind, Scheme: env.Scheme, APIReader: env.Client}
	if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(lab)}); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{secret, dep} {
		rv := obj.GetResourceVersion()
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		if obj.GetResourceVersion() != rv {
			t.Errorf("a reconcile whose cache had not seen the config Secret rewrote %T %s; want it kept, else the lab's config and pod change", obj, obj.GetName())
		}
	}
	if got := string(secret.Data[APITokenKey]); got != token {
		t.Errorf("API token after a reconcile with a cache behind = %q, want the Secret's %q", got, token)
	}
}
