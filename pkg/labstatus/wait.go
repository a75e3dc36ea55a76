package labstatus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/catalog"
	"github.com/labkit-dev/labkit/pkg/generator"
)

// Why a wait ended before the lab was ready.
var (
	// ErrUnschedulable: no node can take the lab's pod; the error carries the scheduler's reason and what
	// would fit now.
	ErrUnschedulable = errors.New("the lab cannot be placed")
	// ErrFailed: the lab's container cannot start (an image that cannot be pulled, a crash loop).
	ErrFailed = errors.New("the lab failed to start")
	// ErrSyncFailed: Argo CD could not apply the lab.
	ErrSyncFailed = errors.New("Argo CD could not sync the lab")
	// ErrStopped: the lab is stopped (labctl stop, idle or expired), so it will not be ready.
	ErrStopped = errors.New("the lab is stopped")
)

// DefaultPollInterval is how often Wait looks at the lab.
const DefaultPollInterval = 500 * time.Millisecond

// UnschedulableGrace is how long a lab must stay Unschedulable for Wait to give up on it.
const UnschedulableGrace = 5 * time.Second

// WaitOption configures Wait.
type WaitOption interface{ apply(*waitOptions) }

type waitOptions struct {
	commit   string
	progress func(string)
	check    func(ctx context.Context, url string) error
	interval time.Duration
	grace    time.Duration
}

type waitOptionFunc func(*waitOptions)

func (f waitOptionFunc) apply(o *waitOptions) { f(o) }

// WithCommit is the commit that asked for the lab: the wait first reports Argo CD syncing it.
func WithCommit(sha string) WaitOption {
	return waitOptionFunc(func(o *waitOptions) { o.commit = sha })
}

// WithProgress receives a line for each step the lab takes: synced, scheduled, pulling its image, ready.
func WithProgress(fn func(line string)) WaitOption {
	return waitOptionFunc(func(o *waitOptions) { o.progress = fn })
}

// WithAnswerCheck makes the wait end only when check (e.g. CheckJupyter) finds the lab's external URL
// answering, not merely the lab Ready: an ingress controller may take a moment to route a new host. A lab
// with no external URL is not checked (its in-cluster address does not answer outside the cluster).
func WithAnswerCheck(check func(ctx context.Context, url string) error) WaitOption {
	return waitOptionFunc(func(o *waitOptions) { o.check = check })
}

// WithUnschedulableGrace sets how long a lab must stay Unschedulable for the wait to give up on it;
// UnschedulableGrace by default.
func WithUnschedulableGrace(d time.Duration) WaitOption {
	return waitOptionFunc(func(o *waitOptions) { o.grace = d })
}

// WithPollInterval sets how often the wait looks; DefaultPollInterval by default.
func WithPollInterval(d time.Duration) WaitOption {
	return waitOptionFunc(func(o *waitOptions) { o.interval = d })
}

// Wait waits until the lab is Ready (and answers, WithAnswerCheck), reporting each step, and returns its
// status. It ends early with ErrUnschedulable, ErrFailed or ErrSyncFailed, saying why; when ctx ends first,
// with what it saw last. The cluster source is needed.
func Wait(ctx context.Context, src Sources, namespace, name string, opts ...WaitOption) (*Status, error) {
	if src.Cluster == nil {
		return nil, fmt.Errorf("wait for lab %s/%s: no cluster to watch it in: %v", namespace, name, src.ClusterErr)
	}
	o := &waitOptions{progress: func(string) {}, interval: DefaultPollInterval, grace: UnschedulableGrace}
	for _, opt := range opts {
		opt.apply(o)
	}
	w := &waiter{src: src, namespace: namespace, name: name, o: o, seenEvents: map[types.UID]bool{}, said: map[string]bool{}}
	start := time.Now()
	var done *Status
	err := wait.PollUntilContextCancel(ctx, o.interval, true, func(ctx context.Context) (bool, error) {
		st, err := w.look(ctx)
		if err != nil || st == nil {
			return false, err
		}
		done = st
		return true, nil
	})
	switch {
	case err == nil:
		return done, nil
	case ctx.Err() != nil && w.failed == nil:
		return nil, fmt.Errorf("gave up after %s waiting for lab %s/%s to be ready; last seen: %s (labctl status %s says more)",
			time.Since(start).Round(time.Second), namespace, name, w.last, name)
	}
	return nil, err
}

