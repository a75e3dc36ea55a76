package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// A lab's Deployment is most of what the cache holds for it: its pod template alone is several
// kilobytes once decoded. The cache holds only its metadata (slimDeployment), and the controller
// reads the spec from the API server only when it may have changed. A Deployment's generation goes up
// with every change to its spec, by anyone; so once the controller has seen that the spec at one
// generation is as the lab wants it, it need not look again while neither the generation nor what the
// lab wants changes. It remembers that in memory, per lab: after a restart each lab's Deployment is
// read once.

// checkedDeployment is a Deployment whose spec the controller found, or made, as the lab wants it.
type checkedDeployment struct {
	uid        types.UID
	generation int64
	// desired is the digest of the Deployment the lab wanted then (deploymentDigest).
	desired string
}

// deploymentDigest identifies a desired Deployment: it changes whenever what the lab wants does.
func deploymentDigest(d *appsv1.Deployment) string {
	b, err := json.Marshal(d)
	if err != nil { // a Deployment the controller built always marshals
		panic(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// hasSpec says whether d has its spec, or is the cache's copy without it: every Deployment the API
// server holds has at least one container.
func hasSpec(d *appsv1.Deployment) bool { return len(d.Spec.Template.Spec.Containers) > 0 }

// ensureDeployment makes the lab's Deployment as desired, as fetch and converge do for the other
// children. It returns what it did, the Deployment as the API server or the cache has it, and the
// fields of the pod template held for the lab's next start (holdPodTemplate). When the spec was checked at the cached generation for the same desired state,
// only the metadata is compared (the cache has it). Otherwise the spec is read from the API server
// when the cache has none, the pod template of a running lab is held, and the Deployment is converged
// and remembered as checked.
func (r *JupyterLabReconciler) ensureDeployment(ctx context.Context, lab client.Object, desired *appsv1.Deployment, stopped bool) (outcome, *appsv1.Deployment, []string, error) {
	key := client.ObjectKeyFromObject(lab)
	digest := deploymentDigest(desired) // before fetch: a create fills desired in
	cached := &appsv1.Deployment{}
	switch out, err := fetch(ctx, deploymentMetadata{r.Client}, r.reader(), lab, desired, cached); {
	case err != nil:
		return unchanged, nil, nil, err
	case out == created:
		r.rememberChecked(key, cached, digest)
		return created, cached, nil, nil
	}
	if v, ok := r.checked.Load(key); ok {
		if c := v.(checkedDeployment); c.uid == cached.UID && c.generation == cached.Generation && c.desired == digest {
			// The spec is as desired: give the comparison desired's own, so that only metadata can differ.
			view := cached.DeepCopy()
			view.Spec = *desired.Spec.DeepCopy()
			out, err := converge(ctx, r.Client, desired, view)
			if out == repaired {
				r.rememberChecked(key, view, digest)
			}
			return out, view, nil, err
		}
	}
	live := cached
	if !hasSpec(cached) {
		live = &appsv1.Deployment{}
		if err := r.reader().Get(ctx, client.ObjectKeyFromObject(cached), live); err != nil {
			return unchanged, nil, nil, fmt.Errorf("get Deployment %s: %w", cached.Name, err)
		}
	}
	held := holdPodTemplate(desired, live, stopped)
	if held != nil {
		log.FromContext(ctx).V(1).Info("Keeping the running pod's template until the lab's next start", "fields", held)
	}
	out, err := converge(ctx, r.Client, desired, live)
	if err == nil && held == nil {
		// With fields held, what is live is not what the lab wants: the next reconcile looks again.
		r.rememberChecked(key, live, digest)
	}
	return out, live, held, err
}

// deploymentMetadata reads a Deployment from the cache as what the cache holds of it, its metadata
// (slimDeployment): the Deployment it fills in has no spec (hasSpec) and no status. Other reads and
// every write go to the client as they are.
type deploymentMetadata struct{ client.Client }

func (c deploymentMetadata) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return c.Client.Get(ctx, key, obj, opts...)
	}
	meta := deploymentMeta(metav1.ObjectMeta{})
	if err := c.Client.Get(ctx, key, meta, opts...); err != nil {
		return err
	}
	*d = appsv1.Deployment{ObjectMeta: meta.ObjectMeta}
	return nil
}

// deploymentMeta is a Deployment as the cache holds it, its metadata only, with meta.
func deploymentMeta(meta metav1.ObjectMeta) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{ObjectMeta: meta}
	m.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	return m
}

// rememberChecked notes that live, as the API server returned it, is the Deployment the lab wants
// (digest).
func (r *JupyterLabReconciler) rememberChecked(lab types.NamespacedName, live *appsv1.Deployment, digest string) {
	r.checked.Store(lab, checkedDeployment{uid: live.UID, generation: live.Generation, desired: digest})
}
