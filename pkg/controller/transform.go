package controller

import (
	"fmt"
	"slices"
	"unique"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// The cache keeps of each object only what the controller reads: what it holds is most of the
// controller's memory, and grows with every lab. The transforms run before an object enters the cache,
// on the informer's own copy, so they may change it in place.

// lastApplied is the annotation `kubectl apply` and Argo CD's client-side apply keep on what they
// apply: a copy of the whole object as JSON, which for a lab synced by Argo CD doubles what it takes.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// slimMeta drops an object's managedFields and makes the strings of its metadata that repeat from
// object to object share one copy each: a lab's children carry the same labels, namespace and owner,
// and every lab's the same label keys, yet each decoded object holds copies of its own, a good part of
// what the cache keeps per lab. The values are the same strings; only where they are stored changes.
func slimMeta(o metav1.Object) {
	o.SetManagedFields(nil)
	o.SetName(intern(o.GetName()))
	o.SetNamespace(intern(o.GetNamespace()))
	o.SetLabels(internMap(o.GetLabels(), true))
	o.SetAnnotations(internMap(o.GetAnnotations(), false))
	refs := o.GetOwnerReferences()
	for i := range refs {
		r := &refs[i]
		r.APIVersion, r.Kind, r.Name, r.UID = intern(r.APIVersion), intern(r.Kind), intern(r.Name), types.UID(intern(string(r.UID)))
	}
}

// intern returns s as the one copy of it the process keeps (unique.Make), which is freed once no
// object holds it.
func intern(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

// internMap is m with interned keys, and values too when they are likely to repeat (labels; an
// annotation's value is mostly a hash of one object).
func internMap(m map[string]string, values bool) map[string]string {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if values {
			v = intern(v)
		}
		out[intern(k)] = v
	}
	return out
}

// slimChild is the transform of the children the cache keeps whole (Secret, Service, volume claim,
// Ingress, the settings ConfigMap): their metadata slimmed (slimMeta).
func slimChild(in any) (any, error) {
	o, ok := in.(metav1.Object)
	if !ok {
		return notSlimmed(in, "child")
	}
	slimMeta(o)
	return in, nil
}

// slimLab keeps a lab but for its managedFields and the copy of it that `kubectl apply` keeps. The
// controller writes a lab only through status patches computed against the cached lab, so what the
// cache leaves out is never written back.
func slimLab(in any) (any, error) {
	lab, ok := in.(*labkitv1alpha1.JupyterLab)
	if !ok {
		return notSlimmed(in, "lab")
	}
	delete(lab.Annotations, lastApplied)
	slimMeta(lab)
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
	slimMeta(pod)
	pod.Spec = corev1.PodSpec{NodeName: intern(pod.Spec.NodeName)}
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

// slimDeployment keeps a lab's Deployment as the cache holds it: its metadata only (owner, generation,
// the annotations that say how its template was rendered), which is all the API server sends a
// metadata watch (SetupWithManager). The spec is read from the API server when the controller has not
// checked it at this generation (ensureDeployment); the status, whose conditions alone are two
// sentences, is never read: a lab's status is made of its pod and its volume, and a change to the
// Deployment's status still changes its metadata's resourceVersion, which wakes the lab's reconcile.
// Even emptied, a Deployment's struct is a kilobyte more than its metadata. A whole Deployment here
// means a watch of Deployments in full (say, the OnlyMetadata left out), which would double what the
// cache holds of them: it is refused, so that watch caches nothing rather than quietly costing the
// memory. Without the metadata watch, every lab then shows the mistake as a ReconcileError ("apps/v1,
// Kind=Deployment is not cached": CacheOptions refuses reads of kinds the controller does not watch).
func slimDeployment(in any) (any, error) {
	d, ok := in.(*metav1.PartialObjectMetadata)
	if !ok {
		return notSlimmed(in, "Deployment's metadata")
	}
	slimMeta(d)
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
