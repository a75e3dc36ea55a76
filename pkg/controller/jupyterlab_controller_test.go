package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

// waitTimeout bounds every wait on the controller; generous for a loaded 2-core machine.
const waitTimeout = 30 * time.Second

const testHash = "argon2:$argon2id$v=19$m=10240,t=10,p=8$c2FsdHNhbHRzYWx0c2FsdA$0fdSTtnIFQsT6pQM8yNSN0LT0wAbQtJY5ZzuvwW8J6Q"

func newLab(ns, name string, gpus int32) *labkitv1alpha1.JupyterLab {
	lab := &labkitv1alpha1.JupyterLab{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: labkitv1alpha1.JupyterLabSpec{
			Owner: "ada",
			Image: "quay.io/jupyter/minimal-notebook:python-3.11",
			Resources: labkitv1alpha1.LabResources{
				CPU: resource.MustParse("2"), Memory: resource.MustParse("4Gi"),
			},
			Storage: labkitv1alpha1.StorageSpec{Size: resource.MustParse("10Gi")},
			Auth:    labkitv1alpha1.AuthSpec{PasswordHash: testHash},
		},
	}
	if gpus > 0 {
		lab.Spec.GPU = &labkitv1alpha1.GPURequest{Product: "NVIDIA-A100-SXM4-40GB", Count: gpus}
	}
	return lab
}

// setup makes a namespace for one test and a context bounded by the test's deadline.
func setup(t *testing.T) (context.Context, string) {
	t.Helper()
	ctx := t.Context()
	// The test's name, as far as a namespace name can hold it.
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()))
	ns, err := env.Namespace(ctx, strings.Trim(name[:min(len(name), 40)], "-"))
	if err != nil {
		t.Fatal(err)
	}
	return ctx, ns
}

func create(t *testing.T, ctx context.Context, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitForObject waits until the object exists and check accepts it; check explains what it misses.
func waitForObject(t *testing.T, ctx context.Context, obj client.Object, what string, check func() string) {
	t.Helper()
	err := testenv.Eventually(ctx, what, waitTimeout, func(ctx context.Context) (bool, string, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			if apierrors.IsNotFound(err) {
				return false, "not found", nil
			}
			return false, "", err
		}
		if why := check(); why != "" {
			return false, why, nil
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func always() string { return "" }

// waitForCondition waits until the lab's condition has the given status and reason.
func waitForCondition(t *testing.T, ctx context.Context, lab *labkitv1alpha1.JupyterLab, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	waitForObject(t, ctx, lab, fmt.Sprintf("lab %s condition %s=%s (%s)", lab.Name, typ, status, reason), func() string {
		c := meta.FindStatusCondition(lab.Status.Conditions, typ)
		if c == nil || c.Status != status || c.Reason != reason {
			return fmt.Sprintf("conditions %+v", lab.Status.Conditions)
		}
		return ""
	})
}

func assertOwnedBy(t *testing.T, obj client.Object, lab *labkitv1alpha1.JupyterLab) {
	t.Helper()
	refs := obj.GetOwnerReferences()
	if len(refs) != 1 || refs[0].UID != lab.UID || refs[0].Kind != "JupyterLab" || !ptr.Deref(refs[0].Controller, false) {
		t.Errorf("%T %s owner references = %+v, want the lab %s as controller", obj, obj.GetName(), refs, lab.Name)
	}
}

func TestALabGetsADeploymentServiceVolumeAndConfigOwnedByIt(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "ada-a100", 2)
	create(t, ctx, lab)

	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "ada-a100", Namespace: ns}}
	waitForObject(t, ctx, dep, "the lab's Deployment", always)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ada-a100", Namespace: ns}}
	waitForObject(t, ctx, svc, "the lab's Service", always)
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "ada-a100-work", Namespace: ns}}
	waitForObject(t, ctx, pvc, "the lab's PVC", always)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ada-a100-jupyter-config", Namespace: ns}}
	waitForObject(t, ctx, secret, "the lab's config Secret", always)

	for _, obj := range []client.Object{dep, svc, pvc, secret} {
		assertOwnedBy(t, obj, lab)
		if obj.GetLabels()[labkitv1alpha1.LabLabel] != lab.Name {
			t.Errorf("%T %s labels = %v, want %s=%s", obj, obj.GetName(), obj.GetLabels(), labkitv1alpha1.LabLabel, lab.Name)
		}
	}
	pod := dep.Spec.Template.Spec
	if got := pod.Containers[0].Resources.Limits[labkitv1alpha1.GPUResource]; got.Value() != 2 {
		t.Errorf("nvidia.com/gpu limit = %s, want 2", got.String())
	}
	if got := pod.NodeSelector[labkitv1alpha1.GPUProductLabel]; got != "NVIDIA-A100-SXM4-40GB" {
		t.Errorf("nodeSelector = %v", pod.NodeSelector)
	}
	if len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != labkitv1alpha1.GPUTaintKey {
		t.Errorf("tolerations = %+v", pod.Tolerations)
	}
	if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || ptr.Deref(dep.Spec.Replicas, 0) != 1 {
		t.Errorf("deployment strategy %s replicas %d, want Recreate and 1", dep.Spec.Strategy.Type, ptr.Deref(dep.Spec.Replicas, 0))
	}
	if p := svc.Spec.Ports; len(p) != 1 || p[0].Name != "http" || p[0].Port != 8888 {
		t.Errorf("service ports = %+v, want http 8888", p)
	}
	if !strings.Contains(string(secret.Data["jupyter_server_config.json"]), testHash) {
		t.Errorf("config secret does not carry the password hash: %s", secret.Data["jupyter_server_config.json"])
	}

	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod)
	if lab.Status.URL != "http://ada-a100."+ns+".svc.cluster.local:8888/" || lab.Status.Phase != labkitv1alpha1.PhasePending {
		t.Errorf("status = %+v", lab.Status)
	}
}

