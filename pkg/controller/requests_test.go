package controller

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

// requestLabs is how many labs the request-counting test makes: enough that one lab's race with the
// cache moves the figure per lab by little, few enough for a loaded 2-core machine.
const requestLabs = 20

// perLab is what one phase of the request-counting test may cost per lab, by HTTP method: bench-scale's
// figure, "API requests per lab, by verb", measured here on the real API server with no kube-controller-manager.
type perLab map[string]float64

// Not parallel: it waits for the controller's queue to be empty, which other tests' labs would keep busy.
func TestNewLabsCostFewRequestsEach(t *testing.T) {
	ctx, ns := setup(t)
	labs := make([]*labkitv1alpha1.JupyterLab, requestLabs)
	for i := range labs {
		labs[i] = newLab(ns, fmt.Sprintf("lab-%02d", i), 1)
		create(t, ctx, labs[i])
	}

	// A new lab: its four children are created, with no event, and its status written once, Pending for
	// want of a pod. The slack is for a race with the cache: a create that finds the child there already,
	// and reads it.
	for _, lab := range labs {
		waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod)
	}
	waitForQuietController(t, ctx, ns, labs)
	created := requestsIn(ns)
	assertPerLab(t, "new labs", created, nil, perLab{"GET": 0.1, "POST": 4.1, "PATCH": 1.1})

	// Its pod comes, on a node, and becomes Ready: at most two status writes, Starting then Ready, and
	// nothing else.
	for _, lab := range labs {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: lab.Name + "-pod", Namespace: ns, Labels: selectorLabels(lab)},
			Spec: corev1.PodSpec{
				NodeName:                     "gpu-a100-1",
				AutomountServiceAccountToken: ptr.To(false),
				Containers:                   []corev1.Container{{Name: "jupyter", Image: lab.Spec.Image}},
			},
		}
		create(t, ctx, pod)
		pod.Status.Phase = corev1.PodRunning
		setPodCondition(t, ctx, pod, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	}
	for _, lab := range labs {
		waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionReady, metav1.ConditionTrue, labkitv1alpha1.ReasonPodReady)
	}
	waitForQuietController(t, ctx, ns, labs)
	assertPerLab(t, "their pods Ready", requestsIn(ns), created, perLab{"GET": 0.1, "POST": 0.1, "PATCH": 2})
}

// assertPerLab fails the test when the requests made since before cost more per lab than max allows,
// for any method, including those max does not name (allowed none).
func assertPerLab(t *testing.T, phase string, now, before map[string]int64, max perLab) {
	t.Helper()
	got := perLab{}
	for method, n := range now {
		got[method] = float64(n-before[method]) / requestLabs
	}
	t.Logf("%s: API requests per lab, by method: %v", phase, got)
	for method, n := range got {
		if n > max[method] {
			t.Errorf("%s: %.2f %s requests per lab, want at most %.2f (all: %v)", phase, n, method, max[method], got)
		}
	}
}

// waitForQuietController waits until the cache holds what the API server holds of the labs and their
// Deployments, and then until the controller has had nothing to do for a few looks in a row: by then
// every reconcile those objects' events asked for has run, and made whatever requests it makes.
func waitForQuietController(t *testing.T, ctx context.Context, ns string, labs []*labkitv1alpha1.JupyterLab) {
	t.Helper()
	err := testenv.Eventually(ctx, "the cache to hold the labs as the API server does", waitTimeout, func(ctx context.Context) (bool, string, error) {
		for _, lab := range labs {
			for _, obj := range []client.Object{&labkitv1alpha1.JupyterLab{}, deploymentMeta(metav1.ObjectMeta{})} {
				key := client.ObjectKey{Namespace: ns, Name: lab.Name}
				live, cached := obj.DeepCopyObject().(client.Object), obj.DeepCopyObject().(client.Object)
				if err := env.Client.Get(ctx, key, live); err != nil {
					return false, "", err
				}
				if err := mgrClient.Get(ctx, key, cached); client.IgnoreNotFound(err) != nil {
					return false, "", err
				}
				if cached.GetResourceVersion() != live.GetResourceVersion() {
					return false, fmt.Sprintf("%T %s: cached at %q, live at %s", obj, lab.Name, cached.GetResourceVersion(), live.GetResourceVersion()), nil
				}
			}
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	quiet := 0
	err = testenv.Eventually(ctx, "the controller to have nothing to do, 5 looks in a row", waitTimeout, func(context.Context) (bool, string, error) {
		busy, err := controllerBusy()
		if err != nil {
			return false, "", err
		}
		if quiet++; busy > 0 {
			quiet = 0
		}
		return quiet >= 5, fmt.Sprintf("%.0f labs queued or in reconcile", busy), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// controllerBusy is how many labs the jupyterlab controller has queued or is reconciling, from its metrics.
func controllerBusy() (float64, error) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0, err
	}
	var busy float64
	for _, f := range families {
		if f.GetName() != "workqueue_depth" && f.GetName() != "controller_runtime_active_workers" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if (l.GetName() == "name" || l.GetName() == "controller") && l.GetValue() == "jupyterlab" {
					busy += m.GetGauge().GetValue()
					break
				}
			}
		}
	}
	return busy, nil
}

func TestAReconcileOnACacheThatHasNotSeenItsStatusWriteWritesItNoMore(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "behind", 0)
	create(t, ctx, lab)
	// The lab as a cache a moment behind holds it: before any status write.
	stale := lab.DeepCopy()
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod)

	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	var cached atomic.Pointer[labkitv1alpha1.JupyterLab]
	cached.Store(stale)
	var statusWrites atomic.Int64
	behind := interceptor.NewClient(c, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if l, ok := obj.(*labkitv1alpha1.JupyterLab); ok {
				cached.Load().DeepCopyInto(l)
				return nil
			}
			return c.Get(ctx, key, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			statusWrites.Add(1)
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})
	r := &JupyterLabReconciler{Client: behind, Scheme: env.Scheme, APIReader: env.Client}
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(lab)}
	reconcileWrites := func(what string) int64 {
		t.Helper()
		before := statusWrites.Load()
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return statusWrites.Load() - before
	}
	if n := reconcileWrites("the first reconcile"); n != 1 {
		t.Fatalf("a reconcile of a lab with no status made %d status writes, want 1", n)
	}
	for i := range 3 {
		if n := reconcileWrites("a reconcile on the stale cache"); n != 0 {
			t.Errorf("reconcile %d on a cache that has not seen the status write made %d status writes, want 0", i+1, n)
		}
	}

	// Once the cache holds the lab as it is, it is the cache that counts again: a status someone else
	// changed is put right.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lab), lab); err != nil {
		t.Fatal(err)
	}
	lab.Status.URL = "http://elsewhere/"
	cached.Store(lab.DeepCopy())
	if n := reconcileWrites("a reconcile on a cache with a changed status"); n != 1 {
		t.Errorf("a reconcile of a lab whose status someone else changed made %d status writes, want 1", n)
	}
}
