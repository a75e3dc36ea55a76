package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/labkit-dev/labkit/pkg/internal/kobj"
	"github.com/labkit-dev/labkit/pkg/match"
)

// FieldOwner is the field manager the controller writes as.
const FieldOwner = "labkit-controller"

// outcome says what fetch, converge or ensureAbsent did.
type outcome string

const (
	unchanged outcome = ""
	created   outcome = "Created"
	repaired  outcome = "Updated"
	removed   outcome = "Deleted"
)

// fetch and converge make the live object contain desired; live receives the object as it is afterwards.
//
// fetch reads the live object into live from the cache, and creates desired when the cache has none,
// so a lab in its desired state costs no API requests. A create that finds the object there already
// means the cache has not seen it yet (a reconcile right after the one that made it): only then is it
// read from the API server, and it must be the owner's; one of that name that is not is someone else's
// and an error. It returns created, or unchanged with live filled in.
func fetch(ctx context.Context, c client.Client, apiReader client.Reader, owner metav1.Object, desired, live client.Object) (outcome, error) {
	kind := fmt.Sprintf("%T", desired)[1:] // "v1.Service"
	key := client.ObjectKeyFromObject(desired)
	switch err := c.Get(ctx, key, live); {
	case err == nil:
		return unchanged, nil
	case !apierrors.IsNotFound(err):
		return unchanged, fmt.Errorf("get %s %s: %w", kind, desired.GetName(), err)
	}
	err := c.Create(ctx, desired, client.FieldOwner(FieldOwner))
	switch {
	case err == nil:
		// Create filled desired with what the server stored; hand that to the caller.
		reflect.ValueOf(live).Elem().Set(reflect.ValueOf(desired).Elem())
		return created, nil
	case !apierrors.IsAlreadyExists(err):
		return unchanged, fmt.Errorf("create %s %s: %w", kind, desired.GetName(), err)
	}
	if getErr := apiReader.Get(ctx, key, live); getErr != nil {
		return unchanged, fmt.Errorf("create %s %s: %w; and read it: %w", kind, desired.GetName(), err, getErr)
	}
	if !metav1.IsControlledBy(live, owner) {
		return unchanged, fmt.Errorf("create %s %s: %w", kind, desired.GetName(), err)
	}
	return unchanged, nil
}

// converge writes only when a field the controller sets is missing or different in live. A drifted
// object gets desired as a JSON merge patch: maps merge, so labels and annotations others add survive,
// and lists are replaced whole, so an edited or extra port, container or volume is put back as the lab
// wants it.
func converge(ctx context.Context, c client.Client, desired, live client.Object) (outcome, error) {
	kind := fmt.Sprintf("%T", desired)[1:]
	want, err := kobj.ToMap(desired)
	if err != nil {
		return unchanged, err
	}
	for _, field := range leftOut(desired) {
		setNull(want, field...)
	}
	have, err := kobj.ToMap(live)
	if err != nil {
		return unchanged, err
	}
	diff := match.Contains(want, have, match.Ordered())
	if len(diff) == 0 {
		return unchanged, nil
	}
	// Where it differs, never the values: a Secret's are secret.
	fields := make([]string, 0, min(len(diff), 10))
	for _, d := range diff[:min(len(diff), 10)] {
		fields = append(fields, d.Path)
	}
	log.FromContext(ctx).Info("Repairing child", "kind", kind, "name", desired.GetName(), "fields", fields, "differences", len(diff))
	patch, err := json.Marshal(want)
	if err != nil {
		return unchanged, fmt.Errorf("encode %s %s: %w", kind, desired.GetName(), err)
	}
	if err := c.Patch(ctx, live, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldOwner)); err != nil {
		return unchanged, fmt.Errorf("repair %s %s: %w", kind, desired.GetName(), err)
	}
	return repaired, nil
}