type waiter struct {
	src             Sources
	namespace, name string
	o               *waitOptions
	last            string // the last line reported
	said            map[string]bool
	noArgo          bool   // the cluster has no Argo CD
	synced          bool   // Argo CD synced the commit
	firstRevision   string // the Application's revision when the wait first saw it
	seenEvents      map[types.UID]bool
	failed          error
	// unschedulableSince is when the lab was first seen Unschedulable, zero when it is not.
	unschedulableSince time.Time
}

// say reports a line, once: the status is read again and again, and a step is news only the first time.
func (w *waiter) say(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	w.last = line
	if !w.said[line] {
		w.said[line] = true
		w.o.progress(line)
	}
}

// look reads the lab once; it returns the status when the wait is over, an error when it cannot be.
func (w *waiter) look(ctx context.Context) (*Status, error) {
	c := w.src.Cluster
	lab := &labkitv1alpha1.JupyterLab{}
	err := c.Get(ctx, client.ObjectKey{Namespace: w.namespace, Name: w.name}, lab)
	found := err == nil
	switch {
	case err == nil, apierrors.IsNotFound(err):
	case apierrors.IsForbidden(err), meta.IsNoMatchError(err):
		return nil, fmt.Errorf("read lab %s/%s: %w", w.namespace, w.name, explain(err))
	default: // a connection or rate-limit hiccup: look again, and say it if the wait ends
		w.last = fmt.Sprintf("cannot read the lab: %v", err)
		return nil, nil
	}
	if err := w.argo(ctx, found); err != nil {
		return nil, err
	}
	if w.o.commit != "" && !w.noArgo && !w.synced {
		// Until Argo CD has applied the commit, the lab in the cluster (if any) is the one from before.
		return nil, nil
	}
	if !found {
		if w.noArgo || w.synced {
			w.say("waiting for lab %s/%s to appear in the cluster", w.namespace, w.name)
		}
		return nil, nil
	}
	st := lab.Status
	if st.ObservedGeneration != lab.Generation {
		w.say("waiting for the labkit controller to pick up the lab")
		return nil, nil
	}
	sched := meta.FindStatusCondition(st.Conditions, labkitv1alpha1.ConditionScheduled)
	if st.Phase != labkitv1alpha1.PhaseUnschedulable {
		w.unschedulableSince = time.Time{}
	}
	ready := meta.FindStatusCondition(st.Conditions, labkitv1alpha1.ConditionReady)
	switch {
	case ready != nil && ready.Reason == labkitv1alpha1.ReasonReconcileError:
		w.say("the labkit controller cannot make the lab's objects yet: %s", oneLine(ready.Message))
		return nil, nil
	case st.Phase == labkitv1alpha1.PhaseStopped && w.o.commit != "" && w.noArgo:
		// Without Argo CD's view, the commit (a start, say) may not be applied yet.
		w.say("the lab is stopped in the cluster; waiting for the commit to be applied")
		return nil, nil
	case st.Phase == labkitv1alpha1.PhaseStopped:
		msg := "the lab is stopped"
		if ready != nil {
			msg = ready.Message
		}
		w.failed = fmt.Errorf("%w: %s", ErrStopped, oneLine(msg))
		return nil, w.failed
	case ready != nil && ready.Reason == labkitv1alpha1.ReasonClaimNotFound:
		w.failed = fmt.Errorf("%w: %s", ErrFailed, oneLine(ready.Message))
		return nil, w.failed
	case st.Phase == labkitv1alpha1.PhaseUnschedulable:
		// The scheduler tries again when the cluster changes (a volume bound, a node added): a reason
		// that holds for UnschedulableGrace is the answer.
		if w.unschedulableSince.IsZero() {
			w.unschedulableSince = time.Now()
		}
		if time.Since(w.unschedulableSince) < w.o.grace {
			w.say("the scheduler cannot place the lab yet: %s", oneLine(sched.Message))
			return nil, nil
		}
		w.failed = fmt.Errorf("%w: %s", ErrUnschedulable, w.unschedulable(ctx, lab, sched))
		return nil, w.failed
	case sched == nil || sched.Status != metav1.ConditionTrue:
		w.say("waiting for the scheduler to place the lab")
		return nil, nil
	}
	w.say("scheduled on node %s", st.NodeName)
	w.podEvents(ctx)
	switch st.Phase {
	case labkitv1alpha1.PhaseFailed:
		w.failed = fmt.Errorf("%w: %s", ErrFailed, oneLine(ready.Message))
		return nil, w.failed
	case labkitv1alpha1.PhaseReady:
	default:
		if ready != nil {
			w.say("starting: %s", oneLine(ready.Message))
		}
		return nil, nil
	}
	if w.o.check != nil && st.URL != st.InternalURL {
		if err := w.o.check(ctx, st.URL); err != nil {
			w.say("ready; waiting for %s to answer: %s", st.URL, oneLine(err.Error()))
			return nil, nil
		}
	}
	w.say("ready: %s", st.URL)
	return get(ctx, w.src, nil, w.namespace, w.name), nil
}

