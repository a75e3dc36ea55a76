package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

func TestComputeStatus(t *testing.T) {
	t.Parallel()
	bound := &corev1.PersistentVolumeClaim{
		Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
			Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
	}
	pod := func(node string, conds ...corev1.PodCondition) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Conditions: conds}}
	}
	waiting := pod("n1")
	waiting.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "jupyter",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "no such image"}}}}

	tests := []struct {
		name       string
		obs        observed
		wantPhase  labkitv1alpha1.Phase
		wantReason map[string]string
		wantNode   string
	}{
		{"no pod yet", observed{}, labkitv1alpha1.PhasePending,
			map[string]string{"Scheduled": labkitv1alpha1.ReasonNoPod, "Ready": labkitv1alpha1.ReasonNoPod, "StorageReady": labkitv1alpha1.ReasonVolumePending}, ""},
		{"the scheduler cannot place the pod",
			observed{pvc: bound, pod: pod("", corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes"})},
			labkitv1alpha1.PhaseUnschedulable, map[string]string{"Scheduled": labkitv1alpha1.ReasonUnschedulable, "StorageReady": labkitv1alpha1.ReasonVolumeBound}, ""},
		{"not yet looked at by the scheduler", observed{pod: pod("")}, labkitv1alpha1.PhasePending,
			map[string]string{"Scheduled": labkitv1alpha1.ReasonSchedulingPending}, ""},
		{"placed and starting", observed{pvc: bound, pod: pod("n1")}, labkitv1alpha1.PhaseStarting,
			map[string]string{"Scheduled": labkitv1alpha1.ReasonScheduled, "Ready": labkitv1alpha1.ReasonPodNotReady}, "n1"},
		{"an image that cannot be pulled fails the lab", observed{pvc: bound, pod: waiting}, labkitv1alpha1.PhaseFailed,
			map[string]string{"Ready": labkitv1alpha1.ReasonPodNotReady}, "n1"},
		{"ready", observed{pvc: bound, pod: pod("n1", corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})},
			labkitv1alpha1.PhaseReady, map[string]string{"Ready": labkitv1alpha1.ReasonPodReady, "Scheduled": labkitv1alpha1.ReasonScheduled}, "n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lab := newLab("ns", "lab", 1)
			lab.Generation = 3
			st := computeStatus(lab, tt.obs, Settings{})
			if st.Phase != tt.wantPhase || st.NodeName != tt.wantNode || st.ObservedGeneration != 3 {
				t.Errorf("phase %s node %q generation %d, want %s %q 3", st.Phase, st.NodeName, st.ObservedGeneration, tt.wantPhase, tt.wantNode)
			}
			for typ, reason := range tt.wantReason {
				if c := meta.FindStatusCondition(st.Conditions, typ); c == nil || c.Reason != reason {
					t.Errorf("condition %s = %+v, want reason %s", typ, c, reason)
				}
			}
		})
	}
}

func TestComputeStatusKeepsTransitionTimesOfUnchangedConditions(t *testing.T) {
	t.Parallel()
	lab := newLab("ns", "lab", 0)
	first := computeStatus(lab, observed{}, Settings{})
	then := metav1.NewTime(first.Conditions[0].LastTransitionTime.Add(-3600e9))
	for i := range first.Conditions {
		first.Conditions[i].LastTransitionTime = then
	}
	lab.Status = first
	again := computeStatus(lab, observed{}, Settings{})
	for _, c := range again.Conditions {
		if !c.LastTransitionTime.Equal(&then) {
			t.Errorf("condition %s transition time moved to %v although its status did not change", c.Type, c.LastTransitionTime)
		}
	}
}
