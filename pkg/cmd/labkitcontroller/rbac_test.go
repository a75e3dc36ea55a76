package labkitcontroller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientfeatures "k8s.io/client-go/features"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/controller"
	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
	"github.com/labkit-dev/labkit/pkg/manifests"
)

// The waits of TestRBAC, generous for a loaded 2-core machine.
const (
	// waitTimeout bounds each wait for the controller to act.
	waitTimeout = 60 * time.Second
	// seriesTimeout bounds the repairs repeated until the controller records an event series.
	seriesTimeout = 2 * time.Minute
	// stopTimeout bounds the controller's shutdown, in which it hands its Lease back.
	stopTimeout = 30 * time.Second
)

// installation is one way to install labkit.
type installation struct {
	name string
	// scoped installs with --watch-namespaces: RoleBindings in the labs' namespaces, no ClusterRoleBinding.
	scoped bool
	// watchList: client-go's informers stream their initial lists over a watch (its default since
	// 1.35); off, they list first, as they fall back to against an API server that cannot stream.
	watchList bool
}

// TestRBAC runs the real controller as the ServiceAccount of the install manifests, with exactly their
// RBAC, through a lab's whole life, and records every request it makes. It fails when the API server
// refused one (the manifests miss a verb), when the manifests grant a verb no run used, and when the
// namespace-scoped install makes any cluster-wide request.
//
// Not parallel: the scoped run turns off client-go's streaming lists, a process-wide feature gate.
func TestRBAC(t *testing.T) {
	gates := &watchListGate{Gates: clientfeatures.FeatureGates()}
	// client-go warns that its gates were read before: they were, by the other tests' clients.
	clientfeatures.ReplaceFeatureGates(gates)
	t.Cleanup(func() { clientfeatures.ReplaceFeatureGates(gates.Gates) })

	parent := t
	var grants []grant
	var used []recorded
	for _, in := range []installation{
		{name: "cluster-wide install, streamed lists", watchList: true},
		{name: "install scoped by --watch-namespaces, plain lists", scoped: true, watchList: false},
	} {
		t.Run(in.name, func(t *testing.T) {
			gates.watchList.Store(in.watchList)
			g, reqs := runInstallation(t, in)
			grants = g // every installation has the same Roles; only their bindings differ
			used = append(used, reqs...)
		})
	}
	t.Run("the manifests grant nothing the controller never used", func(t *testing.T) {
		if len(grants) == 0 || parent.Failed() {
			t.Skip("an installation failed: what it did not reach says nothing of the manifests")
		}
		for _, g := range grants {
			if !slices.ContainsFunc(used, func(r recorded) bool { return r.status != http.StatusForbidden && g.allows(r.apiRequest) }) {
				t.Errorf("the manifests grant %s which the controller never used: remove it", g)
			}
		}
	})
}

