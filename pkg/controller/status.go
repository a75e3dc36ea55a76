package controller

import (
	"cmp"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// observed is what the controller saw of a lab's children.
type observed struct {
	pvc *corev1.PersistentVolumeClaim
	// pod is the lab's newest pod that is not being deleted, or nil.
	pod *corev1.Pod
}

// failedWaitingReasons are container states that will not resolve by waiting.
var failedWaitingReasons = map[string]bool{
	"CrashLoopBackOff":           true,
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"InvalidImageName":           true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
}

// computeStatus derives a lab's status from what was observed and the controller's settings. It is a
// pure function of its inputs; condition times are kept when a condition's status does not change.
func computeStatus(lab *labkitv1alpha1.JupyterLab, obs observed, s Settings) labkitv1alpha1.JupyterLabStatus {
	st := *lab.Status.DeepCopy()
	st.ObservedGeneration = lab.Generation
	st.InternalURL = InternalURL(lab)
	st.URL = cmp.Or(ExternalURL(lab, s.Ingress), st.InternalURL)
	st.NodeName = ""

	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: lab.Generation,
		})
	}

	set(storageCondition(obs.pvc))

	pod := obs.pod
	switch {
	case pod == nil:
		set(labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod, "waiting for the lab's pod to be created")
	case pod.Spec.NodeName != "":
		st.NodeName = pod.Spec.NodeName
		set(labkitv1alpha1.ConditionScheduled, metav1.ConditionTrue, labkitv1alpha1.ReasonScheduled, "running on node "+pod.Spec.NodeName)
	default:
		if c := podCondition(pod, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			set(labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonUnschedulable, c.Message)
		} else {
			set(labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonSchedulingPending, "waiting for the scheduler to place the lab's pod")
		}
	}

	failed := ""
	switch {
	case pod == nil:
		set(labkitv1alpha1.ConditionReady, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod, "the lab has no pod yet")
	case podReady(pod):
		set(labkitv1alpha1.ConditionReady, metav1.ConditionTrue, labkitv1alpha1.ReasonPodReady, "Jupyter answers at "+st.URL)
	default:
		msg := "the Jupyter server is not ready yet"
		for _, cs := range pod.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				msg = strings.TrimSpace(fmt.Sprintf("container %s is waiting: %s %s", cs.Name, w.Reason, w.Message))
				if failedWaitingReasons[w.Reason] {
					failed = msg
				}
			}
		}
		set(labkitv1alpha1.ConditionReady, metav1.ConditionFalse, labkitv1alpha1.ReasonPodNotReady, msg)
	}

	switch {
	case meta.IsStatusConditionTrue(st.Conditions, labkitv1alpha1.ConditionReady):
		st.Phase = labkitv1alpha1.PhaseReady
	case failed != "":
		st.Phase = labkitv1alpha1.PhaseFailed
	case meta.FindStatusCondition(st.Conditions, labkitv1alpha1.ConditionScheduled).Reason == labkitv1alpha1.ReasonUnschedulable:
		st.Phase = labkitv1alpha1.PhaseUnschedulable
	case st.NodeName != "":
		st.Phase = labkitv1alpha1.PhaseStarting
	default:
		st.Phase = labkitv1alpha1.PhasePending
	}
	return st
}

func storageCondition(pvc *corev1.PersistentVolumeClaim) (string, metav1.ConditionStatus, string, string) {
	typ := labkitv1alpha1.ConditionStorageReady
	if pvc == nil {
		return typ, metav1.ConditionFalse, labkitv1alpha1.ReasonVolumePending, "the lab's volume does not exist yet"
	}
	switch pvc.Status.Phase {
	case corev1.ClaimBound:
		want := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		if have, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok && have.Cmp(want) < 0 {
			return typ, metav1.ConditionFalse, labkitv1alpha1.ReasonVolumeResizing,
				fmt.Sprintf("volume %s is growing from %s to %s", pvc.Name, have.String(), want.String())
		}
		return typ, metav1.ConditionTrue, labkitv1alpha1.ReasonVolumeBound, fmt.Sprintf("volume %s is bound", pvc.Name)
	case corev1.ClaimLost:
		return typ, metav1.ConditionFalse, labkitv1alpha1.ReasonVolumeLost, fmt.Sprintf("volume %s lost its persistent volume", pvc.Name)
	default:
		return typ, metav1.ConditionFalse, labkitv1alpha1.ReasonVolumePending,
			fmt.Sprintf("volume %s is pending (storage classes that wait for the first consumer bind it once the pod is scheduled)", pvc.Name)
	}
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func podReady(pod *corev1.Pod) bool {
	c := podCondition(pod, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}
