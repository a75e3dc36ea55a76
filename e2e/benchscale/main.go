// Command benchscale is `make bench-scale`: it runs labkit at scale on fake kwok nodes and prints a
// table of figures. It is a benchmark, not a test: it fails only when something breaks, never on time.
//
// It brings up a cluster of its own with a provider of pkg/stack (the Docker-free local control plane
// with the controller on the host, or kind with the controller deployed by skaffold and Argo CD, as
// make e2e does) and adds the fake node pools of kind-config.yaml with kwok (--scale times over). It
// first times a baseline: the objects the controller would make for the labs, created directly with
// no controller. It then creates labs that fill every fake GPU exactly through the API (unless
// --through-api=false), and measures how fast they become Ready, what the controller costs and how
// many API requests a reconcile makes.
// Where Argo CD runs, it deletes those labs and fills the GPUs again through the GitOps path, once in
// each layout of docs/gitops-layout.md (one Application per namespace, then one per lab): one commit of
// every lab, synced by Argo CD, then one lab more committed into that branch with and without the
// refresh nudge, the latency a person feels. One more GPU request must then be
// refused by labctl and, applied directly, be reported Unschedulable, with the other labs undisturbed.
// Where the controller runs on this machine, it last measures what watching every lab's activity for
// idle culling costs.
//
// With --failover it is `make bench-failover` instead, on the local provider: two controllers elect a
// leader over --failover-labs labs, and the leader is SIGKILLed --kills times for each of --leases,
// timing from each kill until the other controller holds the Lease and until a lab created after the
// kill is Ready. It says how many handovers were within the lease duration and a retry period, and a
// handover longer than client-go's worst case (a lease duration and 4.4 retry periods, + --handover-slack)
// fails the run. Then the leader is killed half-way through the creation of --midway-labs labs, and each lab
// must end up Ready with every child the controller makes for it, once. See failover.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labkit-dev/labkit/pkg/harness/intervals"
	"github.com/labkit-dev/labkit/pkg/stack"
)

func main() {
	var o options
	flag.StringVar(&o.provider, "provider", stack.ProviderAuto, "where to run: kind (needs Docker; adds the GitOps path), local (Docker-free), or auto: kind if a Docker engine answers, else local")
	flag.StringVar(&o.cluster, "cluster", "labkit-scale", "the cluster the run makes, and deletes after, where the provider names clusters")
	flag.BoolVar(&o.keepCluster, "keep-cluster", false, "keep the cluster after the run, for a look, where it can outlive the run (kind)")
	flag.Float64Var(&o.scale, "scale", 1, "make kind-config.yaml's fake node pools this many times over: 1 is 1,000 labs, 2 is 2,000, 5 is 5,000; 0.1 (100 labs) for a quick look")
	flag.StringVar(&o.root, "root", ".", "the project: kind-config.yaml and cmd/")
	flag.StringVar(&o.namespace, "namespace", "scale", "namespace of the labs")
	flag.BoolVar(&o.baseline, "baseline", true, "first time the objects of the labs created directly, with no controller: the floor under the labs' figure")
	flag.BoolVar(&o.throughAPI, "through-api", true, "fill the GPUs with labs created through the API; false measures only the GitOps path (kind), about 10 minutes sooner")
	flag.IntVar(&o.labctlRuns, "labctl-runs", 5, "how many times `labctl nodes` is timed")
	flag.DurationVar(&o.cullingPeriod, "culling-period", 10*time.Second, "where the controller runs on this machine (local): how often it reads each lab's activity while its culling cost is measured")
	flag.DurationVar(&o.cullingWindow, "culling-window", time.Minute, "where the controller runs on this machine (local): how long the culling cost is measured; 0 skips it")
	flag.Var(&o.controllerArgs, "controller-arg", "an extra flag for the controller, e.g. --controller-arg=--kube-api-qps=20 (repeatable)")
	flag.BoolVar(&o.failover, "failover", false, "run the failover benchmark (make bench-failover) instead: two controllers on this machine, the leader SIGKILLed; --provider auto means local")
	flag.IntVar(&o.failoverLabs, "failover-labs", 200, "with --failover: how many labs there are while the leader is killed")
	flag.IntVar(&o.kills, "kills", 5, "with --failover: how many times the leader is killed for each lease setting; 0 skips")
	o.leases = leaseList{{15 * time.Second, 10 * time.Second, 2 * time.Second}, {4 * time.Second, 3 * time.Second, time.Second}}
	flag.Var(&o.leases, "leases", "with --failover: the controllers' lease settings, LEASE/RENEW/RETRY, separated by commas; the first is controller-runtime's default")
	flag.DurationVar(&o.handoverSlack, "handover-slack", time.Second, "with --failover: slack for a loaded machine: a handover longer than client-go's worst case (lease + 4.4 retry periods) plus this fails the run")
	flag.IntVar(&o.midwayLabs, "midway-labs", 1000, "with --failover: how many labs are created as fast as can be, the leader killed half-way through; 0 skips")
	waits := intervals.AddFlags(flag.CommandLine)
	flag.Parse()
	if err := stretchWaits(waits, o.scale); err != nil {
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	who, runIt := "bench-scale", run
	if o.failover {
		who, runIt = "bench-failover", runFailover
		if o.provider == stack.ProviderAuto {
			o.provider = stack.ProviderLocal // the only provider that runs the controller on this machine
		}
	}
	name, err := stack.ChooseProvider(ctx, who, o.provider)
	if err == nil {
		var provider stack.Provider
		if provider, err = stack.LookupProvider(name); err == nil {
			err = runIt(ctx, provider, o)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, who+":", err)
		stop()
		os.Exit(1)
	}
}

// labWaits are the waits on every lab of a run, whose timeouts are for 1,000 labs: --scale multiplies
// them, so that a run of 5,000 labs is not cut off at a fifth of its way.
var labWaits = []string{"wait-labs-ready"}

// stretchWaits applies -intervals and -interval-scale to stack.Waits, and scale to labWaits.
func stretchWaits(f *intervals.Flags, scale float64) error {
	waits, err := f.Apply(stack.Waits)
	if err != nil {
		return err
	}
	more := intervals.Table{}
	for _, name := range labWaits {
		iv := waits.Get(name)
		iv.Timeout = time.Duration(float64(iv.Timeout) * max(scale, 1)) // fewer labs keep the timeouts for 1,000
		more[name] = iv
	}
	stack.Waits = waits.With(more)
	return nil
}

type options struct {
	provider, cluster string
	keepCluster       bool
	baseline          bool
	throughAPI        bool
	root, namespace   string
	labctlRuns        int
	scale             float64
	controllerArgs    stringList
	cullingPeriod     time.Duration
	cullingWindow     time.Duration

	// The failover benchmark's.
	failover                        bool
	failoverLabs, kills, midwayLabs int
	leases                          leaseList
	handoverSlack                   time.Duration
}

type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
