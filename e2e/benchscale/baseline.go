package main

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitcontroller "github.com/labkit-dev/labkit/pkg/controller"
)

// baseline creates, for each lab, the objects the controller would make for it (controller.Children),
// directly and with no controller running, and reports how long until every Deployment is Available:
// what the control plane, the volume binder, the scheduler and kwok of this machine take on their
// own, the floor under the labs' figure. It then deletes them, and the GPUs are free again.
func baseline(ctx context.Context, r *report, c client.WithWatch, labs []lab) error {
	ns := labs[0].Namespace
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	start := time.Now()
	w := watchObjects(ctx, c, ns, len(labs), &appsv1.Deployment{}, func() client.ObjectList { return &appsv1.DeploymentList{} },
		func(o client.Object) bool {
			d, ok := o.(*appsv1.Deployment)
			return ok && d.Status.AvailableReplicas > 0
		})
	defer w.stop()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, l := range labs {
		g.Go(func() error {
			for _, obj := range labkitcontroller.Children(l, labkitcontroller.Inputs{}) {
				if err := c.Create(gctx, obj); err != nil {
					return fmt.Errorf("create %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	created := time.Since(start)
	if err := w.wait(ctx, "wait-labs-ready"); err != nil {
		return err
	}
	all := time.Since(start)
	n := len(labs)
	r.add(fmt.Sprintf("baseline: the objects of %d labs created directly, no controller", n), "%.1f s", created.Seconds())
	r.add(fmt.Sprintf("baseline: %d Deployments Available (from the first create)", n), "%.1f s (%.1f a second; p50 %.1f s)",
		all.Seconds(), float64(n)/all.Seconds(), w.percentile(0.5).Seconds())
	start = time.Now()
	if err := deleteNamespace(ctx, c, ns); err != nil {
		return err
	}
	r.add("baseline: deleted, namespace gone", "%.1f s", time.Since(start).Seconds())
	return nil
}
