package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	controllercmd "github.com/labkit-dev/labkit/pkg/cmd/labkitcontroller"
	labkitcontroller "github.com/labkit-dev/labkit/pkg/controller"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// The failover benchmark (--failover, make bench-failover): two controllers on this machine elect a
// leader; the leader is killed as a crash kills it (SIGKILL: its Lease is not handed back), --kills
// times for each of --leases, and the handover is timed. Last, the leader is killed half-way through
// the creation of --midway-labs labs, and every lab must end up Ready with its children, each once.

const (
	// leaseNamespace holds the leader election Lease: a namespace the API server makes itself, there
	// before the first controller starts.
	leaseNamespace = metav1.NamespaceSystem
	// failoverPool is the pool of kind-config.yaml whose fake nodes run the labs: labs without GPUs.
	failoverPool = "fake-cpu"
	// The namespaces of the labs that are there before the kills, of the lab created after each kill,
	// and of the labs whose creation a kill cuts in two.
	failoverNS = "failover"
	probeNS    = "failover-probe"
	midwayNS   = "failover-midway"
)

// The figures of each kill.
const (
	figTaken    = "kill -> lease taken over (watch)"
	figAcquired = "kill -> acquireTime the new leader wrote"
	figProbe    = "kill -> a lab created after the kill Ready"
)

// leaseSetting is the controllers' leader election timings.
type leaseSetting struct{ duration, renew, retry time.Duration }

func (l leaseSetting) String() string {
	return fmt.Sprintf("lease %s / renew %s / retry %s", l.duration, l.renew, l.retry)
}

// args are the controller's flags for it.
func (l leaseSetting) args() []string {
	return []string{"--leader-elect", "--leader-election-namespace=" + leaseNamespace,
		"--leader-elect-lease-duration=" + l.duration.String(), "--leader-elect-renew-deadline=" + l.renew.String(),
		"--leader-elect-retry-period=" + l.retry.String()}
}

// soon is when a handover would be over at first sight: the other replica takes the Lease a lease
// duration after the leader last renewed it, at its next try, a retry period later; slack is for a
// loaded machine.
func (l leaseSetting) soon(slack time.Duration) time.Duration { return l.duration + l.retry + slack }

// bound is the longest a handover can take with client-go's leader election (plus slack). A replica
// that does not lead tries the Lease every retry period plus up to leaderelection.JitterFactor periods
// more, at random, and takes it at its first try once it has not seen the Lease change for a lease
// duration. So it may see the leader's last renewal up to (1+JitterFactor) retry periods after it was
// made, which is at most that long after the kill that came later, and may try up to as long after the
// lease ran out: lease + 2 × (1+JitterFactor) × retry.
func (l leaseSetting) bound(slack time.Duration) time.Duration {
	return l.duration + time.Duration(2*(1+leaderelection.JitterFactor)*float64(l.retry)) + slack
}

// leaseList is the --leases flag: LEASE/RENEW/RETRY settings separated by commas.
type leaseList []leaseSetting

func (l *leaseList) String() string {
	parts := make([]string, len(*l))
	for i, s := range *l {
		parts[i] = fmt.Sprintf("%s/%s/%s", s.duration, s.renew, s.retry)
	}
	return strings.Join(parts, ",")
}

func (l *leaseList) Set(v string) error {
	var out leaseList
	for _, part := range strings.Split(v, ",") {
		f := strings.Split(strings.TrimSpace(part), "/")
		var d [3]time.Duration
		for i := range d {
			var err error
			if len(f) == 3 {
				d[i], err = time.ParseDuration(f[i])
			}
			if len(f) != 3 || err != nil || d[i] <= 0 {
				return fmt.Errorf("%q: give LEASE/RENEW/RETRY durations, settings separated by commas, e.g. 15s/10s/2s,4s/3s/1s", part)
			}
		}
		out = append(out, leaseSetting{d[0], d[1], d[2]})
	}
	*l = out
	return nil
}

// replica is one of the controller processes that elect a leader.
type replica struct {
	name     string
	ctrl     *stack.Controller
	identity string // its holderIdentity in the Lease, once it has been seen leading
}

func (rp *replica) String() string {
	return fmt.Sprintf("replica %s (pid %d)", rp.name, rp.ctrl.Process.Pid())
}