// runInstallation installs labkit as in says on a new API server, runs the controller through a lab's
// life and checks its requests; it returns what the manifests grant and the requests made.
func runInstallation(t *testing.T, in installation) ([]grant, []recorded) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	ctx := t.Context()
	var teamA, teamB, elsewhere string
	for _, p := range []struct {
		ns     *string
		prefix string
	}{{&teamA, "team-a"}, {&teamB, "team-b"}, {&elsewhere, "elsewhere"}} {
		if *p.ns, err = env.Namespace(ctx, p.prefix); err != nil {
			t.Fatal(err)
		}
	}
	var opts []manifests.InstallOption
	watched := []string{teamA}
	if in.scoped {
		watched = []string{teamA, teamB}
		opts = append(opts, manifests.WithWatchNamespaces(watched...))
	}
	stream, err := manifests.Install(opts...)
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, stream)
	// Everything but the CRD, which testenv installed, and the Deployment, whose controller runs here.
	keep := func(u *unstructured.Unstructured) bool {
		return u.GetKind() != "Deployment" && u.GetKind() != "CustomResourceDefinition"
	}
	if _, err := apply.Apply(ctx, env.Client, stream, apply.WithFilter(keep)); err != nil {
		t.Fatal(err)
	}

	jupyter := newFakeJupyter(t)
	log := &requestLog{}
	c := startController(t, env, objs, log, jupyter.URL)
	t.Cleanup(func() { // runs before the controller is stopped: its log is the story up to the failure
		if t.Failed() {
			for _, r := range log.all() {
				t.Logf("made: %s -> %d", r.apiRequest, r.status)
			}
			t.Logf("controller log (tail):\n%s", c.logs.tail(150))
		}
	})
	lab := &lifecycle{t: t, env: env, c: c, log: log, ns: teamA, jupyter: jupyter}
	lab.run(ctx)
	if in.scoped {
		// A second watched namespace works as the first; a lab elsewhere is not the controller's.
		bob := newLab(teamB, "bob")
		eve := newLab(elsewhere, "eve")
		lab.create(ctx, bob)
		lab.create(ctx, eve)
		lab.waitFor(ctx, "lab bob's Deployment in the second watched namespace", func(ctx context.Context) (string, error) {
			return exists(ctx, env.Client, &appsv1.Deployment{}, teamB, "bob")
		})
	}
	if err := c.stop(); err != nil {
		t.Errorf("stop the controller: %v", err)
	}

	for _, msg := range log.refused() {
		t.Error(msg)
	}
	reqs := log.all()
	if in.scoped {
		allowed := append([]string{c.namespace}, watched...)
		for _, r := range reqs {
			switch {
			case r.namespace == "":
				t.Errorf("with --watch-namespaces the controller made the cluster-wide request %s: a scoped install must need none", r.apiRequest)
			case !slices.Contains(allowed, r.namespace):
				t.Errorf("with --watch-namespaces=%s the controller made the request %s, in a namespace it does not watch", strings.Join(watched, ","), r.apiRequest)
			}
		}
		var dep appsv1.Deployment
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: elsewhere, Name: "eve"}, &dep); !apierrors.IsNotFound(err) {
			t.Errorf("lab eve in namespace %s, which the controller does not watch, got a Deployment (get: %v)", elsewhere, err)
		}
	}
	streamed, listed := 0, 0
	for _, r := range reqs {
		if r.streamed {
			streamed++
		}
		if r.verb == "list" {
			listed++
		}
	}
	t.Logf("%d kinds of request; %d streamed lists, %d plain lists", len(reqs), streamed, listed)
	return grantsOf(t, objs), reqs
}

// watchListGate is client-go's feature gates with WatchListClient switchable.
type watchListGate struct {
	clientfeatures.Gates
	watchList atomic.Bool
}

func (g *watchListGate) Enabled(f clientfeatures.Feature) bool {
	if f == clientfeatures.WatchListClient {
		return g.watchList.Load()
	}
	return g.Gates.Enabled(f)
}

func decodeAll(t *testing.T, stream []byte) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, doc := range strings.Split(string(stream), "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
	return objs
}

// runningController is the controller command running in this process.
type runningController struct {
	namespace string // the Deployment's: where the Lease and the settings are
	cancel    context.CancelFunc
	exited    chan struct{} // closed when the command returned, err
	err       error
	logs      *logBuffer
}

// startController runs the command with the args of the manifests' Deployment, as the Deployment's
// ServiceAccount, its requests recorded in log.
func startController(t *testing.T, env *testenv.Env, objs []map[string]any, log *requestLog, jupyterURL string) *runningController {
	t.Helper()
	var dep appsv1.Deployment
	for _, obj := range objs {
		if obj["kind"] == "Deployment" {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &dep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(dep.Spec.Template.Spec.Containers) == 0 {
		t.Fatal("the manifests hold no controller Deployment")
	}
	sa := dep.Spec.Template.Spec.ServiceAccountName
	cfg := rest.CopyConfig(env.Config)
	// Who the pod's token says it is.
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + dep.Namespace + ":" + sa,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + dep.Namespace, "system:authenticated"},
	}
	cfg.Wrap(log.wrap)
	args := append(slices.Clone(dep.Spec.Template.Spec.Containers[0].Args),
		// In a pod, the controller's own namespace.
		"--leader-election-namespace="+dep.Namespace,
		// Nothing scrapes or probes it here.
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
		// envtest runs no pods: the labs' Jupyter servers are one fake.
		"--jupyter-url-override="+jupyterURL,
	)
	c := &runningController{namespace: dep.Namespace, exited: make(chan struct{}), logs: &logBuffer{}}
	cmd := newCommand(surroundings{
		config:         func() (*rest.Config, error) { return cfg, nil },
		logs:           c.logs,
		controllerOpts: []controller.Option{controller.WithSkipNameValidation()}, // one manager per installation
	})
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.exited)
		c.err = cmd.ExecuteContext(ctx)
	}()
	t.Cleanup(func() { _ = c.stop() })
	t.Logf("labkit-controller %s as %s", strings.Join(args, " "), cfg.Impersonate.UserName)
	return c
}

