package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/argocd"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/kindcluster"
	"github.com/labkit-dev/labkit/pkg/harness/localproc"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// runKind is the benchmark on kind: a cluster of its own, with the controller deployed by skaffold and
// Argo CD, as make e2e brings them up, plus the fake node pools. The labs fill the pools' GPUs twice
// over: first created through the API, then, once those are deleted, through the GitOps path (one
// commit of every lab and its Application, synced by Argo CD's app of apps).
func runKind(ctx context.Context, o options) (err error) {
	if len(o.controllerArgs) > 0 {
		return fmt.Errorf("--controller-arg %v: only for --provider=local; on kind the controller runs with the flags of pkg/manifests/controller/deployment.yaml", o.controllerArgs)
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	r := &report{title: fmt.Sprintf("labkit scale benchmark, kind cluster %s (kwok fake nodes; controller and Argo CD in the cluster)", o.cluster)}
	defer r.print(os.Stdout)
	labctl := filepath.Join(root, "bin", "labctl")
	if err := localproc.Build(ctx, root, "./cmd/labctl", labctl); err != nil {
		return err
	}
	pools, err := fakenodes.LoadFile(filepath.Join(root, "kind-config.yaml"), o.cluster)
	if err != nil {
		return err
	}
	// The figures are those of a fresh cluster, and the run leaves nothing behind: it makes its own.
	if ok, err := kindcluster.Exists(o.cluster); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("kind cluster %q exists; the benchmark makes a fresh one and deletes it after: delete it (kind delete cluster --name %s) or pass another --cluster", o.cluster, o.cluster)
	}

	log := logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil))
	// Its own ingress port, so that it runs beside the e2e cluster.
	k, err := stack.UpKind(ctx, stack.KindOptions{Root: root, Name: o.cluster, Log: log, Output: os.Stderr, IngressHostPort: 38085,
		ArgoCD: argoCDForScale, Step: func(what string, start time.Time) { r.add(what, "%.1f s", time.Since(start).Seconds()) }})
	if k.Cluster != nil {
		defer func() {
			if o.keepCluster {
				fmt.Printf("bench-scale: cluster %s kept (--keep-cluster): KUBECONFIG=%s\n", o.cluster, k.Cluster.Kubeconfig)
				return
			}
			err = errors.Join(err, k.Cluster.Down())
		}()
	}
	if err != nil {
		return err
	}
	c, err := newClient(k.Config)
	if err != nil {
		return err
	}

	start := time.Now()
	if err := k.Cluster.AddFakeNodes(ctx, stack.Waits.Timeout("wait-nodes-ready"), pools.Pools...); err != nil {
		return err
	}
	nodes, gpus := fakenodes.Size(pools.Pools...)
	r.add(fmt.Sprintf("kwok installed, %d fake nodes (%d GPUs) created and Ready", nodes, gpus), "%.1f s", time.Since(start).Seconds())
	if err := timeLabctlNodes(ctx, r, labctl, k.Cluster.Kubeconfig, nodes, o.labctlRuns); err != nil {
		return err
	}
	ctrl, err := clusterController(ctx, k.Config, c)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ctrl.stop()) }()

	// Only the fake pools are filled: the kind workers' GPUs stay free, for their pods would be real
	// containers, more than the host's cores can hold.
	apiNS, gitopsNS := o.namespace+"-api", o.namespace+"-gitops"
	apiLabs, err := planLabs(ctx, c, pools.Pools, apiNS, fakenodes.VolumeClass)
	if err != nil {
		return err
	}
	start = time.Now()
	// Volumes of a class of their own (kind's default class cannot provision on fake nodes), two sets:
	// released ones are kept, not reused.
	if err := fakenodes.CreateVolumes(ctx, c, "bench", 2*len(apiLabs)+1, false); err != nil {
		return err
	}
	r.add(fmt.Sprintf("%d fake volumes made", 2*len(apiLabs)+1), "%.1f s", time.Since(start).Seconds())

	r.add("(a) through the API", "namespace %s", apiNS)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: apiNS}}); err != nil {
		return err
	}
	if err := createAndMeasure(ctx, r, c, ctrl, apiLabs, "through the API", createLabs); err != nil {
		return err
	}
	start = time.Now()
	if err := deleteNamespace(ctx, c, apiNS); err != nil {
		return err
	}
	r.add(fmt.Sprintf("%d labs deleted, their namespace gone", len(apiLabs)), "%.1f s", time.Since(start).Seconds())

	r.add("(b) through GitOps", "namespace %s: one commit, Argo CD app of apps, controller", gitopsNS)
	gw, err := kindcluster.GatewayAddress(ctx)
	if err != nil {
		return err
	}
	g, err := stack.ServeGitOps(ctx, c, gw, true, log)
	if g.Server != nil {
		defer func() { err = errors.Join(err, g.Server.Close()) }()
	}
	if err != nil {
		return err
	}
	gitopsLabs, err := planLabs(ctx, c, pools.Pools, gitopsNS, fakenodes.VolumeClass)
	if err != nil {
		return err
	}
	commit := func(ctx context.Context, c client.Client, labs []lab) error {
		start := time.Now()
		res, _, err := g.Publisher.Create(ctx, labs, false)
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
	if err := createAndMeasure(ctx, r, c, ctrl, gitopsLabs, "as Applications by Argo CD (root app synced)", commit); err != nil {
		return err
	}
	return oneMore(ctx, r, c, labctl, k.Cluster.Kubeconfig, gitopsNS, pools.Pools)
}

// argoCDForScale sizes Argo CD for 1,000 Applications as its high-availability guide does ("for 1000
// applications, we use 50 for --status-processors and 25 for --operation-processors"), and compares
// each with Git at upstream's interval, 120 s, not every 10 s as the e2e suite has it: the new commit is
// seen at once anyway, through a refresh of the root Application.
var argoCDForScale = []argocd.Option{
	argocd.WithCommandParameters(map[string]string{"controller.status.processors": "50", "controller.operation.processors": "25"}),
	argocd.WithReconciliationTimeout(120 * time.Second),
}

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