// elector reads from the replica's metrics whether its leader elector runs (client-go sets
// leader_election_master_status to 0 when it makes one) and whether it leads (1).
func (rp *replica) elector(ctx context.Context) (running, leading bool, err error) {
	m, err := rp.ctrl.Scrape(ctx)
	if err != nil {
		return false, false, err
	}
	for _, s := range m["leader_election_master_status"].GetMetric() {
		if stack.LabelValue(s, "name") == controllercmd.LeaderElectionID {
			return true, stack.Value(s) == 1, nil
		}
	}
	return false, false, nil
}

// failover is the benchmark's run.
type failover struct {
	o        options
	starter  stack.ControllerStarter
	c        client.WithWatch
	maker    *labMaker
	replicas []*replica // those running
	all      []*replica // every one started, for their logs
	started  int
	tables   []func(io.Writer) // printed after the report
	breaches []string          // handovers over the bound
}

var leaseKey = client.ObjectKey{Namespace: leaseNamespace, Name: controllercmd.LeaderElectionID}

func holder(l *coordinationv1.Lease) string { return ptr.Deref(l.Spec.HolderIdentity, "") }

// runFailover is the failover benchmark on a cluster of the provider, which must run the controller
// on this machine.
func runFailover(ctx context.Context, provider stack.Provider, o options) (err error) {
	if !provider.HostController {
		return fmt.Errorf("--failover: provider %s runs the controller in the cluster; the failover benchmark kills controller processes on this machine: use --provider=%s",
			provider.Name, stack.ProviderLocal)
	}
	if len(o.leases) == 0 || o.failoverLabs < 1 || o.kills < 0 || o.midwayLabs < 0 {
		return fmt.Errorf("--failover: want --leases (e.g. 15s/10s/2s), --failover-labs of 1 or more, and --kills and --midway-labs of 0 or more (0 skips them)")
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	r := &report{who: "bench-failover", title: fmt.Sprintf("labkit failover benchmark, provider %s: two controllers elect a leader, the leader is SIGKILLed", provider.Name)}
	f := &failover{o: o}
	defer func() {
		r.print(os.Stdout)
		for _, t := range f.tables {
			t(os.Stdout)
		}
	}()
	log := logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil))
	cluster, err := provider.Up(ctx, stack.Options{Root: root, Name: o.cluster, New: true, ControllerArgs: o.leases[0].args(),
		Log: log, Output: os.Stderr, Step: func(what string, start time.Time) { r.add(what, "%.1f s", time.Since(start).Seconds()) }})
	if cluster != nil {
		defer func() { err = errors.Join(err, cluster.Down(context.WithoutCancel(ctx), false)) }()
	}
	if err != nil {
		return err
	}
	var ok bool
	if f.starter, ok = cluster.(stack.ControllerStarter); !ok {
		return fmt.Errorf("provider %s cannot start a second controller", provider.Name)
	}
	if f.c, err = newClient(cluster.RESTConfig()); err != nil {
		return err
	}
	first, err := cluster.Controller(ctx)
	if err != nil {
		return err
	}
	f.started = 1
	f.add(&replica{name: "1", ctrl: first})
	if _, err := f.start(ctx, o.leases[0]); err != nil {
		return err
	}

	start := time.Now()
	cfg, err := fakenodes.LoadFile(filepath.Join(root, "kind-config.yaml"), o.cluster)
	if err != nil {
		return err
	}
	pools, err := cfg.SelectPools(failoverPool)
	if err != nil {
		return err
	}
	if err := cluster.AddFakeNodes(ctx, pools...); err != nil {
		return err
	}
	nodes, _ := fakenodes.Size(pools...)
	volumes := o.failoverLabs + o.kills*len(o.leases) + o.midwayLabs
	if err := fakenodes.CreateVolumes(ctx, f.c, "failover", volumes, false); err != nil {
		return err
	}
	r.add(fmt.Sprintf("%d fake nodes Ready, %d fake volumes made", nodes, volumes), "%.1f s", time.Since(start).Seconds())
	if f.maker, err = newLabMaker(ctx, f.c); err != nil {
		return err
	}
	for _, ns := range []string{failoverNS, probeNS, midwayNS} {
		if err := f.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}

	labs, err := f.labs(failoverNS, "lab", o.failoverLabs)
	if err != nil {
		return err
	}
	start = time.Now()
	w := watchReady(ctx, f.c, failoverNS, len(labs))
	defer w.stop()
	if err := createLabs(ctx, f.c, labs); err != nil {
		return err
	}
	if err := w.wait(ctx, "wait-labs-ready"); err != nil {
		return err
	}
	r.add(fmt.Sprintf("%d labs created and Ready, two controllers running", len(labs)), "%.1f s", time.Since(start).Seconds())

	for i, setting := range o.leases {
		if o.kills == 0 {
			break
		}
		if i > 0 {
			if err := f.restartAll(ctx, r, setting); err != nil {
				return err
			}
		}
		if err := f.killRounds(ctx, r, setting); err != nil {
			return err
		}
	}
	if o.midwayLabs > 0 {
		if err := f.midway(ctx, r, o.leases[len(o.leases)-1]); err != nil {
			return err
		}
	}
	if err := f.reconcileErrors(r); err != nil {
		return err
	}
	if len(f.breaches) > 0 {
		return fmt.Errorf("%d handovers took longer than client-go's worst case, lease + 2 × %.1f × retry period + %s: %s",
			len(f.breaches), 1+leaderelection.JitterFactor, o.handoverSlack, strings.Join(f.breaches, "; "))
	}
	return nil
}

