package controller

import (
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// The cache keeps of each object only what the controller reads: what it holds is most of the
// controller's memory, and grows with every lab. The transforms run before an object enters the cache,
// on the informer's own copy, so they may change it in place.

// lastApplied is the annotation `kubectl apply` and Argo CD's client-side apply keep on what they
// apply: a copy of the whole object as JSON, which for a lab synced by Argo CD doubles what it takes.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// slimLab keeps a lab but for its managedFields and the copy of it that `kubectl apply` keeps. The
// controller writes a lab only through status patches computed against the cached lab, so what the
// cache leaves out is never written back.
func slimLab(in any) (any, error) {
	lab, ok := in.(*labkitv1alpha1.JupyterLab)
	if !ok {
		return notSlimmed(in, "lab")
	}
	lab.ManagedFields = nil
	delete(lab.Annotations, lastApplied)
	return lab, nil
}

// slimPod keeps of a lab's pod what the controller reads: its metadata (which lab, how new, whether
// it is going), the node it runs on, its phase, the conditions the lab's status is made of
// (podConditionsRead) and its IP, and of each container its name, state and readiness (why it waits).
// The pod's spec, as big again as the Deployment's template it was made from, is dropped but for the
// node name: the controller reads the template from the Deployment.
func slimPod(in any) (any, error) {
	pod, ok := in.(*corev1.Pod)
	if !ok {
		return notSlimmed(in, "pod")
	}
	pod.ManagedFields = nil
	pod.Spec = corev1.PodSpec{NodeName: pod.Spec.NodeName}
	var containers []corev1.ContainerStatus
	for _, cs := range pod.Status.ContainerStatuses {
		containers = append(containers, corev1.ContainerStatus{Name: cs.Name, State: cs.State, Ready: cs.Ready})
	}
	var conditions []corev1.PodCondition
	for _, c := range pod.Status.Conditions {
		if slices.Contains(podConditionsRead, c.Type) {
			conditions = append(conditions, c)
		}
	}
	pod.Status = corev1.PodStatus{
		Phase:             pod.Status.Phase,
		Conditions:        conditions,
		PodIP:             pod.Status.PodIP,
		ContainerStatuses: containers,
	}
	return pod, nil
}

// podConditionsRead are the conditions of a lab's pod that its status is made of (computeStatus): whether
// it has a node, or why not, and whether it is ready. A kubelet sets three more (Initialized,
// ContainersReady, PodReadyToStartContainers), which say nothing those two do not.
var podConditionsRead = []corev1.PodConditionType{corev1.PodScheduled, corev1.PodReady}

// slimDeployment keeps of a lab's Deployment its metadata (owner, generation, the annotations that say
// how its template was rendered) and its replicas (whether the lab runs). The rest of its spec is read
// from the API server when the controller has not checked it at this generation (convergeDeployment).
// Its status, whose conditions alone are two sentences, is dropped: a lab's status is made of its pod
// and its volume, and a change to the Deployment's status still wakes the lab's reconcile.
func slimDeployment(in any) (any, error) {
	d, ok := in.(*appsv1.Deployment)
	if !ok {
		return notSlimmed(in, "Deployment")
	}
	d.ManagedFields = nil
	d.Spec = appsv1.DeploymentSpec{Replicas: d.Spec.Replicas}
	d.Status = appsv1.DeploymentStatus{}
	return d, nil
}

// notSlimmed passes on a tombstone, the last state of an object deleted while the watch was down, as
// it is; anything else is not of the kind the transform is for, a mistake in CacheOptions.
func notSlimmed(in any, kind string) (any, error) {
	if _, tombstone := in.(toolscache.DeletedFinalStateUnknown); tombstone {
		return in, nil
	}
	return nil, fmt.Errorf("slim a %s for the cache: got a %T", kind, in)
}
