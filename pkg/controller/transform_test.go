package controller

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// fullPod is a lab's pod as the API server has it: a whole spec, managed fields and a status with
// every field a kubelet fills.
func fullPod(node string, ready bool, waiting string) *corev1.Pod {
	lab := newLab("ns", "lab", 1)
	d := desiredDeployment(lab, Inputs{APIToken: "t0k3n"})
	created := metav1.NewTime(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "lab-7d9c-x2x", Namespace: "ns", Labels: d.Spec.Template.Labels, Annotations: d.Spec.Template.Annotations,
			CreationTimestamp: created, ResourceVersion: "42", UID: "u1",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate,
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{}},"f:spec":{"f:containers":{}}}`)}}},
		},
		Spec: *d.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = node
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodPending, HostIP: "172.18.0.3", HostIPs: []corev1.HostIP{{IP: "172.18.0.3"}}, QOSClass: corev1.PodQOSGuaranteed,
		StartTime: &created,
	}
	if node == "" {
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: "0/4 nodes are available: 4 Insufficient nvidia.com/gpu."}}
		return pod
	}
	pod.Status.PodIP, pod.Status.PodIPs = "10.244.1.7", []corev1.PodIP{{IP: "10.244.1.7"}}
	cs := corev1.ContainerStatus{Name: "jupyter", Image: "quay.io/jupyter/base-notebook:2026-11-30", ImageID: "sha256:abc",
		ContainerID: "containerd://def", Started: &ready, Ready: ready,
		AllocatedResources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}}
	switch {
	case ready:
		pod.Status.Phase = corev1.PodRunning
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: created}
		pod.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue, LastTransitionTime: created},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: created},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: created},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: created},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: created}}
	case waiting != "":
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: waiting, Message: "Back-off pulling image"}
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
			{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"}}
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
	return pod
}

func TestSlimPodKeepsWhatTheLabsStatusIsMadeOf(t *testing.T) {
	t.Parallel()
	for name, pod := range map[string]*corev1.Pod{
		"unschedulable":          fullPod("", false, ""),
		"placed, starting":       fullPod("gpu-a100-1", false, ""),
		"image cannot be pulled": fullPod("gpu-a100-1", false, "ImagePullBackOff"),
		"ready":                  fullPod("gpu-a100-1", true, ""),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			before, err := json.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			out, err := slimPod(pod.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			slim := out.(*corev1.Pod)
			lab := newLab("ns", "lab", 1)
			want := computeStatus(lab, observed{pod: pod}, Settings{})
			lab.Status = want // so that condition times are kept, and only a difference shows
			got := computeStatus(lab, observed{pod: slim}, Settings{})
			if !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("status from the cached pod:\n%+v\nwant, from the whole pod:\n%+v", got, want)
			}
			for _, c := range pod.Status.Conditions {
				kept := slices.ContainsFunc(slim.Status.Conditions, func(k corev1.PodCondition) bool { return equality.Semantic.DeepEqual(k, c) })
				if read := slices.Contains(podConditionsRead, c.Type); kept != read {
					t.Errorf("condition %s kept in the cache: %v; want %v", c.Type, kept, read)
				}
			}
			if PodURL(slim) != PodURL(pod) || podToLab(t.Context(), slim)[0] != podToLab(t.Context(), pod)[0] {
				t.Errorf("cached pod: URL %q, lab %v; want %q, %v", PodURL(slim), podToLab(t.Context(), slim), PodURL(pod), podToLab(t.Context(), pod))
			}
			if !slim.CreationTimestamp.Equal(&pod.CreationTimestamp) || slim.ResourceVersion != pod.ResourceVersion {
				t.Errorf("cached pod's metadata %+v lost what the newest pod is chosen by", slim.ObjectMeta)
			}
			after, err := json.Marshal(slim)
			if err != nil {
				t.Fatal(err)
			}
			if len(after)*2 > len(before) {
				t.Errorf("cached pod is %d bytes of JSON, the whole one %d: want it less than half", len(after), len(before))
			}
			t.Logf("%d bytes of JSON cached of %d", len(after), len(before))
		})
	}
}

func TestSlimLabDropsOnlyWhatTheControllerNeverReads(t *testing.T) {
	t.Parallel()
	lab := newLab("ns", "lab", 1)
	lab.Annotations = map[string]string{lastApplied: `{"apiVersion":"labkit.dev/v1alpha1"}`, "team": "vision"}
	lab.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "argocd-controller"}}
	want := lab.DeepCopy()
	want.Annotations = map[string]string{"team": "vision"}
	want.ManagedFields = nil
	out, err := slimLab(lab)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*labkitv1alpha1.JupyterLab); !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("cached lab %+v, want %+v", got, want)
	}
}

// The cache watches a lab's Deployment as metadata only; the transform keeps that metadata (slimmed)
// and refuses a whole Deployment, which only a read of Deployments in full from the cache would bring.
func TestSlimDeploymentKeepsItsMetadataOnly(t *testing.T) {
	t.Parallel()
	d := desiredDeployment(newLab("ns", "lab", 1), Inputs{APIToken: "t0k3n"})
	d.Generation, d.UID, d.ResourceVersion = 3, "u1", "42"
	d.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}}
	meta := deploymentMeta(*d.ObjectMeta.DeepCopy())
	want := meta.DeepCopy()
	want.ManagedFields = nil
	out, err := slimDeployment(meta)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*metav1.PartialObjectMetadata); !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("cached Deployment %+v, want %+v", got, want)
	}
	if out, err := slimDeployment(d); err == nil {
		t.Errorf("a whole Deployment was cached as %+v; want an error", out)
	}
}

func TestTransformsPassTombstonesAndRefuseOtherKinds(t *testing.T) {
	t.Parallel()
	tomb := toolscache.DeletedFinalStateUnknown{Key: "ns/lab", Obj: newLab("ns", "lab", 0)}
	for name, slim := range map[string]toolscache.TransformFunc{"lab": slimLab, "pod": slimPod, "Deployment": slimDeployment} {
		if out, err := slim(tomb); err != nil || out != any(tomb) {
			t.Errorf("%s: a tombstone became %v, %v; want it as it is", name, out, err)
		}
		if _, err := slim(&corev1.Secret{}); err == nil {
			t.Errorf("%s: a Secret was slimmed; want an error", name)
		}
	}
}