// labs are n labs without GPUs named prefix-0000, ... in ns, each on a fake volume of its own.
func (f *failover) labs(ns, prefix string, n int) ([]lab, error) {
	labs := make([]lab, n)
	for i := range labs {
		var err error
		if labs[i], err = f.maker.build(generator.Request{Name: fmt.Sprintf("%s-%04d", prefix, i), Namespace: ns, StorageClass: fakenodes.VolumeClass}); err != nil {
			return nil, err
		}
	}
	return labs, nil
}

func (f *failover) add(rp *replica) {
	f.replicas = append(f.replicas, rp)
	f.all = append(f.all, rp)
}

// start starts one more replica with the setting's flags; it is running once its metrics answer.
func (f *failover) start(ctx context.Context, setting leaseSetting) (*replica, error) {
	f.started++
	name := strconv.Itoa(f.started)
	ctrl, err := f.starter.StartController(ctx, name, setting.args()...)
	if err != nil {
		return nil, err
	}
	rp := &replica{name: name, ctrl: ctrl}
	f.add(rp)
	return rp, nil
}

// leader waits until the Lease has a holder and exactly one running replica's metrics say it leads,
// and matches the two: that replica's identity is the holder's. A holder seen before must be the
// same replica's.
func (f *failover) leader(ctx context.Context) (*replica, *coordinationv1.Lease, error) {
	var leader *replica
	lease := &coordinationv1.Lease{}
	err := stack.Waits.Until(ctx, "wait-leader", func(ctx context.Context) (string, error) {
		if err := f.c.Get(ctx, leaseKey, lease); apierrors.IsNotFound(err) {
			return fmt.Sprintf("no Lease %s yet", leaseKey), nil
		} else if err != nil {
			return "", err
		}
		id := holder(lease)
		if id == "" {
			return fmt.Sprintf("Lease %s has no holder", leaseKey), nil
		}
		var leading []string
		leader = nil
		for _, rp := range f.replicas {
			select {
			case <-rp.ctrl.Process.Done():
				return "", fmt.Errorf("%s exited; its log is %s", rp, rp.ctrl.Log)
			default:
			}
			_, lead, err := rp.elector(ctx)
			if err != nil {
				return fmt.Sprintf("%s: %v", rp, err), nil
			}
			if lead {
				leader = rp
				leading = append(leading, rp.String())
			}
		}
		if len(leading) != 1 {
			return fmt.Sprintf("Lease held by %s, and %d replicas' metrics say they lead: %v", id, len(leading), leading), nil
		}
		for _, rp := range f.all {
			if rp != leader && rp.identity == id {
				return fmt.Sprintf("Lease still held by %s, which is %s's, while %s says it leads", id, rp, leader), nil
			}
		}
		if leader.identity != "" && leader.identity != id {
			return "", fmt.Errorf("%s led as %s and leads again as %s", leader, leader.identity, id)
		}
		return "", nil
	})
	if err != nil {
		return nil, nil, err
	}
	leader.identity = holder(lease)
	return leader, lease, nil
}

