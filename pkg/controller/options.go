package controller

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// Option configures SetupWithManager.
type Option interface{ apply(*options) }

type options struct{ controller crcontroller.Options }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithMaxConcurrentReconciles sets how many labs are reconciled at once.
func WithMaxConcurrentReconciles(n int) Option {
	return optionFunc(func(o *options) { o.controller.MaxConcurrentReconciles = n })
}

// WithSkipNameValidation allows several controllers of the same name in one process (tests start one
// manager per test).
func WithSkipNameValidation() Option {
	return optionFunc(func(o *options) { o.controller.SkipNameValidation = ptr.To(true) })
}

// CacheOptions limits the manager's cache to the objects labs own: pods, secrets and the other children
// are cached only when they carry the lab label, so the controller's memory does not grow with
// everything else in the cluster; of the ConfigMaps, only the settings one is cached. Of each object
// the cache keeps only what the controller reads (transform.go): of a Deployment, its metadata. A read
// of a kind the controller does not watch, or of Deployments in full, fails (ErrResourceNotCached)
// rather than quietly starting a second watch that would cache them all. With
// watchNamespaces, labs and their children are watched in those namespaces only, so the controller
// needs no cluster-wide list or watch (labs elsewhere are not reconciled); without, in every namespace.
func CacheOptions(settings types.NamespacedName, watchNamespaces ...string) cache.Options {
	req, err := labels.NewRequirement(labkitv1alpha1.LabLabel, selection.Exists, nil)
	if err != nil { // a constant, valid label key
		panic(err)
	}
	byLab := cache.ByObject{Label: labels.NewSelector().Add(*req)}
	var namespaces map[string]cache.Config
	if len(watchNamespaces) > 0 {
		namespaces = make(map[string]cache.Config, len(watchNamespaces))
		for _, ns := range watchNamespaces {
			namespaces[ns] = cache.Config{}
		}
	}
	return cache.Options{
		DefaultNamespaces:           namespaces,
		ReaderFailOnMissingInformer: true,
		// managedFields are a good part of each cached object, and the controller never reads them;
		// the rest of the metadata is mostly strings each child repeats (slimMeta).
		DefaultTransform: slimChild,
		ByObject: map[client.Object]cache.ByObject{
			&labkitv1alpha1.JupyterLab{}:    {Transform: slimLab},
			&corev1.Pod{}:                   {Label: byLab.Label, Transform: slimPod},
			&corev1.Secret{}:                byLab,
			&corev1.Service{}:               byLab,
			&corev1.PersistentVolumeClaim{}: byLab,
			&appsv1.Deployment{}:            {Label: byLab.Label, Transform: slimDeployment},
			&networkingv1.Ingress{}:         byLab,
			&corev1.ConfigMap{}: {Namespaces: map[string]cache.Config{
				settings.Namespace: {FieldSelector: fields.OneTermEqualSelector("metadata.name", settings.Name)},
			}},
		},
	}
}