// failed says why the controller stopped, if it did.
func (c *runningController) failed() error {
	select {
	case <-c.exited:
		return fmt.Errorf("the controller exited: %v", c.err)
	default:
		return nil
	}
}

// stop stops the controller and waits until it returned, having handed its Lease back.
func (c *runningController) stop() error {
	c.cancel()
	select {
	case <-c.exited:
		return c.err
	case <-time.After(stopTimeout):
		return fmt.Errorf("the controller did not stop within %s", stopTimeout)
	}
}

// lifecycle drives one lab through every path of the controller: created with a token Secret and a
// volume of its own, ready, reached through an Ingress that is changed and removed, its children
// repaired (twice the same way, an event series), stopped and started, culled for being idle; the
// controller elects itself leader and renews its Lease meanwhile.
type lifecycle struct {
	t       *testing.T
	env     *testenv.Env
	c       *runningController
	log     *requestLog
	ns      string
	jupyter *fakeJupyter
}

func (l *lifecycle) run(ctx context.Context) {
	l.settings(ctx, map[string]string{controller.SettingCullingCheckPeriod: "1s"})
	l.create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: l.ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	})
	l.create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ada-token", Namespace: l.ns}, StringData: map[string]string{"token": "t0ken"}})
	lab := newLab(l.ns, "ada")
	lab.Spec.Auth = labkitv1alpha1.AuthSpec{SecretRef: &labkitv1alpha1.SecretKeyRef{Name: "ada-token"}}
	lab.Spec.IdleTimeout = &metav1.Duration{Duration: time.Hour}
	lab.Spec.Volumes = []labkitv1alpha1.VolumeMount{{ClaimName: "shared", MountPath: "/shared"}}
	l.create(ctx, lab)

	l.step("a new lab gets its children and, with a ready pod, is Ready", func(ctx context.Context) {
		for _, obj := range children(l.ns, lab.Name) {
			l.waitFor(ctx, fmt.Sprintf("%T %s", obj, obj.GetName()), func(ctx context.Context) (string, error) {
				return exists(ctx, l.env.Client, obj, l.ns, obj.GetName())
			})
		}
		l.readyPod(ctx, lab)
		l.waitForLab(ctx, lab, "Ready", func(lab *labkitv1alpha1.JupyterLab) bool {
			return meta.IsStatusConditionTrue(lab.Status.Conditions, labkitv1alpha1.ConditionReady)
		})
	})
	l.step("the settings give it an Ingress, then change it", func(ctx context.Context) {
		l.settings(ctx, map[string]string{controller.SettingCullingCheckPeriod: "1s", controller.SettingIngressDomain: "labs.example.org"})
		ing := &networkingv1.Ingress{}
		l.waitFor(ctx, "the lab's Ingress", func(ctx context.Context) (string, error) {
			return exists(ctx, l.env.Client, ing, l.ns, lab.Name)
		})
		l.settings(ctx, map[string]string{controller.SettingCullingCheckPeriod: "1s", controller.SettingIngressDomain: "labs.example.org",
			controller.SettingIngressClassName: "traefik"})
		l.waitFor(ctx, "the Ingress of class traefik", func(ctx context.Context) (string, error) {
			if err := l.env.Client.Get(ctx, client.ObjectKey{Namespace: l.ns, Name: lab.Name}, ing); err != nil {
				return "", err
			}
			if c := ptr.Deref(ing.Spec.IngressClassName, ""); c != "traefik" {
				return "class " + c, nil
			}
			return "", nil
		})
	})
	l.step("children edited by hand are repaired, and the same repair twice is one event series", func(ctx context.Context) {
		l.repairUntilSeries(ctx, lab)
	})
	l.step("settings without a domain remove the Ingress", func(ctx context.Context) {
		l.settings(ctx, map[string]string{controller.SettingCullingCheckPeriod: "1s"})
		l.waitFor(ctx, "the Ingress gone", func(ctx context.Context) (string, error) {
			switch why, err := exists(ctx, l.env.Client, &networkingv1.Ingress{}, l.ns, lab.Name); {
			case err != nil:
				return "", err
			case why == "":
				return "it is there", nil
			}
			return "", nil
		})
	})
	l.step("a stopped lab runs no pod, and runs one again once started", func(ctx context.Context) {
		l.setStopped(ctx, lab, true)
		l.waitForReplicas(ctx, lab, 0)
		l.setStopped(ctx, lab, false)
		l.waitForReplicas(ctx, lab, 1)
		l.waitForLab(ctx, lab, "Ready again", func(lab *labkitv1alpha1.JupyterLab) bool {
			return lab.Status.Stopped == nil && meta.IsStatusConditionTrue(lab.Status.Conditions, labkitv1alpha1.ConditionReady)
		})
	})
	l.step("an idle lab is stopped", func(ctx context.Context) {
		l.jupyter.setLastActivity(time.Now().Add(-2 * time.Hour))
		l.waitForLab(ctx, lab, "stopped for being idle", func(lab *labkitv1alpha1.JupyterLab) bool {
			return lab.Status.Stopped != nil && lab.Status.Stopped.Reason == labkitv1alpha1.ReasonIdle
		})
		l.waitForReplicas(ctx, lab, 0)
	})
	l.step("the controller leads, and renews its Lease", func(ctx context.Context) {
		l.waitFor(ctx, "a Lease renewed after it was acquired", func(ctx context.Context) (string, error) {
			var lease coordinationv1.Lease
			if err := l.env.Client.Get(ctx, client.ObjectKey{Namespace: l.c.namespace, Name: LeaderElectionID}, &lease); err != nil {
				return "", client.IgnoreNotFound(err)
			}
			if lease.Spec.AcquireTime == nil || lease.Spec.RenewTime == nil || !lease.Spec.RenewTime.After(lease.Spec.AcquireTime.Time) {
				return fmt.Sprintf("acquired %v, renewed %v", lease.Spec.AcquireTime, lease.Spec.RenewTime), nil
			}
			return "", nil
		})
		l.waitFor(ctx, "the event of the controller becoming leader", func(ctx context.Context) (string, error) {
			var events corev1.EventList
			if err := l.env.Client.List(ctx, &events, client.InNamespace(l.c.namespace)); err != nil {
				return "", err
			}
			for _, e := range events.Items {
				if e.Reason == "LeaderElection" && strings.HasSuffix(e.Message, "became leader") {
					return "", nil
				}
			}
			return fmt.Sprintf("%d events", len(events.Items)), nil
		})
	})
}