// follower waits until rp takes part in the election: its leader elector runs (and tried the Lease
// at once when it was made) and the leader has renewed the Lease since, so that rp has seen it held.
func (f *failover) follower(ctx context.Context, rp *replica) error {
	var since time.Time
	return stack.Waits.Until(ctx, "wait-follower", func(ctx context.Context) (string, error) {
		if since.IsZero() {
			running, lead, err := rp.elector(ctx)
			switch {
			case err != nil:
				return fmt.Sprintf("%s: %v", rp, err), nil
			case lead:
				return "", fmt.Errorf("%s leads: it was started to follow", rp)
			case !running:
				return fmt.Sprintf("%s's leader elector does not run yet (no leader_election_master_status)", rp), nil
			}
			since = time.Now()
		}
		lease := &coordinationv1.Lease{}
		if err := f.c.Get(ctx, leaseKey, lease); err != nil {
			return "", err
		}
		if renewed := lease.Spec.RenewTime; renewed == nil || !renewed.After(since) {
			return fmt.Sprintf("Lease %s not renewed since %s's elector began at %s (renewed %v)", leaseKey, rp, since.Format(time.StampMilli), renewed), nil
		}
		return "", nil
	})
}

// remove takes a killed or stopped replica out of those running.
func (f *failover) remove(rp *replica) {
	for i, x := range f.replicas {
		if x == rp {
			f.replicas = append(f.replicas[:i], f.replicas[i+1:]...)
			return
		}
	}
}

// restartAll stops the replicas, each handing the Lease back, and starts two with the setting, one
// leading and one following.
func (f *failover) restartAll(ctx context.Context, r *report, setting leaseSetting) error {
	leader, _, err := f.leader(ctx)
	if err != nil {
		return err
	}
	// The followers first, so that the Lease is handed to none of them.
	for _, rp := range append(f.others(leader), leader) {
		if err := rp.ctrl.Process.Stop(ctx); err != nil {
			return err
		}
		f.remove(rp)
	}
	start := time.Now()
	for range 2 {
		if _, err := f.start(ctx, setting); err != nil {
			return err
		}
	}
	leader, _, err = f.leader(ctx)
	if err != nil {
		return err
	}
	for _, rp := range f.others(leader) {
		if err := f.follower(ctx, rp); err != nil {
			return err
		}
	}
	r.add("two replicas restarted with "+setting.String(), "%.1f s to a leader and a follower", time.Since(start).Seconds())
	return nil
}

func (f *failover) others(rp *replica) []*replica {
	var out []*replica
	for _, x := range f.replicas {
		if x != rp {
			out = append(out, x)
		}
	}
	return out
}

// watchLease starts a watch that sees the Lease once someone other than old holds it.
func (f *failover) watchLease(ctx context.Context, old string) *readyWatch {
	w := watchObjects(ctx, f.c, leaseNamespace, 1, &coordinationv1.Lease{}, func() client.ObjectList { return &coordinationv1.LeaseList{} },
		func(o client.Object) bool {
			l, ok := o.(*coordinationv1.Lease)
			return ok && l.Name == leaseKey.Name && holder(l) != "" && holder(l) != old
		})
	w.what = fmt.Sprintf("Lease %s held by another than %s", leaseKey, old)
	return w
}

// killRounds kills the leader --kills times with the setting, each time timing the handover and a lab
// created right after the kill, then starting a replica in place of the killed one.
func (f *failover) killRounds(ctx context.Context, r *report, setting leaseSetting) error {
	took := map[string][]time.Duration{}
	leader, lease, err := f.leader(ctx)
	if err != nil {
		return err
	}
	if got := time.Duration(ptr.Deref(lease.Spec.LeaseDurationSeconds, 0)) * time.Second; got != setting.duration {
		return fmt.Errorf("Lease %s says spec.leaseDurationSeconds %s, want %s: the controller did not take --leader-elect-lease-duration", leaseKey, got, setting.duration)
	}
	for _, rp := range f.others(leader) {
		if err := f.follower(ctx, rp); err != nil {
			return err
		}
	}
	bound := setting.bound(f.o.handoverSlack)
	for round := 1; round <= f.o.kills; round++ {
		if round > 1 {
			if leader, _, err = f.leader(ctx); err != nil {
				return err
			}
		}
		old := leader.identity
		probe, err := f.maker.build(generator.Request{Name: fmt.Sprintf("probe-%ds-%d", int(setting.duration.Seconds()), round),
			Namespace: probeNS, StorageClass: fakenodes.VolumeClass})
		if err != nil {
			return err
		}
		leaseW := f.watchLease(ctx, old)
		probeW := watchObjects(ctx, f.c, probeNS, 1, &labkitv1alpha1.JupyterLab{}, func() client.ObjectList { return &labkitv1alpha1.JupyterLabList{} },
			func(o client.Object) bool { return o.GetName() == probe.Name && isReady(o) })
		probeW.what = fmt.Sprintf("lab %s/%s Ready", probe.Namespace, probe.Name)
		err = f.killOnce(ctx, leader, leaseW, probeW, probe, took, round, setting, bound)
		leaseW.stop()
		probeW.stop()
		if err != nil {
			return err
		}
	}
	f.tables = append(f.tables, func(w io.Writer) {
		stack.Spread(w, fmt.Sprintf("%s (Lease spec.leaseDurationSeconds %d), %d kills of the leader, %d labs", setting,
			ptr.Deref(lease.Spec.LeaseDurationSeconds, 0), f.o.kills, f.o.failoverLabs),
			"FROM THE SIGKILL TO", []string{figTaken, figAcquired, figProbe}, took)
		fmt.Fprintf(w, "handovers within lease + retry (+%s slack), %s: %d of %d; ", f.o.handoverSlack, setting.soon(f.o.handoverSlack),
			len(took[figTaken])-overBound(took[figTaken], setting.soon(f.o.handoverSlack)), len(took[figTaken]))
		fmt.Fprintf(w, "within client-go's worst case, lease + 2 × %.1f × retry (+%s), %s, which fails the run: %d of %d\n",
			1+leaderelection.JitterFactor, f.o.handoverSlack, bound, len(took[figTaken])-overBound(took[figTaken], bound), len(took[figTaken]))
	})
	return nil
}

