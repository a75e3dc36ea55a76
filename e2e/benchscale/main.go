// Command benchscale is `make bench-scale`: it runs labkit at scale on fake kwok nodes and prints a
// table of figures. It is a benchmark, not a test: it fails only when something breaks, never on time.
//
// On the Docker-free provider it starts a local control plane with the fake node pools of
// kind-config.yaml and runs the controller on the host. It first times a baseline: the objects the
// controller would make for the labs, created directly with no controller. It then creates labs that fill every fake GPU exactly
// through the API, and measures how fast they become Ready, what the controller costs and how many
// API requests a reconcile makes. One more GPU request must then be refused by labctl and, applied
// directly, be reported Unschedulable, with the other labs undisturbed.
//
// On kind it makes a cluster of its own as make e2e does (controller deployed by skaffold, Argo CD),
// adds the pools with kwok, and fills the GPUs twice: through the API, then, after deleting those
// labs, through the GitOps path: one commit of every lab and its Application, synced by Argo CD.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labkit-dev/labkit/pkg/stack"
)

func main() {
	var o options
	flag.StringVar(&o.provider, "provider", stack.ProviderAuto, "where to run: kind (needs Docker; adds the GitOps path), local (Docker-free), or auto: kind if a Docker engine answers, else local")
	flag.StringVar(&o.cluster, "cluster", "labkit-scale", "on kind: the cluster the run makes, and deletes after")
	flag.BoolVar(&o.keepCluster, "keep-cluster", false, "on kind: keep the cluster after the run, for a look")
	flag.StringVar(&o.root, "root", ".", "the project: kind-config.yaml and cmd/")
	flag.StringVar(&o.namespace, "namespace", "scale", "namespace of the labs")
	flag.BoolVar(&o.baseline, "baseline", true, "on local: first time the objects of the labs created directly, with no controller: the floor under the labs' figure")
	flag.IntVar(&o.labctlRuns, "labctl-runs", 5, "how many times `labctl nodes` is timed")
	flag.DurationVar(&o.cullingPeriod, "culling-period", 10*time.Second, "on local: how often the controller reads each lab's activity while its culling cost is measured")
	flag.DurationVar(&o.cullingWindow, "culling-window", time.Minute, "on local: how long the culling cost is measured; 0 skips it")
	flag.Var(&o.controllerArgs, "controller-arg", "an extra flag for the controller, e.g. --controller-arg=--kube-api-qps=20 (repeatable)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	provider, err := stack.ChooseProvider(ctx, "bench-scale", o.provider)
	if err == nil {
		run := runLocal
		if provider == stack.ProviderKind {
			run = runKind
		}
		err = run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		stop()
		os.Exit(1)
	}
}

type options struct {
	provider, cluster string
	keepCluster       bool
	baseline          bool
	root, namespace   string
	labctlRuns        int
	controllerArgs    stringList
	cullingPeriod     time.Duration
	cullingWindow     time.Duration
}

type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