// argo reports what Argo CD does with the lab's Application, until it has synced the commit.
func (w *waiter) argo(ctx context.Context, labFound bool) error {
	if w.noArgo || w.synced {
		return nil
	}
	// Until it exists, the Application is either of those the two layouts give the lab.
	appName := strings.Join(w.src.target().AppNames(w.namespace, w.name), " or ")
	app, err := findApp(ctx, w.src, w.namespace, w.name)
	switch {
	case meta.IsNoMatchError(err):
		w.noArgo = true
		w.say("%s: waiting for the lab itself", errNoArgoCD)
		return nil
	case apierrors.IsNotFound(err):
		if !labFound {
			w.say("waiting for Argo CD to create application %s (the root application syncs %s/)", appName, w.src.target().AppsDir())
		}
		return nil
	case apierrors.IsForbidden(err):
		w.noArgo = true
		w.say("cannot read Argo CD's applications (your kubeconfig's user may not): waiting for the lab itself")
		return nil
	case err != nil:
		return fmt.Errorf("read Argo CD application %s: %w", appName, err)
	}
	appName = app.Name
	s := app.Status
	if op := s.OperationState; op != nil && (op.Phase == "Failed" || op.Phase == "Error") {
		return fmt.Errorf("%w: application %s: %s", ErrSyncFailed, appName, oneLine(op.Message))
	}
	// A sync at a later commit than the one seen first (someone pushed after us) holds ours too.
	if w.firstRevision == "" {
		w.firstRevision = cmp.Or(s.Sync.Revision, "none")
	}
	atCommit := w.o.commit == "" || s.Sync.Revision == w.o.commit || (s.Sync.Revision != "" && s.Sync.Revision != w.firstRevision)
	sync, _, _ := labSync(app, w.namespace, w.name)
	if sync == argocd.SyncStatusSynced && atCommit {
		w.synced = true
		w.say("Argo CD synced application %s at %s", appName, short(s.Sync.Revision))
	} else if !labFound {
		w.say("Argo CD: application %s is %s at %s", appName, orUnknown(sync), short(s.Sync.Revision))
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "not compared yet"
	}
	return s
}

