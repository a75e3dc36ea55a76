package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labargocd "github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/harness/argocd"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/localproc"
	"github.com/labkit-dev/labkit/pkg/labstatus"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// run is the benchmark on whatever cluster the provider brings up, a fresh one of the run's own. What
// it measures depends on what the cluster has, never on the provider's name: the GitOps path where
// Argo CD runs, the culling cost where the controller runs on this machine (flags reach it, /proc is
// read).
func run(ctx context.Context, provider stack.Provider, o options) (err error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	culling := o.cullingWindow > 0
	if culling && !provider.HostController {
		fmt.Printf("bench-scale: the culling cost is not measured: provider %s runs the controller in the cluster, where the fake Jupyter server's flag cannot reach it\n", provider.Name)
		culling = false
	}
	r := &report{title: fmt.Sprintf("labkit scale benchmark, provider %s (%s), kwok fake nodes", provider.Name, provider.Help)}
	defer r.print(os.Stdout)
	labctl := filepath.Join(root, "bin", "labctl")
	if err := localproc.Build(ctx, root, "./cmd/labctl", labctl); err != nil {
		return err
	}
	cfg, err := fakenodes.LoadFile(filepath.Join(root, "kind-config.yaml"), o.cluster)
	if err != nil {
		return err
	}
	pools, err := scalePools(cfg.Pools, o.scale)
	if err != nil {
		return err
	}

	args := append([]string(nil), o.controllerArgs...)
	// No Jupyter server runs on kwok's nodes: a fake one answers for every lab's activity.
	var jupyter *fakeJupyter
	if culling {
		jupyter = startFakeJupyter()
		defer jupyter.srv.Close()
		args = append(args, "--jupyter-url-override="+jupyter.srv.URL)
	}
	log := logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil))
	cluster, err := provider.Up(ctx, stack.Options{Root: root, Name: o.cluster, New: true,
		// Its own ingress and registry ports, so that it runs beside the e2e cluster.
		IngressHostPort: 38085, RegistryHostPort: 5005, ArgoCD: argoCDForScale, ControllerArgs: args,
		Log: log, Output: os.Stderr, Step: func(what string, start time.Time) { r.add(what, "%.1f s", time.Since(start).Seconds()) }})
	if cluster != nil {
		defer func() { err = errors.Join(err, cluster.Down(context.WithoutCancel(ctx), o.keepCluster)) }()
	}
	if err != nil {
		return err
	}
	if err := checkPaths(o, provider.Name, cluster.ArgoCD()); err != nil {
		return err
	}
	fmt.Printf("bench-scale: KUBECONFIG=%s\n", cluster.Kubeconfig())
	c, err := newClient(cluster.RESTConfig())
	if err != nil {
		return err
	}

	start := time.Now()
	if err := cluster.AddFakeNodes(ctx, pools...); err != nil {
		return err
	}
	nodes, gpus := fakenodes.Size(pools...)
	r.add(fmt.Sprintf("%d fake nodes (%d GPUs) created and Ready", nodes, gpus), "%.1f s", time.Since(start).Seconds())
	if err := timeLabctlNodes(ctx, r, labctl, cluster.Kubeconfig(), nodes, o.labctlRuns); err != nil {
		return err
	}
	ctrl, err := measure(ctx, cluster)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ctrl.stop()) }()

	// Only the fake pools are filled: the cluster's own workers' GPUs stay free (on kind their pods
	// would be real containers, more than the host's cores can hold). The labs' volumes are fake ones
	// of a class of their own (a cluster's default class cannot provision on fake nodes); released
	// volumes are kept, not reused, so each set of labs gets its own.
	apiNS, gitopsNS := o.namespace+"-api", o.namespace+"-gitops"
	apiLabs, err := planLabs(ctx, c, pools, apiNS, fakenodes.VolumeClass)
	if err != nil {
		return err
	}
	sets := 0
	if o.throughAPI {
		sets++
	}
	if o.baseline {
		sets++
	}
	if cluster.ArgoCD() {
		sets += gitPasses
	}
	// And one more GPU lab to be refused, and two late labs per GitOps pass.
	volumes := sets*len(apiLabs) + 1 + 2*gitPasses
	start = time.Now()
	if err := fakenodes.CreateVolumes(ctx, c, "bench", volumes, false); err != nil {
		return err
	}
	r.add(fmt.Sprintf("%d fake volumes made", volumes), "%.1f s", time.Since(start).Seconds())

	if o.baseline {
		base, err := planLabs(ctx, c, pools, o.namespace+"-baseline", fakenodes.VolumeClass)
		if err != nil {
			return err
		}
		if err := baseline(ctx, r, c, base); err != nil {
			return err
		}
	}
	last := ""
	if o.throughAPI {
		r.add("(a) through the API", "namespace %s", apiNS)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: apiNS}}); err != nil {
			return err
		}
		if err := createAndMeasure(ctx, r, c, ctrl, apiLabs, "through the API", createLabs); err != nil {
			return err
		}
		last = apiNS
	}
	if cluster.ArgoCD() {
		if last != "" {
			start = time.Now()
			if err := deleteNamespace(ctx, c, last); err != nil {
				return err
			}
			r.add(fmt.Sprintf("%d labs deleted, their namespace gone", len(apiLabs)), "%.1f s", time.Since(start).Seconds())
		}
		if last, err = throughGitOps(ctx, r, cluster, c, ctrl, pools, gitopsNS, log); err != nil {
			return err
		}
	}
	if err := oneMore(ctx, r, c, labctl, cluster.Kubeconfig(), last, pools); err != nil {
		return err
	}
	if !culling {
		return nil
	}
	return cullingCost(ctx, r, c, ctrl, jupyter, len(apiLabs), o.cullingPeriod, o.cullingWindow)
}

