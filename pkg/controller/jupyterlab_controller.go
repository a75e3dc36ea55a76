package controller

import (
	"context"
	"fmt"
	"reflect"
	"strings"

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
	// Recorder, when set, receives an event for the children a reconcile created, and one for those it
	// repaired or removed.
	Recorder events.EventRecorder
	// Settings is the ConfigMap of the controller's settings (ParseSettings); DefaultSettings when zero.
	// A change to it reconciles every lab. The manager's cache must hold it: see CacheOptions.
	Settings types.NamespacedName
}

func (r *JupyterLabReconciler) settingsKey() types.NamespacedName {
	if r.Settings == (types.NamespacedName{}) {
		return DefaultSettings
	}
	return r.Settings
}

// +kubebuilder:rbac:groups=labkit.dev,resources=jupyterlabs,verbs=get;list;watch
// +kubebuilder:rbac:groups=labkit.dev,resources=jupyterlabs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=services;persistentvolumeclaims;secrets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=labkit-system,resources=configmaps,verbs=get;list;watch

// Reconcile brings one lab's children to their desired state and updates the lab's status.
func (r *JupyterLabReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	lab := &labkitv1alpha1.JupyterLab{}
	if err := r.Client.Get(ctx, req.NamespacedName, lab); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !lab.DeletionTimestamp.IsZero() {
		// The garbage collector removes the children through their owner references.
		return reconcile.Result{}, nil
	}

	settings, err := loadSettings(ctx, r.Client, r.settingsKey())
	if err != nil {
		if statusErr := r.reportError(ctx, lab, err); statusErr != nil {
			logger.Error(statusErr, "Cannot report reconcile error in status")
		}
		return reconcile.Result{}, err
	}
	obs, err := r.ensureChildren(ctx, lab, settings)
	if err != nil {
		if statusErr := r.reportError(ctx, lab, err); statusErr != nil {
			logger.Error(statusErr, "Cannot report reconcile error in status")
		}
		return reconcile.Result{}, err
	}
	if obs.pod, err = r.newestPod(ctx, lab); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, r.writeStatus(ctx, lab, computeStatus(lab, obs, settings))
}

// ensureChildren applies the lab's children in the order of Children, and removes the Ingress when the
// settings no longer give one.
func (r *JupyterLabReconciler) ensureChildren(ctx context.Context, lab *labkitv1alpha1.JupyterLab, s Settings) (observed, error) {
	var obs observed
	// One event per outcome, naming every child it touched: a new lab costs one event, not four.
	var did map[outcome][]string
	var related client.Object
	note := func(out outcome, kind string, obj client.Object) {
		log.FromContext(ctx).Info("Applied child", "action", out, "kind", kind, "name", obj.GetName())
		if did == nil {
			did = map[outcome][]string{}
		}
		did[out] = append(did[out], kind+" "+obj.GetName())
		related = obj
	}
	for _, desired := range Children(lab, s) {
		if err := controllerutil.SetControllerReference(lab, desired, r.Scheme); err != nil {
			return observed{}, fmt.Errorf("set owner of %s: %w", desired.GetName(), err)
		}
		live := reflect.New(reflect.TypeOf(desired).Elem()).Interface().(client.Object)
		out, err := ensure(ctx, r.Client, desired, live)
		if err != nil {
			r.record(lab, did, related)
			return observed{}, err
		}
		if pvc, ok := live.(*corev1.PersistentVolumeClaim); ok {
			obs.pvc = pvc
		}
		if out != unchanged {
			note(out, kindOf(r.Scheme, desired), live)
		}
	}
	if !s.Ingress.Enabled() {
		ing := &networkingv1.Ingress{ObjectMeta: childMeta(lab, ingressName(lab))}
		out, err := ensureAbsent(ctx, r.Client, lab, ing)
		if err != nil {
			r.record(lab, did, related)
			return observed{}, err
		}
		if out != unchanged {
			note(out, "Ingress", ing)
		}
	}
	r.record(lab, did, related)
	return obs, nil
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

// writeStatus patches the status only when it changed, so steady labs cost no writes.
func (r *JupyterLabReconciler) writeStatus(ctx context.Context, lab *labkitv1alpha1.JupyterLab, st labkitv1alpha1.JupyterLabStatus) error {
	if equality.Semantic.DeepEqual(lab.Status, st) {
		return nil
	}
	base := lab.DeepCopy()
	lab.Status = st
	if err := r.Client.Status().Patch(ctx, lab, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("update status of lab %s: %w", lab.Name, err)
	}
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
		Owns(&appsv1.Deployment{}).
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