// podEvents reports the image pulls of the lab's newest pod, from its events; a user who may not read
// events just does not see them.
func (w *waiter) podEvents(ctx context.Context) {
	pods, err := labPods(ctx, w.src.Cluster, w.namespace, w.name)
	if err != nil || len(pods) == 0 {
		return
	}
	events := &corev1.EventList{}
	if err := w.src.Cluster.List(ctx, events, client.InNamespace(w.namespace),
		client.MatchingFields{"involvedObject.kind": "Pod", "involvedObject.name": pods[0].Name}); err != nil {
		return
	}
	sort.Slice(events.Items, func(i, j int) bool { return eventTime(&events.Items[i]).Before(eventTime(&events.Items[j])) })
	for _, e := range events.Items {
		if w.seenEvents[e.UID] || (e.Reason != "Pulling" && e.Reason != "Pulled") {
			continue
		}
		w.seenEvents[e.UID] = true
		msg := oneLine(e.Message)
		if e.Reason == "Pulling" {
			msg = strings.Replace(msg, "Pulling image", "pulling image", 1)
		}
		w.say("%s", msg)
	}
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// unschedulable says why the lab cannot be placed: the scheduler's words, then what the nodes could
// take now.
func (w *waiter) unschedulable(ctx context.Context, lab *labkitv1alpha1.JupyterLab, sched *metav1.Condition) string {
	msg := "the scheduler says: " + oneLine(sched.Message)
	cat, err := catalog.FromCluster(ctx, w.src.Cluster)
	if err != nil {
		return msg + " (what would fit is unknown: " + explain(err).Error() + ")"
	}
	return msg + "; " + WhatFits(cat, lab)
}

// WhatFits says what the nodes of cat could take now of the kind of lab asks for, e.g. "what fits now:
// at most 2× Tesla-T4 with 7 CPU and 14Gi memory, on node gpu-t4-1".
func WhatFits(cat *catalog.Catalog, lab *labkitv1alpha1.JupyterLab) string {
	product := ""
	if lab.GPUCount() > 0 {
		product = lab.Spec.GPU.Product
	}
	r, node, ok := cat.Largest(product)
	switch {
	case !ok && product != "":
		return fmt.Sprintf("no node has a %s free now", product)
	case !ok:
		return "no node can take a lab without GPUs now"
	case product != "":
		return fmt.Sprintf("what fits now: at most %d× %s with %s CPU and %s memory, on node %s", r.GPUs, product, r.CPU.String(), r.Memory.String(), node)
	}
	return fmt.Sprintf("what fits now: at most %s CPU and %s memory without GPUs, on node %s", r.CPU.String(), r.Memory.String(), node)
}

// Nudge asks Argo CD to read the branch now rather than at its next poll: it refreshes the root
// Applications that sync the branch's apps/ folder, and the lab's own Application (or its namespace's)
// if it exists. It returns the Applications it refreshed; an error means Argo CD will only see the
// change at its next poll (three minutes by default), e.g. because the user may not patch Applications.
func Nudge(ctx context.Context, src Sources, target generator.Target, namespace, name string) ([]string, error) {
	return nudge(ctx, src, target, target.AppNames(namespace, name))
}

// NudgeRoot is Nudge for a change of Applications only: it refreshes the root Applications of the branch.
func NudgeRoot(ctx context.Context, src Sources, target generator.Target) ([]string, error) {
	return nudge(ctx, src, target, nil)
}

func nudge(ctx context.Context, src Sources, target generator.Target, also []string) ([]string, error) {
	if src.Cluster == nil {
		return nil, fmt.Errorf("no cluster: %v", src.ClusterErr)
	}
	apps, err := argocd.List(ctx, src.Cluster, src.argoNamespace())
	if err != nil {
		return nil, fmt.Errorf("list Argo CD's applications: %w", explain(err))
	}
	var refreshed []string
	for _, a := range apps {
		s := a.Spec.Source
		root := s.RepoURL == target.RepoURL && strings.TrimSuffix(s.Path, "/") == target.AppsDir() && s.TargetRevision == target.Revision
		if !root && !slices.Contains(also, a.Name) {
			continue
		}
		if err := argocd.Refresh(ctx, src.Cluster, a.Namespace, a.Name); err != nil {
			return refreshed, explain(err)
		}
		refreshed = append(refreshed, a.Name)
	}
	if len(refreshed) == 0 {
		return nil, fmt.Errorf("no Argo CD application in namespace %s syncs %s/ of %s at %s (docs/gitops-layout.md shows the root application to create)",
			src.argoNamespace(), target.AppsDir(), target.RepoURL, target.Revision)
	}
	return refreshed, nil
}

// WaitReleased waits until none of the Applications named carries Argo CD's resources finalizer (or is
// there at all), so that removing them leaves their labs alone: step 1 of switching the layout applied.
func WaitReleased(ctx context.Context, src Sources, apps []string, opts ...WaitOption) error {
	return waitApps(ctx, src, "to leave their labs alone when removed (Argo CD to sync step 1)", opts, func(live map[string]*argocd.Application) string {
		var holding []string
		for _, n := range apps {
			if app, ok := live[n]; ok && slices.Contains(app.Finalizers, argocd.ResourcesFinalizer) {
				holding = append(holding, n)
			}
		}
		if len(holding) > 0 {
			return fmt.Sprintf("%d of %d Applications still delete their labs when removed (%s)", len(holding), len(apps), listed(holding))
		}
		return ""
	})
}

// WaitSwitched waits until the Applications going are gone and those coming are synced at commit, or
// at a later commit of the branch (others may push meanwhile): step 2 of switching the layout applied.
func WaitSwitched(ctx context.Context, src Sources, going, coming []string, commit string, opts ...WaitOption) error {
	seen := map[string]bool{commit: true} // revision: whether it includes commit
	atCommit := func(revision string) bool {
		if ok, known := seen[revision]; known || revision == "" || src.Git == nil {
			return ok
		}
		ok, err := src.Git.Includes(ctx, commit, revision)
		if err != nil {
			return false // the branch could not be read: look again
		}
		seen[revision] = ok
		return ok
	}
	return waitApps(ctx, src, "to be replaced (Argo CD to sync step 2)", opts, func(live map[string]*argocd.Application) string {
		var left, notYet []string
		for _, n := range going {
			if _, ok := live[n]; ok && !slices.Contains(coming, n) {
				left = append(left, n)
			}
		}
		for _, n := range coming {
			app, ok := live[n]
			switch {
			case !ok:
				notYet = append(notYet, n+" (not created yet)")
			case app.Status.Sync.Status != argocd.SyncStatusSynced || !atCommit(app.Status.Sync.Revision):
				notYet = append(notYet, fmt.Sprintf("%s (%s at %s)", n, orUnknown(app.Status.Sync.Status), short(app.Status.Sync.Revision)))
			}
		}
		if len(left)+len(notYet) > 0 {
			return fmt.Sprintf("old Applications left: %s; new ones not synced at %s: %s", listed(left), short(commit), listed(notYet))
		}
		return ""
	})
}

// waitApps reads Argo CD's Applications, one list a look, until unmet says nothing is left to wait
// for, reporting each new state it says. Not being allowed to read them, or no Argo CD, ends the wait;
// any other error reading them is looked past.
func waitApps(ctx context.Context, src Sources, what string, opts []WaitOption, unmet func(live map[string]*argocd.Application) string) error {
	if src.Cluster == nil {
		return fmt.Errorf("wait for Argo CD's Applications %s: no cluster to look at: %v", what, src.ClusterErr)
	}
	o := &waitOptions{progress: func(string) {}, interval: DefaultPollInterval}
	for _, opt := range opts {
		opt.apply(o)
	}
	start, last := time.Now(), ""
	err := wait.PollUntilContextCancel(ctx, o.interval, true, func(ctx context.Context) (bool, error) {
		apps, err := argocd.List(ctx, src.Cluster, src.argoNamespace())
		switch {
		case apierrors.IsForbidden(err), meta.IsNoMatchError(err):
			return false, explain(err)
		case err != nil: // a connection or rate-limit hiccup: look again; the last state stands
			return false, nil
		}
		live := make(map[string]*argocd.Application, len(apps))
		for _, a := range apps {
			live[a.Name] = a
		}
		state := unmet(live)
		if state != last && state != "" {
			o.progress(state)
		}
		last = state
		return state == "", nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("gave up after %s waiting for Argo CD's Applications %s; last seen: %s",
			time.Since(start).Round(time.Second), what, cmp.Or(last, "nothing yet"))
	}
	return err
}

// listed is names joined, the first five only, or "none".
func listed(names []string) string {
	switch {
	case len(names) == 0:
		return "none"
	case len(names) > 5:
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}
