package controller

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

func TestTheCacheHoldsDeploymentsAsMetadataAndAStartedControllerReadsEachOnce(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "checked", 1)
	create(t, ctx, lab)
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod)
	key := client.ObjectKeyFromObject(lab)
	live := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: lab.Name, Namespace: ns}}
	waitForObject(t, ctx, live, "the lab's Deployment", always)
	cached := &appsv1.Deployment{}
	if err := (deploymentMetadata{mgrClient}).Get(ctx, key, cached); err != nil {
		t.Fatal(err)
	}
	if hasSpec(cached) || cached.Generation != live.Generation || cached.Annotations[TemplateHashAnnotation] == "" {
		t.Errorf("cached Deployment: spec %+v, generation %d, annotations %v; want no template, generation %d and the template hash",
			cached.Spec, cached.Generation, cached.Annotations, live.Generation)
	}
	// The cache holds Deployments as metadata only; reading one in full from it fails at once, rather
	// than starting a second watch that would cache every lab's Deployment whole.
	var notCached *cache.ErrResourceNotCached
	if err := mgrClient.Get(ctx, key, &appsv1.Deployment{}); !errors.As(err, &notCached) {
		t.Errorf("a whole Deployment read from the cache: %v; want ErrResourceNotCached", err)
	}

	// A controller that has just started has checked no Deployment: it reads the lab's once from the
	// API server, finds it as the lab wants it, and writes nothing; after that it reads it no more.
	var gets, writes atomic.Int64
	reader := interceptor.NewClient(noWatch{env.Client}, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*appsv1.Deployment); ok {
				gets.Add(1)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	countWrites := func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
		writes.Add(1)
		return c.Patch(ctx, obj, patch, opts...)
	}
	cachedClient := interceptor.NewClient(noWatch{mgrClient}, interceptor.Funcs{Patch: countWrites,
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			writes.Add(1)
			return c.Create(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			writes.Add(1)
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})
	started := &JupyterLabReconciler{Client: cachedClient, Scheme: env.Scheme, APIReader: reader, Activity: JupyterActivity{BaseURL: jupyterOf}}
	for i, wantGets := range []int64{1, 0, 0} {
		before := gets.Load()
		if _, err := started.Reconcile(ctx, reconcile.Request{NamespacedName: key}); err != nil {
			t.Fatal(err)
		}
		if n := gets.Load() - before; n != wantGets {
			t.Errorf("reconcile %d of a started controller read the Deployment %d times, want %d", i+1, n, wantGets)
		}
	}
	if n := writes.Load(); n != 0 {
		t.Errorf("a started controller made %d writes for a lab in its desired state, want 0", n)
	}

	// A label someone removes changes no generation: the metadata the cache keeps shows it, and it is
	// put back.
	delete(live.Labels, labkitv1alpha1.OwnerLabel)
	if err := env.Client.Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, live, "the removed label to be put back", func() string {
		if v, ok := live.Labels[labkitv1alpha1.OwnerLabel]; !ok || v != lab.Spec.Owner {
			return fmt.Sprintf("labels %v", live.Labels)
		}
		return ""
	})
}

// noWatch lets a client that cannot watch be wrapped by an interceptor, for a reconciler that never watches.
type noWatch struct{ client.Client }

func (noWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("no watch here")
}
