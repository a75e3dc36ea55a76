//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/harness/assert"
	"github.com/labkit-dev/labkit/pkg/stack"
)

func TestDrift(t *testing.T) {
	restored := features.New("A lab's Deployment deleted by hand comes back").
		Setup(inNamespace("drift")).
		Setup(applyLab("requests/lab-cpu.yaml")).
		Assess("the lab is Ready", expect("expected/lab-cpu-ready.yaml", "wait-lab-ready")).
		Assess("a Deployment deleted by hand is restored and becomes Available again", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, l := from(ctx), lab(ctx)
			dep := &appsv1.Deployment{}
			if err := s.client.Get(ctx, client.ObjectKey{Namespace: l.Namespace, Name: l.Name}, dep); err != nil {
				t.Fatal(err)
			}
			if err := s.client.Delete(ctx, dep); err != nil {
				t.Fatal(err)
			}
			restored := []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + l.Name + `}
status:
  conditions: [{type: Available, status: "True"}]
`)
			err := stack.Waits.Until(ctx, "wait-restored", func(ctx context.Context) (string, error) {
				again := &appsv1.Deployment{}
				err := s.client.Get(ctx, client.ObjectKeyFromObject(dep), again)
				switch {
				case apierrors.IsNotFound(err):
					return fmt.Sprintf("Deployment %s/%s not recreated", l.Namespace, l.Name), nil
				case err != nil:
					return "", err
				case again.UID == dep.UID:
					return fmt.Sprintf("Deployment %s/%s still the deleted one", l.Namespace, l.Name), nil
				}
				return "", nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := assert.Object(ctx, s.client, restored, assert.WithNamespace(l.Namespace), assert.WithTimeout("wait-lab-ready", timeout("wait-lab-ready"))); err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Teardown(deleteNamespace()).
		Feature()

	pruned := features.New("A lab deleted with labctl is pruned by Argo CD with everything made for it").
		WithLabel(labelNeeds, needsContainers). // Argo CD
		Setup(inNamespace("prune")).
		Setup(requestLab("requests/lab-cpu.yaml")).
		Assess("Argo CD syncs the lab and finds it Healthy", appSynced()).
		Assess("labctl delete makes Argo CD prune the lab, and its Deployment, Service, PVC and Secret go with it", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			ctx = removeLab()(ctx, t, cfg)
			s, l := from(ctx), lab(ctx)
			meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: l.Namespace, Name: name} }
			for _, obj := range []client.Object{
				&labkitv1alpha1.JupyterLab{ObjectMeta: meta(l.Name)},
				&appsv1.Deployment{ObjectMeta: meta(l.Name)},
				&corev1.Service{ObjectMeta: meta(l.Name)},
				&corev1.PersistentVolumeClaim{ObjectMeta: meta(l.Name + "-work")},
				&corev1.Secret{ObjectMeta: meta(l.Name + "-jupyter-config")},
			} {
				if err := assert.Gone(ctx, s.client, obj, assert.WithTimeout("wait-gone", timeout("wait-gone"))); err != nil {
					t.Error(err)
				}
			}
			return ctx
		}).
		Teardown(deleteNamespace()).
		Feature()
	testParallel(t, restored, pruned)
}