func overBound(ds []time.Duration, bound time.Duration) int {
	n := 0
	for _, d := range ds {
		if d > bound {
			n++
		}
	}
	return n
}

// killOnce kills the leader, creates probe at once, and waits until the other replica holds the Lease
// and the probe is Ready; then it starts a replica in place of the killed one.
func (f *failover) killOnce(ctx context.Context, leader *replica, leaseW, probeW *readyWatch, probe lab,
	took map[string][]time.Duration, round int, setting leaseSetting, bound time.Duration) error {
	for _, w := range []*readyWatch{leaseW, probeW} {
		if err := w.waitSynced(ctx); err != nil {
			return err
		}
	}
	killed := time.Now()
	if err := leader.ctrl.Process.Kill(ctx); err != nil {
		return err
	}
	f.remove(leader)
	if err := f.c.Create(ctx, probe); err != nil {
		return fmt.Errorf("create lab %s/%s: %w", probe.Namespace, probe.Name, err)
	}
	if err := leaseW.wait(ctx, "wait-lease-taken"); err != nil {
		return fmt.Errorf("%s killed as the leader %s: %w", leader, leader.identity, err)
	}
	taken, _ := leaseW.readyAt(leaseKey.Name)
	if err := probeW.wait(ctx, "wait-lab-ready"); err != nil {
		return fmt.Errorf("lab %s/%s created after %s was killed: %w", probe.Namespace, probe.Name, leader, err)
	}
	ready, _ := probeW.readyAt(probe.Name)
	next, lease, err := f.leader(ctx)
	if err != nil {
		return err
	}
	acquired := lease.Spec.AcquireTime.Time
	took[figTaken] = append(took[figTaken], taken.Sub(killed))
	took[figAcquired] = append(took[figAcquired], acquired.Sub(killed))
	took[figProbe] = append(took[figProbe], ready.Sub(killed))
	fmt.Printf("bench-failover: %s, kill %d: %s killed; %s took the Lease after %.2f s (acquireTime +%.2f s, transitions %d); lab %s Ready after %.2f s\n",
		setting, round, leader, next, taken.Sub(killed).Seconds(), acquired.Sub(killed).Seconds(),
		ptr.Deref(lease.Spec.LeaseTransitions, 0), probe.Name, ready.Sub(killed).Seconds())
	if d := taken.Sub(killed); d > bound {
		f.breaches = append(f.breaches, fmt.Sprintf("%s kill %d: %.2f s > %s", setting, round, d.Seconds(), bound))
	}
	rp, err := f.start(ctx, setting)
	if err != nil {
		return err
	}
	return f.follower(ctx, rp)
}