// step runs one part of the life; a failed one ends the installation's run.
func (l *lifecycle) step(name string, fn func(ctx context.Context)) {
	l.t.Helper()
	start := time.Now()
	fn(l.t.Context())
	l.t.Logf("%s (%s)", name, time.Since(start).Round(10*time.Millisecond))
}

// waitFor waits until cond says nothing is missing. It fails at once, naming the permission, when the
// API server refused the controller a request, since the controller then never gets there.
func (l *lifecycle) waitFor(ctx context.Context, what string, cond func(ctx context.Context) (string, error)) {
	l.t.Helper()
	err := testenv.Eventually(ctx, what, waitTimeout, l.checked(cond))
	if err != nil {
		l.t.Fatal(err)
	}
}

func (l *lifecycle) checked(cond func(ctx context.Context) (string, error)) func(ctx context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		if err := l.c.failed(); err != nil {
			return false, "", err
		}
		if refused := l.log.refused(); len(refused) > 0 {
			return false, "", errors.New(strings.Join(refused, "; "))
		}
		why, err := cond(ctx)
		return err == nil && why == "", why, err
	}
}

func (l *lifecycle) waitForLab(ctx context.Context, lab *labkitv1alpha1.JupyterLab, what string, ok func(*labkitv1alpha1.JupyterLab) bool) {
	l.t.Helper()
	l.waitFor(ctx, "lab "+lab.Name+" "+what, func(ctx context.Context) (string, error) {
		if err := l.env.Client.Get(ctx, client.ObjectKeyFromObject(lab), lab); err != nil {
			return "", err
		}
		if !ok(lab) {
			return fmt.Sprintf("phase %s, stopped %+v, conditions %+v", lab.Status.Phase, lab.Status.Stopped, lab.Status.Conditions), nil
		}
		return "", nil
	})
}