// leftOut are the optional fields desired leaves out that an earlier desired state may have set: a GPU
// lab's node selector and tolerations when it no longer asks for GPUs, an Ingress's TLS when the settings
// drop it. A merge patch keeps what it does not name, so ensure names them as null, which removes them.
func leftOut(desired client.Object) [][]string {
	var fields [][]string
	absent := func(empty bool, field ...string) {
		if empty {
			fields = append(fields, field)
		}
	}
	switch o := desired.(type) {
	case *appsv1.Deployment:
		pod := o.Spec.Template.Spec
		absent(len(pod.NodeSelector) == 0, "spec", "template", "spec", "nodeSelector")
		absent(len(pod.Tolerations) == 0, "spec", "template", "spec", "tolerations")
		absent(len(pod.ImagePullSecrets) == 0, "spec", "template", "spec", "imagePullSecrets")
	case *networkingv1.Ingress:
		absent(len(o.Spec.TLS) == 0, "spec", "tls")
		absent(o.Spec.IngressClassName == nil, "spec", "ingressClassName")
	}
	return fields
}

// setNull sets the field at path of m to null, making the maps on the way.
func setNull(m map[string]any, path ...string) {
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = nil
}

// ensureAbsent deletes obj if it exists and the lab controls it; an object of that name that the lab
// does not control is someone else's and left alone.
func ensureAbsent(ctx context.Context, c client.Client, owner metav1.Object, obj client.Object) (outcome, error) {
	kind := fmt.Sprintf("%T", obj)[1:]
	switch err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); {
	case apierrors.IsNotFound(err):
		return unchanged, nil
	case err != nil:
		return unchanged, fmt.Errorf("get %s %s: %w", kind, obj.GetName(), err)
	}
	if !metav1.IsControlledBy(obj, owner) {
		return unchanged, nil
	}
	uid := obj.GetUID()
	if err := c.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return unchanged, fmt.Errorf("delete %s %s: %w", kind, obj.GetName(), err)
	}
	return removed, nil
}

// holdPodTemplate keeps the pod template of a running lab's Deployment when the controller renders the
// lab, unchanged, differently from what it applied before: a controller upgrade with a new default (a
// probe, a security setting, an env var) must not restart every running lab and kill its kernels. The
// lab gets the new template when its pod is not running anyway (stopped, idle, expired, or applied
// while it is), or when its own spec changes; till then its PodCurrent condition says so. A difference
// under the same rendering is drift, and put right as before.
//
// It changes desired to keep the live template and returns the fields that wait; nil when none do. A
// Deployment made before the annotations existed counts as rendered from the lab as it is.
func holdPodTemplate(desired, live *appsv1.Deployment, stopped bool) []string {
	if stopped || ptr.Deref(live.Spec.Replicas, 1) == 0 {
		return nil // no pod runs: nothing to restart
	}
	if rendered := live.Annotations[RenderedForAnnotation]; rendered != "" && rendered != desired.Annotations[RenderedForAnnotation] {
		return nil // the lab's spec or token changed: its pod is made anew
	}
	if live.Annotations[TemplateHashAnnotation] == desired.Annotations[TemplateHashAnnotation] {
		return nil // rendered the same: a difference is someone's edit, put right
	}
	want, err := kobj.ToMap(&desired.Spec.Template)
	if err != nil {
		return nil
	}
	have, err := kobj.ToMap(&live.Spec.Template)
	if err != nil {
		return nil
	}
	diff := match.Contains(want, have, match.Ordered())
	if len(diff) == 0 {
		return nil // rendered differently in form only: the new hash is written, nothing restarts
	}
	fields := make([]string, 0, len(diff))
	for _, d := range diff {
		fields = append(fields, "spec.template."+d.Path)
	}
	desired.Spec.Template = *live.Spec.Template.DeepCopy()
	if h, ok := live.Annotations[TemplateHashAnnotation]; ok {
		desired.Annotations[TemplateHashAnnotation] = h
	} else {
		delete(desired.Annotations, TemplateHashAnnotation)
	}
	return fields
}
