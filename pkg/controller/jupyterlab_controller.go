package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// JupyterLabReconciler turns a JupyterLab into a Secret (the Jupyter Server config), a PVC, a Deployment,
// a Service and, when the settings give an ingress domain, an Ingress, all owned by the lab, and reports
// what it sees in the lab's status.
type JupyterLabReconciler struct {
	Client client.Client
	Scheme *runtime.Scheme
	// Recorder, when set, receives an event for the children a reconcile created again (someone deleted
	// them), one for those it repaired or removed, and one for a lab it stopped for being idle. The
	// children of a new lab get none: its status tells that story, and at a thousand labs an event each
	// is a request each that nobody reads.
	Recorder events.EventRecorder
	// Settings is the ConfigMap of the controller's settings (ParseSettings); DefaultSettings when zero.
	// A change to it reconciles every lab. The manager's cache must hold it: see CacheOptions.
	Settings types.NamespacedName
	// APIReader reads what the cache does not hold: the Secrets of token labs (for the token their
	// Jupyter server accepts), the claims of spec.volumes and Deployments in full (the cache holds their
	// metadata only). The manager's GetAPIReader; Client when nil, which then must not be the
	// manager's cached client.
	APIReader client.Reader
	// Activity reads labs' activity for idle culling; JupyterActivity{} when nil.
	Activity ActivityReader
	// StatusSettle is how long a change to a lab's status that nobody needs at once may wait to go in
	// one write with the next (settle.go); DefaultStatusSettle when zero, none when negative.
	StatusSettle time.Duration

	// now is the clock of StatusSettle; time.Now when nil.
	now func() time.Time

	// written holds, by lab, the status this controller last wrote while the cache has not shown it yet.
	written sync.Map // types.NamespacedName -> *writtenStatus
	// checked holds, by lab, the Deployment whose spec was last seen as the lab wants it (deployment.go).
	checked sync.Map // types.NamespacedName -> checkedDeployment
	// settling holds, by lab, since when a status change that can wait has waited (settle.go).
	settling sync.Map // types.NamespacedName -> time.Time
}

// writtenStatus is a status write the cache may not have seen yet.
type writtenStatus struct {
	uid types.UID
	// status is the lab's status as the API server returned it, at resourceVersion.
	status          labkitv1alpha1.JupyterLabStatus
	resourceVersion string
	// before are the resource versions of the lab from before the write: a cached lab at one of them
	// has not seen it.
	before []string
}

func (r *JupyterLabReconciler) reader() client.Reader {
	if r.APIReader == nil {
		return r.Client
	}
	return r.APIReader
}

func (r *JupyterLabReconciler) activity() ActivityReader {
	if r.Activity == nil {
		return JupyterActivity{}
	}
	return r.Activity
}

func (r *JupyterLabReconciler) settingsKey() types.NamespacedName {
	if r.Settings == (types.NamespacedName{}) {
		return DefaultSettings
	}
	return r.Settings
}

// The controller's RBAC, exactly the verbs it uses (TestRBAC in pkg/cmd/labkitcontroller fails on a verb
// missing here and on one granted but never used). What it reads through the manager's cache costs list
// and watch only, never get: the labs, the children it owns, the pods and the settings ConfigMap. It gets
// from the API server only Secrets (a lab's config Secret the cache has not seen yet, a token lab's
// token), PersistentVolumeClaims (those spec.volumes names), which the cache holds only when they
// carry the lab label, and Deployments, whose spec the cache does not keep (deployment.go). It
// creates and merge-patches children, never updates them, and deletes only an
// Ingress the settings no longer ask for. The status is merge-patched. Events go through the events.k8s.io
// API (the manager's GetEventRecorder), whose recorder patches an event when it repeats (an event
// series). The settings are one ConfigMap in the controller's namespace, watched by name.
// +kubebuilder:rbac:groups=labkit.dev,resources=jupyterlabs,verbs=list;watch
// +kubebuilder:rbac:groups=labkit.dev,resources=jupyterlabs/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=secrets;persistentvolumeclaims,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=list;watch;create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=labkit-system,resources=configmaps,resourceNames=labkit-settings,verbs=list;watch