// midway creates --midway-labs labs as fast as it can and kills the leader once half are created;
// after the other replica takes over, every lab must become Ready, with each of its children once.
func (f *failover) midway(ctx context.Context, r *report, setting leaseSetting) error {
	n := f.o.midwayLabs
	r.add(fmt.Sprintf("(c) %d labs created, the leader SIGKILLed after %d", n, n/2), "%s, namespace %s", setting, midwayNS)
	labs, err := f.labs(midwayNS, "lab", n)
	if err != nil {
		return err
	}
	leader, _, err := f.leader(ctx)
	if err != nil {
		return err
	}
	for _, rp := range f.others(leader) {
		if err := f.follower(ctx, rp); err != nil {
			return err
		}
	}
	leaseW := f.watchLease(ctx, leader.identity)
	defer leaseW.stop()
	w := watchReady(ctx, f.c, midwayNS, n)
	defer w.stop()
	for _, w := range []*readyWatch{leaseW, w} {
		if err := w.waitSynced(ctx); err != nil {
			return err
		}
	}
	settings, err := labkitcontroller.LoadSettings(ctx, f.c, labkitcontroller.DefaultSettings)
	if err != nil {
		return err
	}
	kinds, err := childKinds(f.c, labs[0], settings)
	if err != nil {
		return err
	}
	var killed, listed time.Time
	var killErr error
	var atKill progress
	var killing atomic.Bool
	done := make(chan struct{})
	start := time.Now()
	// The kill does not hold up the creates: they go on while it is made. What the dead leader left is
	// listed at once, while no one leads.
	err = createLabsCounting(ctx, f.c, labs, func(created int64) {
		if created == int64(max(n/2, 1)) {
			killing.Store(true)
			go func() {
				defer close(done)
				killed = time.Now()
				if killErr = leader.ctrl.Process.Kill(ctx); killErr == nil {
					atKill, killErr = childProgress(ctx, f.c, midwayNS, kinds)
					listed = time.Now()
				}
			}()
		}
	})
	created := time.Since(start)
	if killing.Load() {
		<-done
	}
	if err := errors.Join(err, killErr); err != nil {
		return err
	}
	f.remove(leader)
	if err := leaseW.wait(ctx, "wait-lease-taken"); err != nil {
		return fmt.Errorf("%s killed as the leader %s: %w", leader, leader.identity, err)
	}
	taken, _ := leaseW.readyAt(leaseKey.Name)
	if err := w.wait(ctx, "wait-labs-ready"); err != nil {
		return fmt.Errorf("after %s was killed half-way through creating the labs: %w", leader, err)
	}
	last := w.start.Add(w.percentile(1))
	next, _, err := f.leader(ctx)
	if err != nil {
		return err
	}
	r.add(fmt.Sprintf("%d labs created", n), "%.1f s (%.0f a second)", created.Seconds(), float64(n)/created.Seconds())
	leftBy := "listed before the takeover"
	if !listed.Before(taken) {
		leftBy = "listed after the takeover: the new leader may have added to it"
	}
	r.add(fmt.Sprintf("at the kill of %s, at the %dth create", leader, max(n/2, 1)), "%.1f s after the first create; %d labs Ready by then",
		killed.Sub(start).Seconds(), w.readyBefore(killed))
	r.add("what the killed leader left", "%d labs with all %d children, %d with some but not all (cut off); %s",
		atKill.whole, atKill.kinds, atKill.partial, leftBy)
	r.add("kill -> lease taken over by "+next.String(), "%.2f s", taken.Sub(killed).Seconds())
	r.add(fmt.Sprintf("kill -> all %d labs Ready", n), "%.1f s (%.1f s from the first create)", last.Sub(killed).Seconds(), last.Sub(start).Seconds())
	if d, bound := taken.Sub(killed), setting.bound(f.o.handoverSlack); d > bound {
		f.breaches = append(f.breaches, fmt.Sprintf("%s, mid-way kill: %.2f s > %s", setting, d.Seconds(), bound))
	}
	return checkWhole(ctx, r, f.c, midwayNS, labs)
}

// reconcileErrors counts the reconcile errors every replica logged, for the report.
func (f *failover) reconcileErrors(r *report) error {
	total, seen := 0, map[string]int{}
	for _, rp := range f.all {
		data, err := os.ReadFile(rp.ctrl.Log)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.Contains(line, `"msg":"Reconciler error"`) {
				continue
			}
			total++
			msg := line
			if i := strings.Index(line, `"error":"`); i >= 0 {
				msg = line[i+len(`"error":"`):]
				if j := strings.Index(msg, `"`); j >= 0 {
					msg = msg[:j]
				}
			}
			seen[msg]++
		}
	}
	var kinds []string
	for msg, count := range seen {
		kinds = append(kinds, fmt.Sprintf("%d× %s", count, msg))
	}
	slices.Sort(kinds)
	r.add(fmt.Sprintf("reconcile errors logged by the %d replicas", len(f.all)), "%s", strings.Join(append([]string{strconv.Itoa(total)}, firstN(kinds, 3)...), "; "))
	return nil
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }
