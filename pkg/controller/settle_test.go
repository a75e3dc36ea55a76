package controller

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

func TestCanWait(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: reason}
	}
	pending := labkitv1alpha1.JupyterLabStatus{
		Phase: labkitv1alpha1.PhasePending, URL: "http://lab", ObservedGeneration: 1,
		Conditions: []metav1.Condition{
			cond(labkitv1alpha1.ConditionStorageReady, metav1.ConditionFalse, labkitv1alpha1.ReasonVolumePending),
			cond(labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod),
		},
	}
	with := func(st labkitv1alpha1.JupyterLabStatus, edit func(*labkitv1alpha1.JupyterLabStatus)) labkitv1alpha1.JupyterLabStatus {
		st = *st.DeepCopy()
		edit(&st)
		return st
	}
	set := func(c metav1.Condition) func(*labkitv1alpha1.JupyterLabStatus) {
		return func(st *labkitv1alpha1.JupyterLabStatus) { meta.SetStatusCondition(&st.Conditions, c) }
	}
	bound := with(pending, set(cond(labkitv1alpha1.ConditionStorageReady, metav1.ConditionTrue, labkitv1alpha1.ReasonVolumeBound)))
	for _, tc := range []struct {
		name     string
		old, new labkitv1alpha1.JupyterLabStatus
		want     bool
	}{
		{"no change", pending, pending, false},
		{"a new lab's first status", labkitv1alpha1.JupyterLabStatus{}, pending, false},
		{"a reason moves while the phase holds", pending,
			with(pending, set(cond(labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonSchedulingPending))), true},
		{"the volume bound while the pod waits", pending, bound, true},
		{"a new phase", bound, with(bound, func(st *labkitv1alpha1.JupyterLabStatus) { st.Phase = labkitv1alpha1.PhaseStarting }), false},
		{"the node", bound, with(bound, func(st *labkitv1alpha1.JupyterLabStatus) { st.NodeName = "gpu-1" }), false},
		{"a new generation acted on", bound, with(bound, func(st *labkitv1alpha1.JupyterLabStatus) { st.ObservedGeneration = 2 }), false},
		{"a new URL", bound, with(bound, func(st *labkitv1alpha1.JupyterLabStatus) { st.URL = "http://elsewhere" }), false},
		{"idle", bound, with(bound, func(st *labkitv1alpha1.JupyterLabStatus) { st.IdleSince = &metav1.Time{} }), false},
		{"a condition lost", bound, pending, false},
		{"a True condition gone", bound, with(bound, func(st *labkitv1alpha1.JupyterLabStatus) {
			meta.RemoveStatusCondition(&st.Conditions, labkitv1alpha1.ConditionStorageReady)
		}), false},
	} {
		if got := canWait(tc.old, tc.new); got != tc.want {
			t.Errorf("%s: canWait = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A lab's status detail waits for its next change that cannot wait, and goes in that change's write;
// with none, it is written once it has waited StatusSettle; a problem is written at once. The reconciler
// is called directly, on the real API server for the lab's children, with its own clock and a view of
// the lab that only its own status writes change (the shared manager reconciles the same lab, and its
// writes are not this test's).
func TestStatusDetailWaitsForTheNextChangeThatCannot(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "settle", 0)
	create(t, ctx, lab)
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod)
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: lab.Name + "-work", Namespace: ns}}
	waitForObject(t, ctx, pvc, "the lab's PVC", always)

	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	var view atomic.Pointer[labkitv1alpha1.JupyterLab]
	view.Store(lab.DeepCopy())
	var statusWrites atomic.Int64
	own := interceptor.NewClient(c, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if l, ok := obj.(*labkitv1alpha1.JupyterLab); ok {
				view.Load().DeepCopyInto(l)
				return nil
			}
			return c.Get(ctx, key, obj, opts...)
		},
		SubResourcePatch: func(_ context.Context, _ client.Client, _ string, obj client.Object, _ client.Patch, _ ...client.SubResourcePatchOption) error {
			statusWrites.Add(1)
			view.Store(obj.(*labkitv1alpha1.JupyterLab).DeepCopy())
			return nil
		},
	})
	const settle = 10 * time.Second
	clock := time.Now()
	r := &JupyterLabReconciler{Client: own, Scheme: env.Scheme, APIReader: env.Client, StatusSettle: settle,
		now: func() time.Time { return clock }}
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(lab)}
	step := func(what string, wantWrites int64, wantAfter time.Duration) {
		t.Helper()
		before := statusWrites.Load()
		res, err := r.Reconcile(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := statusWrites.Load() - before; n != wantWrites || res.RequeueAfter != wantAfter {
			t.Fatalf("%s: %d status writes and a look again after %s, want %d and %s (status %+v)",
				what, n, res.RequeueAfter, wantWrites, wantAfter, view.Load().Status)
		}
	}
	condition := func(typ string) metav1.Condition {
		t.Helper()
		c := meta.FindStatusCondition(view.Load().Status.Conditions, typ)
		if c == nil {
			t.Fatalf("the status has no %s condition: %+v", typ, view.Load().Status)
		}
		return *c
	}

	step("nothing changed", 0, 0)

	// No provisioner runs here: bind the claim as one would. That is detail while the lab waits for a pod.
	pvc.Spec.VolumeName = "pv-" + ns
	if err := env.Client.Update(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	pvc.Status.Phase = corev1.ClaimBound
	if err := env.Client.Status().Update(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	step("the claim bound", 0, settle)
	clock = clock.Add(4 * time.Second)
	step("the claim bound, 4 s on", 0, settle-4*time.Second)
	if c := condition(labkitv1alpha1.ConditionStorageReady); c.Status != metav1.ConditionFalse {
		t.Fatalf("StorageReady written before the settle time: %+v", c)
	}

	// The pod is placed: a new phase, in one write with the bound claim.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: lab.Name + "-pod", Namespace: ns, Labels: selectorLabels(lab)},
		Spec: corev1.PodSpec{NodeName: "gpu-a100-1", AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: "jupyter", Image: lab.Spec.Image}}},
	}
	create(t, ctx, pod)
	step("the pod placed", 1, 0)
	if st := view.Load().Status; st.Phase != labkitv1alpha1.PhaseStarting || condition(labkitv1alpha1.ConditionStorageReady).Status != metav1.ConditionTrue {
		t.Fatalf("after the pod was placed: phase %s, StorageReady %+v; want Starting with the claim bound in the same write",
			st.Phase, condition(labkitv1alpha1.ConditionStorageReady))
	}

	// Detail with nothing after it: written once it has waited the settle time.
	pod.Status.Phase = corev1.PodPending
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "jupyter", Image: lab.Spec.Image,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	step("the container being created", 0, settle)
	clock = clock.Add(settle)
	step("the container being created, the settle time on", 1, 0)
	if c := condition(labkitv1alpha1.ConditionReady); c.Message != "container jupyter is waiting: ContainerCreating" {
		t.Fatalf("Ready after the settle time: %+v, want the container's wait", c)
	}

	// A problem: the claim lost its volume. The phase holds, but a condition that was True is not.
	pvc.Status.Phase = corev1.ClaimLost
	if err := env.Client.Status().Update(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	step("the claim lost", 1, 0)
	if c := condition(labkitv1alpha1.ConditionStorageReady); c.Reason != labkitv1alpha1.ReasonVolumeLost {
		t.Fatalf("StorageReady after the claim was lost: %+v", c)
	}
}