// Reconcile brings one lab's children to their desired state and updates the lab's status.
func (r *JupyterLabReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	lab := &labkitv1alpha1.JupyterLab{}
	if err := r.Client.Get(ctx, req.NamespacedName, lab); err != nil {
		if apierrors.IsNotFound(err) {
			r.written.Delete(req.NamespacedName)
			r.checked.Delete(req.NamespacedName)
			r.settling.Delete(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	r.recallStatus(lab)
	if !lab.DeletionTimestamp.IsZero() {
		// The garbage collector removes the children through their owner references.
		return reconcile.Result{}, nil
	}

	settings, err := LoadSettings(ctx, r.Client, r.settingsKey())
	if err != nil {
		if statusErr := r.reportError(ctx, lab, err); statusErr != nil {
			logger.Error(statusErr, "Cannot report reconcile error in status")
		}
		return reconcile.Result{}, err
	}
	token, err := r.apiToken(ctx, lab)
	if err != nil {
		return reconcile.Result{}, err
	}
	now := time.Now().Truncate(time.Second) // as the status will hold it
	pod, err := r.newestPod(ctx, lab)
	if err != nil {
		return reconcile.Result{}, err
	}
	obs := observed{pod: pod, stopped: stoppedState(lab, now), idleTimeout: idleTimeout(lab, settings.Culling)}
	watching := obs.stopped == nil && obs.idleTimeout > 0 && pod != nil && podReady(pod)
	if watching {
		r.watchActivity(ctx, lab, token, now, &obs)
	} else if obs.stopped != nil && obs.stopped.Reason == labkitv1alpha1.ReasonIdle {
		obs.idleSince = lab.Status.IdleSince
	}
	if obs.missingClaims, err = r.missingClaims(ctx, lab); err != nil {
		return reconcile.Result{}, err
	}

	pvc, held, err := r.ensureChildren(ctx, lab, Inputs{Settings: settings, APIToken: token, Stopped: obs.stopped != nil})
	if err != nil {
		if statusErr := r.reportError(ctx, lab, err); statusErr != nil {
			logger.Error(statusErr, "Cannot report reconcile error in status")
		}
		return reconcile.Result{}, err
	}
	obs.pvc, obs.heldPodFields = pvc, held
	var res reconcile.Result
	st := computeStatus(lab, obs, settings)
	if wait := r.settle(lab, st); wait > 0 {
		// Only detail changed: it goes with the next change, or once it has waited long enough.
		res.RequeueAfter = wait
	} else if err := r.writeStatus(ctx, lab, st); err != nil {
		return reconcile.Result{}, err
	}
	if watching && obs.stopped == nil {
		res.RequeueAfter = settings.Culling.Period()
	}
	if d, ok := untilExpiry(lab, now); ok && (res.RequeueAfter == 0 || d < res.RequeueAfter) {
		res.RequeueAfter = d + time.Second
	}
	// The claims are not the lab's and not watched: look again until they exist.
	if len(obs.missingClaims) > 0 && (res.RequeueAfter == 0 || MissingClaimRecheck < res.RequeueAfter) {
		res.RequeueAfter = MissingClaimRecheck
	}
	return res, nil
}

// MissingClaimRecheck is how often a lab whose spec.volumes names a missing claim looks for it again.
const MissingClaimRecheck = 5 * time.Second

// watchActivity reads the lab's activity and stops it when it has been idle for its timeout; a lab
// whose activity cannot be read keeps running, and what it said before.
func (r *JupyterLabReconciler) watchActivity(ctx context.Context, lab *labkitv1alpha1.JupyterLab, token string, now time.Time, obs *observed) {
	obs.idleSince = lab.Status.IdleSince
	cred, err := r.credential(ctx, lab, token)
	var act Activity
	if err == nil {
		act, err = r.activity().Read(ctx, lab, obs.pod, cred)
	}
	if err != nil {
		log.FromContext(ctx).Info("Cannot read the lab's activity; it keeps running", "error", err.Error())
		return
	}
	idle := act.idleFor(now)
	logger := log.FromContext(ctx)
	logger.V(1).Info("Read the lab's activity", "lastActivity", act.LastActivity, "busy", act.Busy, "idleFor", idle.String())
	wasIdle := obs.idleSince != nil
	obs.idleSince = nil
	if idle >= reportIdleAfter(obs.idleTimeout) {
		obs.idleSince = &metav1.Time{Time: act.LastActivity.Truncate(time.Second)}
		if !wasIdle {
			logger.Info("The lab is idle", "lastActivity", act.LastActivity, "idleFor", idle.String(), "idleTimeout", obs.idleTimeout.String())
		}
	}
	if idle >= obs.idleTimeout {
		logger.Info("Stopping the lab: idle for its idle timeout", "lastActivity", act.LastActivity, "idleFor", idle.String(), "idleTimeout", obs.idleTimeout.String())
		obs.stopped = culled(lab, now)
		if r.Recorder != nil {
			r.Recorder.Eventf(lab, nil, corev1.EventTypeNormal, labkitv1alpha1.ReasonIdle, "Stop",
				"Stopped: no activity since %s, for more than %s", act.LastActivity.UTC().Format(time.RFC3339), obs.idleTimeout)
		}
	}
}

// apiToken is the controller's token for the lab's Jupyter server: the one its config Secret holds, as
// the cache has it, or a new one. The cache may not have seen a Secret made a moment ago; a new token
// then does no harm, since creating the Secret finds it and ensureChildren keeps its token instead.
func (r *JupyterLabReconciler) apiToken(ctx context.Context, lab *labkitv1alpha1.JupyterLab) (string, error) {
	secret := &corev1.Secret{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: lab.Namespace, Name: secretName(lab)}, secret)
	switch {
	case err == nil && len(secret.Data[APITokenKey]) > 0:
		return string(secret.Data[APITokenKey]), nil
	case err != nil && !apierrors.IsNotFound(err):
		return "", fmt.Errorf("read the config Secret of lab %s: %w", lab.Name, err)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// credential is what the lab's server accepts from the controller: its API token for a password lab,
// the lab's own token for a token lab.
func (r *JupyterLabReconciler) credential(ctx context.Context, lab *labkitv1alpha1.JupyterLab, apiToken string) (string, error) {
	ref := lab.Spec.Auth.SecretRef
	if ref == nil {
		return apiToken, nil
	}
	secret := &corev1.Secret{}
	if err := r.reader().Get(ctx, client.ObjectKey{Namespace: lab.Namespace, Name: ref.Name}, secret); err != nil {
		return "", fmt.Errorf("read the token Secret %s of lab %s: %w", ref.Name, lab.Name, err)
	}
	return string(secret.Data[cmpOr(ref.Key, "token")]), nil
}

// missingClaims are the claims of spec.volumes that do not exist.
func (r *JupyterLabReconciler) missingClaims(ctx context.Context, lab *labkitv1alpha1.JupyterLab) ([]string, error) {
	var missing []string
	for _, v := range lab.Spec.Volumes {
		err := r.reader().Get(ctx, client.ObjectKey{Namespace: lab.Namespace, Name: v.ClaimName}, &corev1.PersistentVolumeClaim{})
		switch {
		case apierrors.IsNotFound(err):
			missing = append(missing, v.ClaimName)
		case err != nil:
			return nil, fmt.Errorf("read volume claim %s of lab %s: %w", v.ClaimName, lab.Name, err)
		}
	}
	return missing, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ensureChildren applies the lab's children in the order of Children, and removes the Ingress when the
// settings no longer give one. It returns the lab's claim, and the fields of the pod template that
// wait for the lab's next start (holdPodTemplate).
func (r *JupyterLabReconciler) ensureChildren(ctx context.Context, lab *labkitv1alpha1.JupyterLab, in Inputs) (*corev1.PersistentVolumeClaim, []string, error) {
	var pvc *corev1.PersistentVolumeClaim
	var held []string
	// One event per outcome, naming every child it touched; none for the children of a new lab, one
	// whose status the controller has not written yet.
	newLab := len(lab.Status.Conditions) == 0
	var did map[outcome][]string
	var related client.Object
	note := func(out outcome, kind string, obj client.Object) {
		log.FromContext(ctx).Info("Applied child", "action", out, "kind", kind, "name", obj.GetName())
		if newLab && out == created {
			return
		}
		if did == nil {
			did = map[outcome][]string{}
		}
		did[out] = append(did[out], kind+" "+obj.GetName())
		related = obj
	}
	children := Children(lab, in)
	for i := 0; i < len(children); i++ {
		desired := children[i]
		if err := controllerutil.SetControllerReference(lab, desired, r.Scheme); err != nil {
			return nil, nil, fmt.Errorf("set owner of %s: %w", desired.GetName(), err)
		}
		if d, ok := desired.(*appsv1.Deployment); ok {
			out, live, fields, err := r.ensureDeployment(ctx, lab, d, in.Stopped)
			if err != nil {
				r.record(lab, did, related)
				return nil, nil, err
			}
			if held = fields; out != unchanged {
				note(out, kindOf(r.Scheme, d), live)
			}
			continue
		}
		live := reflect.New(reflect.TypeOf(desired).Elem()).Interface().(client.Object)
		out, err := fetch(ctx, r.Client, r.reader(), lab, desired, live)
		if err == nil && out != created {
			if s, ok := live.(*corev1.Secret); ok && len(s.Data[APITokenKey]) > 0 && string(s.Data[APITokenKey]) != in.APIToken {
				// The config Secret exists with a token the cache did not show apiToken: that token is
				// the lab's, and the config and the pod template are made with it, not rewritten.
				in.APIToken = string(s.Data[APITokenKey])
				children = Children(lab, in)
				desired = children[i]
				if err := controllerutil.SetControllerReference(lab, desired, r.Scheme); err != nil {
					return nil, nil, fmt.Errorf("set owner of %s: %w", desired.GetName(), err)
				}
			}
			out, err = converge(ctx, r.Client, desired, live)
		}
		if err != nil {
			r.record(lab, did, related)
			return nil, nil, err
		}
		if p, ok := live.(*corev1.PersistentVolumeClaim); ok {
			pvc = p
		}
		if out != unchanged {
			note(out, kindOf(r.Scheme, desired), live)
		}
	}
	if !in.Settings.Ingress.Enabled() {
		ing := &networkingv1.Ingress{ObjectMeta: childMeta(lab, ingressName(lab))}
		out, err := ensureAbsent(ctx, r.Client, lab, ing)
		if err != nil {
			r.record(lab, did, related)
			return nil, nil, err
		}
		if out != unchanged {
			note(out, "Ingress", ing)
		}
	}
	r.record(lab, did, related)
	return pvc, held, nil
}

// record sends one event for each outcome in did, listing the children, e.g. "Created Secret ada,
// PersistentVolumeClaim ada-work". related is the child an event is about, when it is about one.
func (r *JupyterLabReconciler) record(lab *labkitv1alpha1.JupyterLab, did map[outcome][]string, related client.Object) {
	if r.Recorder == nil {
		return
	}
	for _, out := range []outcome{created, repaired, removed} {
		children := did[out]
		if len(children) == 0 {
			continue
		}
		var rel runtime.Object
		if len(did) == 1 && len(children) == 1 {
			rel = related
		}
		r.Recorder.Eventf(lab, rel, corev1.EventTypeNormal, string(out), string(out), "%s %s", out, strings.Join(children, ", "))
	}
}

// kindOf is obj's kind, e.g. PersistentVolumeClaim.
func kindOf(scheme *runtime.Scheme, obj client.Object) string {
	if gvk, err := apiutil.GVKForObject(obj, scheme); err == nil {
		return gvk.Kind
	}
	return fmt.Sprintf("%T", obj)
}

// newestPod is the lab's newest pod that is not being deleted: during a Recreate rollout the old pod's
// state says nothing about the new one.
func (r *JupyterLabReconciler) newestPod(ctx context.Context, lab *labkitv1alpha1.JupyterLab) (*corev1.Pod, error) {
	pods := &corev1.PodList{}
	if err := r.Client.List(ctx, pods, client.InNamespace(lab.Namespace), client.MatchingLabels(selectorLabels(lab))); err != nil {
		return nil, fmt.Errorf("list pods of lab %s: %w", lab.Name, err)
	}
	var newest *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		if newest == nil || newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	return newest, nil
}

// recallStatus gives lab the status this controller last wrote for it when the cached lab is from
// before that write: the reconciles its own children's events ask for come sooner than the lab's watch
// event, and from the stale status they would write the same status again, move condition times, or
// forget a decision the status holds (why and since when a lab is stopped).
func (r *JupyterLabReconciler) recallStatus(lab *labkitv1alpha1.JupyterLab) {
	key := client.ObjectKeyFromObject(lab)
	v, ok := r.written.Load(key)
	if !ok {
		return
	}
	w := v.(*writtenStatus)
	if w.uid == lab.UID && slices.Contains(w.before, lab.ResourceVersion) {
		lab.Status = *w.status.DeepCopy()
		return
	}
	// The cache holds the write, or something newer, which it knows better.
	r.written.CompareAndDelete(key, v)
}

// writeStatus patches the status only when it changed, so steady labs cost no writes, and remembers
// the write until the cache shows it (recallStatus).
func (r *JupyterLabReconciler) writeStatus(ctx context.Context, lab *labkitv1alpha1.JupyterLab, st labkitv1alpha1.JupyterLabStatus) error {
	key := client.ObjectKeyFromObject(lab)
	r.settling.Delete(key) // whatever waited goes in this write, or is no longer a change
	if equality.Semantic.DeepEqual(lab.Status, st) {
		return nil
	}
	before := []string{lab.ResourceVersion}
	if v, ok := r.written.Load(key); ok {
		// lab carries that earlier write (recallStatus): the cache has seen neither.
		if w := v.(*writtenStatus); w.uid == lab.UID && slices.Contains(w.before, lab.ResourceVersion) {
			before = append(slices.Clone(w.before), w.resourceVersion)
		}
	}
	base := lab.DeepCopy()
	lab.Status = st
	if err := r.Client.Status().Patch(ctx, lab, client.MergeFrom(base)); err != nil {
		r.written.Delete(key)
		return fmt.Errorf("update status of lab %s: %w", lab.Name, err)
	}
	r.written.Store(key, &writtenStatus{uid: lab.UID, status: *lab.Status.DeepCopy(), resourceVersion: lab.ResourceVersion, before: before})
	return nil
}

// reportError puts a reconcile failure on the lab's Ready condition, so `kubectl describe` shows it.
func (r *JupyterLabReconciler) reportError(ctx context.Context, lab *labkitv1alpha1.JupyterLab, cause error) error {
	st := *lab.Status.DeepCopy()
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: labkitv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: labkitv1alpha1.ReasonReconcileError,
		Message: cause.Error(), ObservedGeneration: lab.Generation,
	})
	err := r.writeStatus(ctx, lab, st)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// SetupWithManager registers the reconciler. Pods are watched through the lab label, since they are
// owned by ReplicaSets rather than by the lab.
func (r *JupyterLabReconciler) SetupWithManager(mgr ctrl.Manager, opts ...Option) error {
	o := options{}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&labkitv1alpha1.JupyterLab{}).
		// As metadata only: the cache holds no Deployment's spec or status (slimDeployment).
		Owns(&appsv1.Deployment{}, builder.OnlyMetadata).
		Owns(&corev1.Service{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&corev1.Secret{}).
		Owns(&networkingv1.Ingress{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podToLab)).
		// The settings are an input of every lab.
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.allLabs),
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
				return client.ObjectKeyFromObject(o) == r.settingsKey()
			}))).
		WithOptions(o.controller).
		Named("jupyterlab").
		Complete(r)
}

// allLabs asks for every lab to be reconciled.
func (r *JupyterLabReconciler) allLabs(ctx context.Context, _ client.Object) []reconcile.Request {
	labs := &labkitv1alpha1.JupyterLabList{}
	if err := r.Client.List(ctx, labs); err != nil {
		log.FromContext(ctx).Error(err, "Cannot list the labs to apply the changed settings to")
		return nil
	}
	reqs := make([]reconcile.Request, len(labs.Items))
	for i := range labs.Items {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&labs.Items[i])}
	}
	return reqs
}

func podToLab(_ context.Context, obj client.Object) []reconcile.Request {
	name, ok := obj.GetLabels()[labkitv1alpha1.LabLabel]
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}}}
}