func (l *lifecycle) waitForReplicas(ctx context.Context, lab *labkitv1alpha1.JupyterLab, n int32) {
	l.t.Helper()
	l.waitFor(ctx, fmt.Sprintf("lab %s's Deployment with %d replicas", lab.Name, n), func(ctx context.Context) (string, error) {
		var dep appsv1.Deployment
		if err := l.env.Client.Get(ctx, client.ObjectKey{Namespace: lab.Namespace, Name: lab.Name}, &dep); err != nil {
			return "", err
		}
		if got := ptr.Deref(dep.Spec.Replicas, 1); got != n {
			return fmt.Sprintf("%d replicas", got), nil
		}
		return "", nil
	})
}

func (l *lifecycle) create(ctx context.Context, obj client.Object) {
	l.t.Helper()
	if err := l.env.Client.Create(ctx, obj); err != nil {
		l.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// settings replaces the data of the controller's settings ConfigMap.
func (l *lifecycle) settings(ctx context.Context, data map[string]string) {
	l.t.Helper()
	cm := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: l.c.namespace, Name: controller.DefaultSettings.Name}
	if err := l.env.Client.Get(ctx, key, cm); err != nil {
		l.t.Fatal(err)
	}
	cm.Data = data
	if err := l.env.Client.Update(ctx, cm); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lifecycle) setStopped(ctx context.Context, lab *labkitv1alpha1.JupyterLab, stopped bool) {
	l.t.Helper()
	patch := fmt.Appendf(nil, `{"spec":{"stopped":%t}}`, stopped)
	if err := l.env.Client.Patch(ctx, lab, client.RawPatch(types.MergePatchType, patch)); err != nil {
		l.t.Fatal(err)
	}
}

// readyPod makes the lab's pod, bound and Ready, as its ReplicaSet and the kubelet would.
func (l *lifecycle) readyPod(ctx context.Context, lab *labkitv1alpha1.JupyterLab) {
	l.t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: lab.Name + "-pod", Namespace: lab.Namespace, Labels: map[string]string{labkitv1alpha1.LabLabel: lab.Name}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "jupyter", Image: lab.Spec.Image}},
		},
	}
	l.create(ctx, pod)
	if err := l.env.Client.SubResource("binding").Create(ctx, pod, &corev1.Binding{Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}); err != nil {
		l.t.Fatal(err)
	}
	if err := l.env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
		l.t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	if err := l.env.Client.Status().Update(ctx, pod); err != nil {
		l.t.Fatal(err)
	}
}

// instanceLabel is a label the controller sets on every child; a child with another value has drifted.
const instanceLabel = "app.kubernetes.io/instance"

// repairUntilSeries edits the lab's Secret, volume, Deployment and Service while the controller's
// reconcile of the lab waits on the lab's Jupyter server, so that one reconcile repairs all four and
// records one event about the lab; the same repair again, the lab unchanged, is that event repeated,
// which the events API records by patching the first one's series. The controller may see an edit
// only after the reconcile read its cache, and then repairs in two events; so the edits are repeated
// until the series is there.
func (l *lifecycle) repairUntilSeries(ctx context.Context, lab *labkitv1alpha1.JupyterLab) {
	l.t.Helper()
	attempts := 0
	err := testenv.Eventually(ctx, "an event series of the same repair of lab "+lab.Name+"'s children", seriesTimeout,
		l.checked(func(ctx context.Context) (string, error) {
			var events eventsv1.EventList
			if err := l.env.Client.List(ctx, &events, client.InNamespace(lab.Namespace)); err != nil {
				return "", err
			}
			for _, e := range events.Items {
				if e.Regarding.Name == lab.Name && e.Series != nil && e.Series.Count >= 2 {
					return "", nil
				}
			}
			attempts++
			held, release := l.jupyter.holdNext()
			defer release()
			select {
			case <-held:
			case <-time.After(waitTimeout):
				return "", errors.New("the controller did not read the lab's activity within " + waitTimeout.String())
			case <-ctx.Done():
				return "", ctx.Err()
			}
			objs := children(lab.Namespace, lab.Name)
			for _, obj := range objs {
				patch := []byte(`{"metadata":{"labels":{"` + instanceLabel + `":"edited"}}}`)
				if err := l.env.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
					return "", err
				}
			}
			release()
			for _, obj := range objs {
				err := testenv.Eventually(ctx, fmt.Sprintf("%T %s repaired", obj, obj.GetName()), waitTimeout, l.checked(func(ctx context.Context) (string, error) {
					if err := l.env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
						return "", err
					}
					if v := obj.GetLabels()[instanceLabel]; v != lab.Name {
						return instanceLabel + "=" + v, nil
					}
					return "", nil
				}))
				if err != nil {
					return "", err
				}
			}
			return fmt.Sprintf("%d rounds of edits, no series yet", attempts), nil
		}))
	if err != nil {
		l.t.Fatal(err)
	}
}