func TestANewLabGetsNoEventAndAChildDeletedByHandOneWhenItIsMadeAgain(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "ada", 0)
	create(t, ctx, lab)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "ada", Namespace: ns}}
	waitForObject(t, ctx, dep, "the lab's Deployment", always)
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod)
	if err := env.Client.Delete(ctx, dep); err != nil {
		t.Fatal(err)
	}

	// The recorder sends events in the order they are recorded: once the one for the Deployment made
	// again is there, one for the new lab's children would be too.
	var created []eventsv1.Event
	err := testenv.Eventually(ctx, "a Created event for the lab", waitTimeout, func(ctx context.Context) (bool, string, error) {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, "", err
		}
		created = nil
		for _, e := range list.Items {
			if e.Regarding.Name == lab.Name && e.Reason == "Created" {
				created = append(created, e)
			}
		}
		return len(created) > 0, fmt.Sprintf("%d events in the namespace", len(list.Items)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "Created Deployment ada"
	if len(created) != 1 || created[0].Note != want || created[0].Type != corev1.EventTypeNormal || created[0].Related == nil || created[0].Related.Kind != "Deployment" {
		t.Errorf("Created events of the lab = %+v, want one Normal event about the Deployment with note %q", created, want)
	}
}

func TestEditedOrDeletedChildrenAreRestored(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "drift", 1)
	create(t, ctx, lab)

	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "drift", Namespace: ns}}
	waitForObject(t, ctx, dep, "the lab's Deployment", always)
	oldUID := dep.UID
	if err := env.Client.Delete(ctx, dep); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, dep, "the deleted Deployment to be recreated", func() string {
		if dep.UID == oldUID {
			return "still the old Deployment"
		}
		return ""
	})

	dep.Spec.Template.Spec.Containers[0].Image = "evil/miner:latest"
	delete(dep.Spec.Template.Spec.Containers[0].Resources.Limits, labkitv1alpha1.GPUResource)
	delete(dep.Spec.Template.Spec.Containers[0].Resources.Requests, labkitv1alpha1.GPUResource)
	if err := env.Client.Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, dep, "the edited Deployment to be restored", func() string {
		c := dep.Spec.Template.Spec.Containers[0]
		if c.Image != lab.Spec.Image || c.Resources.Limits[labkitv1alpha1.GPUResource] != resource.MustParse("1") {
			return fmt.Sprintf("image %s, limits %v", c.Image, c.Resources.Limits)
		}
		return ""
	})

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "drift", Namespace: ns}}
	waitForObject(t, ctx, svc, "the lab's Service", always)
	svc.Spec.Ports[0].Port = 80
	if err := env.Client.Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, svc, "the edited Service to be restored", func() string {
		if svc.Spec.Ports[0].Port != 8888 {
			return fmt.Sprintf("port %d", svc.Spec.Ports[0].Port)
		}
		return ""
	})

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "drift-jupyter-config", Namespace: ns}}
	waitForObject(t, ctx, secret, "the lab's config Secret", always)
	secret.Data["jupyter_server_config.json"] = []byte(`{"ServerApp": {"token": ""}}`)
	if err := env.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, secret, "the edited Secret to be restored", func() string {
		if !strings.Contains(string(secret.Data["jupyter_server_config.json"]), testHash) {
			return string(secret.Data["jupyter_server_config.json"])
		}
		return ""
	})
}