// checkPaths refuses a run that would fill the GPUs by no path at all: --through-api=false on a
// cluster with no Argo CD, where the GitOps path is missing too.
func checkPaths(o options, provider string, argoCD bool) error {
	if !o.throughAPI && !argoCD {
		return fmt.Errorf("--through-api=false leaves nothing to measure: provider %s runs no Argo CD, so there is no GitOps path either; drop the flag, or give --provider=%s", provider, stack.ProviderKind)
	}
	return nil
}

// gitPasses is how many times throughGitOps fills the GPUs: once per layout, and once through an
// ApplicationSet.
var gitPasses = len(generator.Layouts) + 1

// throughGitOps fills the GPUs again through the GitOps path, once in each layout (docs/gitops-layout.md):
// one commit of every lab, synced by Argo CD's app of apps, then two labs more committed one by one
// into the branch that holds them, one with the refresh nudge labctl --wait gives and one without.
// The namespace layout's labs are then removed through Git, and the GPUs filled and emptied once more
// through an ApplicationSet (throughApplicationSet), so that the lab layout's fill the same GPUs;
// those stay, in the namespace it returns.
func throughGitOps(ctx context.Context, r *report, cluster stack.Cluster, c client.WithWatch, ctrl *controller,
	pools []fakenodes.Pool, prefix string, log logr.Logger) (ns string, err error) {
	host, err := cluster.HostAddress(ctx)
	if err != nil {
		return "", err
	}
	g, err := stack.ServeGitOps(ctx, c, host, true, log)
	if g.Server != nil {
		defer func() { err = errors.Join(err, g.Server.Close()) }()
	}
	if err != nil {
		return "", err
	}
	for i, layout := range []generator.Layout{generator.LayoutNamespace, generator.LayoutLab} {
		ns = prefix + "-" + string(layout)
		r.add(fmt.Sprintf("(%c) through GitOps, layout %q", 'b'+2*i, layout), "namespace %s: one commit, Argo CD app of apps, controller", ns)
		pub := *g.Publisher
		pub.Target.Layout = layout
		labs, err := planLabs(ctx, c, pools, ns, fakenodes.VolumeClass)
		if err != nil {
			return "", err
		}
		commit := func(ctx context.Context, c client.Client, labs []lab) error {
			start := time.Now()
			res, _, err := pub.Create(ctx, labs, false)
			if err != nil {
				return err
			}
			r.add(fmt.Sprintf("one commit of %d labs and their Applications pushed", len(labs)), "%.1f s", time.Since(start).Seconds())
			if err := argocd.Refresh(ctx, c, stack.ArgoCDNamespace, stack.RootApp); err != nil {
				return err
			}
			_, err = argocd.WaitForApplication(ctx, c, stack.ArgoCDNamespace, stack.RootApp, argocd.AtRevision(res.Commit),
				argocd.WaitTimeout("wait-root-app-synced", stack.Waits.Timeout("wait-labs-ready")))
			return err
		}
		if err := createAndMeasure(ctx, r, c, ctrl, labs, "by Argo CD (root app synced)", commit); err != nil {
			return "", err
		}
		nudge := func(ctx context.Context, name string) error {
			src := labstatus.Sources{Cluster: c, ArgoNamespace: stack.ArgoCDNamespace}
			_, err := labstatus.Nudge(ctx, src, pub.Target, ns, name)
			return err
		}
		poll := fmt.Sprintf("Argo CD polls Git every %s", argoCDReconciliation)
		if err := oneMoreThroughGit(ctx, r, c, &pub, ns, len(labs), nudge, poll); err != nil {
			return "", err
		}
		if err := oneMoreThroughGit(ctx, r, c, &pub, ns, len(labs)+1, nil, poll); err != nil {
			return "", err
		}
		if layout == generator.LayoutNamespace {
			if err := removeThroughGit(ctx, r, c, &pub, ns); err != nil {
				return "", err
			}
			if err := throughApplicationSet(ctx, r, c, ctrl, g.Publisher, pools, prefix+"-applicationset"); err != nil {
				return "", err
			}
		}
	}
	return ns, nil
}