// children are the objects a lab always has, by name.
func children(ns, lab string) []client.Object {
	return []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: lab + "-jupyter-config"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: lab + "-work"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: lab}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: lab}},
	}
}

// exists says what is missing for obj ns/name to be there.
func exists(ctx context.Context, c client.Client, obj client.Object, ns, name string) (string, error) {
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return "not found", nil
		}
		return "", err
	}
	return "", nil
}

func newLab(ns, name string) *labkitv1alpha1.JupyterLab {
	return &labkitv1alpha1.JupyterLab{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: labkitv1alpha1.JupyterLabSpec{
			Owner:     "ada",
			Image:     "quay.io/jupyter/minimal-notebook:python-3.11",
			Resources: labkitv1alpha1.LabResources{CPU: resource.MustParse("1"), Memory: resource.MustParse("2Gi")},
			Storage:   labkitv1alpha1.StorageSpec{Size: resource.MustParse("10Gi")},
			Auth: labkitv1alpha1.AuthSpec{
				PasswordHash: "argon2:$argon2id$v=19$m=10240,t=10,p=8$c2FsdHNhbHRzYWx0c2FsdA$0fdSTtnIFQsT6pQM8yNSN0LT0wAbQtJY5ZzuvwW8J6Q",
			},
		},
	}
}

// fakeJupyter stands in for the labs' Jupyter servers (envtest runs no pods): it answers the activity
// API, and can hold a request until the test lets it go.
type fakeJupyter struct {
	URL string
	mu  sync.Mutex
	// lastActivity is what it says of its last use; zero: now.
	lastActivity time.Time
	hold         chan struct{} // the next /api/status waits until it is closed
	held         chan struct{} // closed when that request arrived
}

func newFakeJupyter(t *testing.T) *fakeJupyter {
	f := &fakeJupyter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		last, hold, held := f.lastActivity, f.hold, f.held
		if last.IsZero() {
			last = time.Now()
		}
		if r.URL.Path == "/api/status" {
			f.hold, f.held = nil, nil
		}
		f.mu.Unlock()
		switch r.URL.Path {
		case "/api/status":
			if hold != nil {
				close(held)
				select {
				case <-hold:
				case <-r.Context().Done():
				}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"last_activity": last.Format(time.RFC3339Nano)})
		case "/api/kernels":
			_ = json.NewEncoder(w).Encode([]map[string]any{{"execution_state": "idle", "last_activity": last.Format(time.RFC3339Nano)}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *fakeJupyter) setLastActivity(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastActivity = at
}

// holdNext makes the next activity read wait: held is closed when it arrives, and release lets it go
// (a second call does nothing).
func (f *fakeJupyter) holdNext() (held <-chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	hold, h := make(chan struct{}), make(chan struct{})
	f.hold, f.held = hold, h
	var once sync.Once
	return h, func() {
		once.Do(func() {
			f.mu.Lock()
			if f.hold == hold {
				f.hold, f.held = nil, nil
			}
			f.mu.Unlock()
			close(hold)
		})
	}
}

// logBuffer keeps the controller's log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) tail(lines int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	all := strings.Split(strings.TrimRight(b.buf.String(), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