func TestTheVolumeGrowsWithTheLab(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	sc := &storagev1.StorageClass{
		ObjectMeta:           metav1.ObjectMeta{Name: "expandable-" + ns},
		Provisioner:          "example.com/fake",
		AllowVolumeExpansion: ptr.To(true),
	}
	create(t, ctx, sc)
	lab := newLab(ns, "grow", 0)
	lab.Spec.Storage.StorageClassName = sc.Name
	create(t, ctx, lab)

	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "grow-work", Namespace: ns}}
	waitForObject(t, ctx, pvc, "the lab's PVC", always)
	// No provisioner runs here: bind the claim as one would.
	pvc.Spec.VolumeName = "pv-" + ns
	if err := env.Client.Update(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}
	if err := env.Client.Status().Update(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionStorageReady, metav1.ConditionTrue, labkitv1alpha1.ReasonVolumeBound)

	lab.Spec.Storage.Size = resource.MustParse("20Gi")
	if err := env.Client.Update(ctx, lab); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, pvc, "the PVC to ask for 20Gi", func() string {
		if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("20Gi")) != 0 {
			return "requests " + got.String()
		}
		return ""
	})
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionStorageReady, metav1.ConditionFalse, labkitv1alpha1.ReasonVolumeResizing)
}

// labPod creates a pod as the lab's ReplicaSet would (envtest runs no Deployment controller).
func labPod(t *testing.T, ctx context.Context, lab *labkitv1alpha1.JupyterLab) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: lab.Name + "-pod", Namespace: lab.Namespace, Labels: selectorLabels(lab)},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "jupyter", Image: lab.Spec.Image}},
		},
	}
	create(t, ctx, pod)
	return pod
}

func setPodCondition(t *testing.T, ctx context.Context, pod *corev1.Pod, c corev1.PodCondition) {
	t.Helper()
	c.LastTransitionTime = metav1.Now()
	pod.Status.Conditions = append(pod.Status.Conditions, c)
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
}

func TestAnUnplaceablePodIsReportedWithTheSchedulersReasonAndAReadyOneAsReady(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "big", 8)
	create(t, ctx, lab)
	pod := labPod(t, ctx, lab)

	const why = "0/4 nodes are available: 2 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node affinity/selector."
	setPodCondition(t, ctx, pod, corev1.PodCondition{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: why,
	})
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonUnschedulable)
	if c := meta.FindStatusCondition(lab.Status.Conditions, labkitv1alpha1.ConditionScheduled); c.Message != why {
		t.Errorf("Scheduled message = %q, want the scheduler's %q", c.Message, why)
	}
	if lab.Status.Phase != labkitv1alpha1.PhaseUnschedulable {
		t.Errorf("phase = %s, want Unschedulable", lab.Status.Phase)
	}

	binding := &corev1.Binding{Target: corev1.ObjectReference{Kind: "Node", Name: "gpu-a100-1"}}
	if err := env.Client.SubResource("binding").Create(ctx, pod, binding); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
		t.Fatal(err)
	}
	pod.Status.Conditions = nil
	setPodCondition(t, ctx, pod, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionReady, metav1.ConditionTrue, labkitv1alpha1.ReasonPodReady)
	if lab.Status.Phase != labkitv1alpha1.PhaseReady || lab.Status.NodeName != "gpu-a100-1" {
		t.Errorf("phase %s node %q, want Ready on gpu-a100-1", lab.Status.Phase, lab.Status.NodeName)
	}
}

func TestALabInItsDesiredStateCostsNoWrites(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "steady", 1)
	create(t, ctx, lab)
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod)

	r := &JupyterLabReconciler{Client: mgrClient, Scheme: env.Scheme, APIReader: env.Client}
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: lab.Name}}
	reconcileWrites := func(ctx context.Context) (int64, error) {
		before := writesIn(ns)
		_, err := r.Reconcile(ctx, req)
		return writesIn(ns) - before, err
	}
	// The cache may still be catching up with the controller's own writes: wait until a reconcile
	// writes nothing. A controller that always finds a difference never gets there.
	err := testenv.Eventually(ctx, "a reconcile that writes nothing", waitTimeout, func(ctx context.Context) (bool, string, error) {
		n, err := reconcileWrites(ctx)
		return n == 0, fmt.Sprintf("%d writes", n), err
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if n, err := reconcileWrites(ctx); err != nil || n != 0 {
			t.Fatalf("reconcile of a steady lab made %d writes (err %v), want 0", n, err)
		}
	}
}

func TestAChildsNameTakenBySomeoneElseIsReportedNotTakenOver(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	theirs := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: ns},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "web", Port: 80}}},
	}
	create(t, ctx, theirs)
	lab := newLab(ns, "taken", 0)
	create(t, ctx, lab)
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionReady, metav1.ConditionFalse, labkitv1alpha1.ReasonReconcileError)
	if c := meta.FindStatusCondition(lab.Status.Conditions, labkitv1alpha1.ConditionReady); !strings.Contains(c.Message, "already exists") {
		t.Errorf("Ready message %q, want it to say the Service already exists", c.Message)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(theirs), theirs); err != nil {
		t.Fatal(err)
	}
	if len(theirs.OwnerReferences) != 0 || theirs.Spec.Ports[0].Port != 80 {
		t.Errorf("someone else's Service was changed: owners %+v, ports %+v", theirs.OwnerReferences, theirs.Spec.Ports)
	}
}