// oneMoreThroughGit commits one CPU lab more into the branch, which holds the have labs of ns
// already, and reports how long until it is Ready: what a person feels. A nudge, if not nil, is called
// right after the push with the lab's name (labctl --wait refreshes the root Application and the
// lab's); without one, Argo CD sees the commit when it next polls Git, as poll says.
func oneMoreThroughGit(ctx context.Context, r *report, c client.WithWatch, pub *generator.Publisher, ns string, have int,
	nudge func(ctx context.Context, name string) error, poll string) error {
	m, err := newLabMaker(ctx, c)
	if err != nil {
		return err
	}
	name, how := "late-nudged", "with the refresh nudge"
	if nudge == nil {
		name, how = "late-polled", "without a nudge ("+poll+")"
	}
	l, err := m.build(generator.Request{Name: name, Namespace: ns, StorageClass: fakenodes.VolumeClass})
	if err != nil {
		return err
	}
	w := watchReady(ctx, c, ns, have+1)
	defer w.stop()
	if err := w.waitSynced(ctx); err != nil {
		return err
	}
	start := time.Now()
	if _, _, err := pub.Create(ctx, []lab{l}, false); err != nil {
		return err
	}
	if nudge != nil {
		if err := nudge(ctx, name); err != nil {
			return err
		}
	}
	if err := w.wait(ctx, "wait-labs-ready"); err != nil {
		return err
	}
	at, _ := w.readyAt(name)
	r.add(fmt.Sprintf("one more lab committed beside %d, Ready, %s", have, how), "%.1f s", at.Sub(start).Seconds())
	return nil
}

