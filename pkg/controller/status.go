package controller

import (
	"cmp"
	"fmt"
	"strings"
	"time"

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
	// stopped says why the lab runs no pod; nil when it runs.
	stopped *labkitv1alpha1.StoppedStatus
	// idleTimeout is the lab's, or the settings' default; idleSince the last activity of a lab idle
	// for a while.
	idleTimeout time.Duration
	idleSince   *metav1.Time
	// missingClaims are claims of spec.volumes that do not exist.
	missingClaims []string
	// heldPodFields are the fields of the pod template that wait for the lab's next start.
	heldPodFields []string
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
	st.Stopped, st.IdleSince = obs.stopped, obs.idleSince

	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: lab.Generation,
		})
	}

	set(storageCondition(obs.pvc))
	if len(lab.Spec.Volumes) == 0 {
		meta.RemoveStatusCondition(&st.Conditions, labkitv1alpha1.ConditionVolumesReady)
	} else {
		set(volumesCondition(lab, obs.missingClaims))
	}

	if len(obs.heldPodFields) == 0 {
		meta.RemoveStatusCondition(&st.Conditions, labkitv1alpha1.ConditionPodCurrent)
	} else {
		set(podCurrentCondition(lab, obs.heldPodFields))
	}

	if stopped := obs.stopped; stopped != nil {
		msg := stoppedMessage(lab, stopped, obs.idleTimeout)
		set(labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, stopped.Reason, "the lab is stopped and runs no pod")
		set(labkitv1alpha1.ConditionReady, metav1.ConditionFalse, stopped.Reason, msg)
		st.Phase = labkitv1alpha1.PhaseStopped
		return st
	}

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

	if len(obs.missingClaims) > 0 && pod != nil && !podReady(pod) {
		c := meta.FindStatusCondition(st.Conditions, labkitv1alpha1.ConditionVolumesReady)
		set(labkitv1alpha1.ConditionReady, metav1.ConditionFalse, labkitv1alpha1.ReasonClaimNotFound, c.Message)
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

func volumesCondition(lab *labkitv1alpha1.JupyterLab, missing []string) (string, metav1.ConditionStatus, string, string) {
	typ := labkitv1alpha1.ConditionVolumesReady
	if len(missing) > 0 {
		return typ, metav1.ConditionFalse, labkitv1alpha1.ReasonClaimNotFound,
			fmt.Sprintf("the volume %s that spec.volumes mounts does not exist in namespace %s: create it, or remove the mount, and the lab starts",
				strings.Join(missing, ", "), lab.Namespace)
	}
	return typ, metav1.ConditionTrue, labkitv1alpha1.ReasonClaimsFound, fmt.Sprintf("%d volumes found", len(lab.Spec.Volumes))
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

// podCurrentCondition says that the lab's running pod waits for its next start to get what this
// controller renders, and which fields differ (never their values: they may hold a secret's name).
func podCurrentCondition(lab *labkitv1alpha1.JupyterLab, fields []string) (string, metav1.ConditionStatus, string, string) {
	shown := fields[:min(len(fields), 5)]
	more := ""
	if len(fields) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(fields)-len(shown))
	}
	return labkitv1alpha1.ConditionPodCurrent, metav1.ConditionFalse, labkitv1alpha1.ReasonAppliesAtNextStart,
		fmt.Sprintf("this version of labkit-controller runs labs' pods differently (%s%s); the running pod is kept, so its "+
			"kernels are not killed, and the change applies when the lab next starts: labctl stop %s, then labctl start %s",
			strings.Join(shown, ", "), more, lab.Name, lab.Name)
}
