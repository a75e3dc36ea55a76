package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/localcluster"
	"github.com/labkit-dev/labkit/pkg/harness/localproc"
	"github.com/labkit-dev/labkit/pkg/manifests"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// runLocal is the benchmark on the Docker-free provider.
func runLocal(ctx context.Context, o options) (err error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	r := &report{title: "labkit scale benchmark, Docker-free provider (local control plane, kwok, controller on the host)"}
	defer r.print(os.Stdout)
	bin := filepath.Join(root, "bin")
	for _, b := range []struct{ name, pkg string }{{"labkit-controller", "./cmd/labkit-controller"}, {"labctl", "./cmd/labctl"}} {
		if err := localproc.Build(ctx, root, b.pkg, filepath.Join(bin, b.name)); err != nil {
			return err
		}
	}
	pools, err := fakenodes.LoadFile(filepath.Join(root, "kind-config.yaml"), stack.ClusterName)
	if err != nil {
		return err
	}

	start := time.Now()
	cluster, err := localcluster.Start(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cluster.Stop()) }()
	r.add("local control plane and kwok started", "%.1f s", time.Since(start).Seconds())
	fmt.Printf("bench-scale: KUBECONFIG=%s\n", cluster.Kubeconfig)
	c, err := newClient(cluster.Config)
	if err != nil {
		return err
	}

	start = time.Now()
	if err := fakenodes.Create(ctx, c, pools.Pools...); err != nil {
		return err
	}
	if err := fakenodes.WaitReady(ctx, c, stack.Waits.Timeout("wait-nodes-ready"), pools.Pools...); err != nil {
		return err
	}
	nodes, gpus := fakenodes.Size(pools.Pools...)
	r.add(fmt.Sprintf("%d fake nodes (%d GPUs) created and Ready", nodes, gpus), "%.1f s", time.Since(start).Seconds())

	if _, err := apply.Apply(ctx, c, manifests.CRD()); err != nil {
		return err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.namespace}}); err != nil {
		return err
	}
	// No Jupyter server runs on kwok's nodes: a fake one answers for every lab's activity.
	jupyter := startFakeJupyter()
	defer jupyter.srv.Close()
	ctrl, err := startController(ctx, filepath.Join(bin, "labkit-controller"), cluster.Kubeconfig,
		append([]string{"--jupyter-url-override=" + jupyter.srv.URL}, o.controllerArgs...))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ctrl.stop()) }()

	if err := timeLabctlNodes(ctx, r, filepath.Join(bin, "labctl"), cluster.Kubeconfig, nodes, o.labctlRuns); err != nil {
		return err
	}

	labs, err := planLabs(ctx, c, pools.Pools, o.namespace, "")
	if err != nil {
		return err
	}
	volumes := len(labs) + 1
	if o.baseline {
		volumes += len(labs) // released volumes are kept, not reused
	}
	start = time.Now()
	if err := fakenodes.CreateVolumes(ctx, c, "bench", volumes, true); err != nil {
		return err
	}
	r.add(fmt.Sprintf("%d fake volumes made", volumes), "%.1f s", time.Since(start).Seconds())
	if o.baseline {
		base, err := planLabs(ctx, c, pools.Pools, o.namespace+"-baseline", "")
		if err != nil {
			return err
		}
		if err := baseline(ctx, r, c, base); err != nil {
			return err
		}
	}
	if err := createAndMeasure(ctx, r, c, ctrl, labs, "through the API", createLabs); err != nil {
		return err
	}
	if err := oneMore(ctx, r, c, filepath.Join(bin, "labctl"), cluster.Kubeconfig, o.namespace, pools.Pools); err != nil {
		return err
	}
	if o.cullingWindow == 0 {
		return nil
	}
	return cullingCost(ctx, r, c, ctrl, jupyter, len(labs), o.cullingPeriod, o.cullingWindow)
}

// createAndMeasure creates the labs (all in one namespace) with create, waits until all are Ready,
// and reports how long that took and what it cost the controller (its figures before and after).
func createAndMeasure(ctx context.Context, r *report, c client.WithWatch, ctrl *controller, labs []lab, how string,
	create func(context.Context, client.Client, []lab) error) error {
	before, err := ctrl.sample(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	w := watchReady(ctx, c, labs[0].Namespace, len(labs))
	defer w.stop()
	if err := create(ctx, c, labs); err != nil {
		return err
	}
	created := time.Since(start)
	if err := w.wait(ctx, stack.Waits.Timeout("wait-labs-ready")); err != nil {
		return err
	}
	allReady := time.Since(start)
	after, err := ctrl.sample(ctx)
	if err != nil {
		return err
	}
	n := float64(len(labs))
	r.add(fmt.Sprintf("%d labs created %s", len(labs), how), "%.1f s", created.Seconds())
	r.add(fmt.Sprintf("%d labs Ready (from the start of the create)", len(labs)), "%.1f s", allReady.Seconds())
	r.add("labs Ready per second", "%.1f", n/allReady.Seconds())
	r.add("lab Ready latency p50 / p99 / max", "%.1f / %.1f / %.1f s", w.percentile(0.5).Seconds(), w.percentile(0.99).Seconds(), w.percentile(1).Seconds())
	r.add("controller peak RSS ("+ctrl.peakNote()+")", "%.1f MiB", float64(after.usage.PeakRSS)/(1<<20))
	r.add("controller RSS now", "%.1f MiB", float64(after.usage.RSS)/(1<<20))
	cpu := after.usage.CPU - before.usage.CPU
	r.add("controller CPU for the run", "%.1f s (%.0f%% of one core)", cpu.Seconds(), 100*cpu.Seconds()/allReady.Seconds())
	reconciles := after.reconciles - before.reconciles
	requests := after.requests.total() - before.requests.total()
	r.add("reconciles", "%.0f (%.2f per lab)", reconciles, reconciles/n)
	r.add("API requests per reconcile", "%.2f", requests/reconciles)
	r.add("API requests per lab, by verb", "%s", after.requests.minus(before.requests).perLab(n))
	return nil
}