// removeThroughGit removes every lab of ns, and the namespace's Application, in one commit, and waits
// until Argo CD has deleted the Application and with it the labs; then the namespace goes.
func removeThroughGit(ctx context.Context, r *report, c client.Client, pub *generator.Publisher, ns string) error {
	start := time.Now()
	_, err := pub.Repo.Commit(ctx, "Remove the labs of "+ns, func(*gitops.Tree) ([]gitops.Change, error) {
		return []gitops.Change{{Path: path.Join(generator.LabsDir, ns), Delete: true}, {Path: pub.Target.NamespaceAppPath(ns), Delete: true}}, nil
	})
	if err != nil {
		return err
	}
	if err := argocd.Refresh(ctx, c, stack.ArgoCDNamespace, stack.RootApp); err != nil {
		return err
	}
	app := pub.Target.NamespaceAppName(ns)
	err = stack.Waits.Until(ctx, "wait-labs-ready", func(ctx context.Context) (string, error) {
		switch _, err := labargocd.Get(ctx, c, stack.ArgoCDNamespace, app); {
		case apierrors.IsNotFound(err):
			return "", nil
		case err != nil:
			return "", err
		}
		return "Argo CD still has application " + app + " (its finalizer deletes the labs first)", nil
	})
	if err != nil {
		return err
	}
	if err := deleteNamespace(ctx, c, ns); err != nil {
		return err
	}
	r.add("those labs removed in one commit, their Application and namespace gone", "%.1f s", time.Since(start).Seconds())
	return nil
}

// scalePools multiplies every pool's node count by scale, for runs at 2,000 or 5,000 labs, or 100;
// a pool keeps at least one node.
func scalePools(pools []fakenodes.Pool, scale float64) ([]fakenodes.Pool, error) {
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("--scale=%v: give how many times over to make kind-config.yaml's fake node pools, a number above 0 (1 is 1,000 labs, 5 is 5,000, 0.1 is 100)", scale)
	}
	out := make([]fakenodes.Pool, len(pools))
	for i, p := range pools {
		p.Count = max(1, int(math.Round(float64(p.Count)*scale)))
		out[i] = p
	}
	return out, nil
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
	if err := w.wait(ctx, "wait-labs-ready"); err != nil {
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
	r.add("controller RSS now", "%.1f MiB (%.1f MiB per 1,000 labs)", float64(after.usage.RSS)/(1<<20), float64(after.usage.RSS)/(1<<20)/n*1000)
	r.add("controller Go heap in use now", "%.1f MiB", after.heap/(1<<20))
	cpu := after.usage.CPU - before.usage.CPU
	r.add("controller CPU for the run", "%.1f s (%.0f%% of one core; %.1f s per 1,000 labs)", cpu.Seconds(), 100*cpu.Seconds()/allReady.Seconds(), cpu.Seconds()/n*1000)
	reconciles := after.reconciles - before.reconciles
	requests := after.requests.total() - before.requests.total()
	r.add("reconciles", "%.0f (%.2f per lab)", reconciles, reconciles/n)
	r.add("API requests per reconcile", "%.2f", requests/reconciles)
	r.add("API requests per lab, by verb", "%s", after.requests.minus(before.requests).perLab(n))
	return nil
}

// argoCDForScale sizes Argo CD for 1,000 Applications as its high-availability guide does ("for 1000
// applications, we use 50 for --status-processors and 25 for --operation-processors"), and compares
// each with Git at upstream's interval, 120 s, not every 10 s as the e2e suite has it: the new commit is
// seen at once anyway, through a refresh of the root Application.
var argoCDForScale = []argocd.Option{
	argocd.WithApplicationSet(), // for the ApplicationSet pass (appset.go)
	argocd.WithCommandParameters(map[string]string{"controller.status.processors": "50", "controller.operation.processors": "25"}),
	argocd.WithReconciliationTimeout(argoCDReconciliation),
}

// argoCDReconciliation is how often Argo CD compares the Applications with Git in the benchmark.
const argoCDReconciliation = 120 * time.Second

// deleteNamespace deletes ns and waits until it is gone, and with it everything in it.
func deleteNamespace(ctx context.Context, c client.Client, ns string) error {
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	if err := c.Delete(ctx, obj); err != nil {
		return err
	}
	return stack.Waits.Until(ctx, "wait-labs-ready", func(ctx context.Context) (string, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		switch {
		case apierrors.IsNotFound(err):
			return "", nil
		case err != nil:
			return "", err
		}
		return fmt.Sprintf("namespace %s still there (phase %s, conditions %v)", ns, obj.Status.Phase, obj.Status.Conditions), nil
	})
}
