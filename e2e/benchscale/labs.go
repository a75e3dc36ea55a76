package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/catalog"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/stack"
)

type lab = *labkitv1alpha1.JupyterLab

// newClient is the benchmark's own client: unthrottled, so that the figures are the controller's.
func newClient(cfg *rest.Config) (client.WithWatch, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit
	return stack.NewClient(cfg)
}

// planLabs makes labs that fill every GPU of the pools exactly: each asks for a quarter of a node's
// GPUs where that is a whole number (so whatever the scheduler picks, what is left on a node is a
// multiple of the lab's size and the next one fits), one GPU elsewhere. Each is built and checked as labctl does, against the
// catalog of the still-empty cluster.
func planLabs(ctx context.Context, c client.Client, pools []fakenodes.Pool, ns, storageClass string) ([]lab, error) {
	m, err := newLabMaker(ctx, c)
	if err != nil {
		return nil, err
	}
	var labs []lab
	for _, p := range pools {
		gpus := p.GPUs()
		if gpus == 0 {
			continue
		}
		size := int64(1)
		if gpus%4 == 0 {
			size = gpus / 4
		}
		product := p.Labels[labkitv1alpha1.GPUProductLabel]
		for i := range int64(p.Count) * gpus / size {
			l, err := m.build(generator.Request{
				Name: fmt.Sprintf("%s-%04d", p.Name, i), Namespace: ns,
				GPU: fmt.Sprintf("%s:%d", product, size), StorageClass: storageClass,
			})
			if err != nil {
				return nil, err
			}
			labs = append(labs, l)
		}
	}
	if len(labs) == 0 {
		return nil, fmt.Errorf("the fake node pools have no GPUs: declare some in kind-config.yaml's FakeNodePools")
	}
	return labs, nil
}

// labMaker builds the benchmark's labs as labctl does, checked against the catalog of the cluster as
// it was when the maker was made.
type labMaker struct {
	cat  *catalog.Catalog
	hash string
}

func newLabMaker(ctx context.Context, c client.Client) (*labMaker, error) {
	cat, err := catalog.FromCluster(ctx, c)
	if err != nil {
		return nil, err
	}
	hash, err := generator.HashPassword([]byte("bench-scale"))
	if err != nil {
		return nil, err
	}
	return &labMaker{cat: cat, hash: hash}, nil
}

// build is the lab req asks for (its name, namespace, GPU and storage class), owned by bench, with a
// CPU, 4Gi and 10Gi of storage.
func (m *labMaker) build(req generator.Request) (lab, error) {
	req.Owner, req.CPU, req.Memory, req.Storage, req.PasswordHash = "bench", "1", "4Gi", "10Gi", m.hash
	return generator.Build(req.WithDefaults(generator.Defaults), m.cat)
}

// createLabs creates the labs, many at once.
func createLabs(ctx context.Context, c client.Client, labs []lab) error {
	return createLabsCounting(ctx, c, labs, nil)
}

// createLabsCounting creates the labs, many at once, and tells created (when not nil) the number
// created so far after each, from the goroutine that created it.
func createLabsCounting(ctx context.Context, c client.Client, labs []lab, created func(n int64)) error {
	var n atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, l := range labs {
		g.Go(func() error {
			if err := c.Create(ctx, l.DeepCopy()); err != nil {
				return fmt.Errorf("create lab %s/%s: %w", l.Namespace, l.Name, err)
			}
			if created != nil {
				created(n.Add(1))
			}
			return nil
		})
	}
	return g.Wait()
}

// readyWatch records when each object of a kind in a namespace is first ready, through an informer.
type readyWatch struct {
	start   time.Time
	what    string // what is watched for, for a person: "labs of namespace scale-api Ready"
	want    int
	done    chan struct{}
	stop    context.CancelFunc // stops the informer
	isReady func(client.Object) bool
	synced  func() bool // the informer has listed the objects there were

	mu    sync.Mutex
	ready map[string]time.Duration
}

// watchReady starts watching the labs of ns; wait returns once want of them have been Ready.
func watchReady(ctx context.Context, c client.WithWatch, ns string, want int) *readyWatch {
	return watchObjects(ctx, c, ns, want, &labkitv1alpha1.JupyterLab{}, func() client.ObjectList { return &labkitv1alpha1.JupyterLabList{} }, isReady)
}

// isReady says whether o is a lab whose Ready condition is true.
func isReady(o client.Object) bool {
	l, ok := o.(lab)
	return ok && meta.IsStatusConditionTrue(l.Status.Conditions, labkitv1alpha1.ConditionReady)
}

// watchObjects starts an informer on the objects of item's kind (newList lists them) in ns; wait
// returns once want of them have been ready. Stop it when done.
func watchObjects(ctx context.Context, c client.WithWatch, ns string, want int, item client.Object, newList func() client.ObjectList, isReady func(client.Object) bool) *readyWatch {
	w := &readyWatch{start: time.Now(), want: want, done: make(chan struct{}), isReady: isReady, ready: map[string]time.Duration{},
		what: fmt.Sprintf("%ss of namespace %s ready", reflect.TypeOf(item).Elem().Name(), ns)}
	see := func(obj any) {
		if o, ok := obj.(client.Object); ok {
			w.see(o)
		}
	}
	_, informer := toolscache.NewInformerWithOptions(toolscache.InformerOptions{
		ListerWatcher: &toolscache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				list := newList()
				return list, c.List(ctx, list, client.InNamespace(ns), &client.ListOptions{Raw: &opts})
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return c.Watch(ctx, newList(), client.InNamespace(ns), &client.ListOptions{Raw: &opts})
			},
		},
		ObjectType: item,
		Handler: toolscache.ResourceEventHandlerFuncs{
			AddFunc:    see,
			UpdateFunc: func(_, obj any) { see(obj) },
		},
	})
	ctx, w.stop = context.WithCancel(ctx)
	w.synced = informer.HasSynced
	go informer.RunWithContext(ctx)
	return w
}

// waitSynced waits until the informer has listed what there was and watches for changes, so that a
// change made from now on is seen when it is made.
func (w *readyWatch) waitSynced(ctx context.Context) error {
	return stack.Waits.Until(ctx, "wait-watch-synced", func(context.Context) (string, error) {
		if !w.synced() {
			return "the watch of " + w.what + " has not listed them yet", nil
		}
		return "", nil
	})
}

// readyAt is when the object name was first seen ready; false if it has not been.
func (w *readyWatch) readyAt(name string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.ready[name]
	return w.start.Add(d), ok
}

// see records an object that is ready, and says when all wanted objects have been.
func (w *readyWatch) see(o client.Object) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, seen := w.ready[o.GetName()]; !seen && w.isReady(o) {
		w.ready[o.GetName()] = time.Since(w.start)
		if len(w.ready) == w.want {
			close(w.done)
		}
	}
}

// wait waits until want objects have been ready, for at most the timeout of the named wait. Stopped
// before (ctx, e.g. Ctrl-C), it says how long it had waited, not the timeout.
func (w *readyWatch) wait(ctx context.Context, name string) error {
	begun := time.Now()
	timeout := stack.Waits.Timeout(name)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.done:
		return nil
	case <-t.C:
		w.mu.Lock()
		defer w.mu.Unlock()
		return fmt.Errorf("%s: %d of %d %s after %s", name, len(w.ready), w.want, w.what, timeout)
	case <-ctx.Done():
		w.mu.Lock()
		defer w.mu.Unlock()
		return fmt.Errorf("%s: %d of %d %s when stopped after %s of %s: %w",
			name, len(w.ready), w.want, w.what, time.Since(begun).Round(time.Second), timeout, context.Cause(ctx))
	}
}

// readyBefore is how many objects were seen ready before t.
func (w *readyWatch) readyBefore(t time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, d := range w.ready {
		if w.start.Add(d).Before(t) {
			n++
		}
	}
	return n
}

// percentile is the time by which the fraction q of the labs were Ready.
func (w *readyWatch) percentile(q float64) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	ds := make([]time.Duration, 0, len(w.ready))
	for _, d := range w.ready {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

// timeLabctlNodes times `labctl nodes` against the cluster and checks it lists every fake node.
func timeLabctlNodes(ctx context.Context, r *report, labctl, kubeconfig string, nodes, runs int) error {
	var took []time.Duration
	for range runs {
		cmd := exec.CommandContext(ctx, labctl, "nodes")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took = append(took, time.Since(start))
		if err != nil {
			return fmt.Errorf("labctl nodes: %w\n%s", err, out)
		}
		if got := strings.Count(string(out), "\nfake-"); got != nodes {
			return fmt.Errorf("labctl nodes listed %d fake nodes, want %d:\n%s", got, nodes, out)
		}
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	r.add(fmt.Sprintf("labctl nodes on %d nodes (median / min of %d runs)", nodes, runs), "%d / %d ms",
		took[len(took)/2].Milliseconds(), took[0].Milliseconds())
	return nil
}

// oneMore asks for one more GPU once all are taken: labctl must refuse it without writing to Git, and
// the same lab applied directly must be reported Unschedulable, with every other lab undisturbed.
func oneMore(ctx context.Context, r *report, c client.Client, labctl, kubeconfig, ns string, pools []fakenodes.Pool) error {
	var product string
	for _, p := range pools {
		if p.GPUs() > 0 {
			product = p.Labels[labkitv1alpha1.GPUProductLabel]
			break
		}
	}
	repo := filepath.Join(os.TempDir(), fmt.Sprintf("bench-scale-%d.git", os.Getpid()))
	defer os.RemoveAll(repo)
	if out, err := exec.CommandContext(ctx, "git", "init", "--quiet", "--bare", repo).CombinedOutput(); err != nil {
		return fmt.Errorf("git init: %w: %s", err, out)
	}
	cmd := exec.CommandContext(ctx, labctl, "create", "one-more", "--namespace", ns, "--owner", "bench",
		"--gpu", product+":1", "--cpu", "1", "--memory", "4Gi", "--storage", "10Gi", "--token-secret", "token",
		"--repo", repo, "--branch", "main")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return fmt.Errorf("labctl create accepted a GPU request on a full cluster:\n%s", out)
	}
	// Refused, and for the right reason: no node has a GPU free (not a flag or connection error).
	if !strings.Contains(string(out), "no node can take") {
		return fmt.Errorf("labctl create failed, but not because the GPUs are taken: %v\n%s", err, out)
	}
	if refs, err := exec.CommandContext(ctx, "git", "--git-dir", repo, "for-each-ref").Output(); err != nil || len(refs) > 0 {
		return fmt.Errorf("labctl refused but the repository changed (refs %q, %v)", refs, err)
	}
	r.add("one more "+product+" via labctl", "refused, nothing committed: %s", firstLines(string(out), 2))

	before, err := podPlacement(ctx, c, ns)
	if err != nil {
		return err
	}
	extra := &labkitv1alpha1.JupyterLab{}
	extra.Name, extra.Namespace = "one-more", ns
	list := &labkitv1alpha1.JupyterLabList{}
	if err := c.List(ctx, list, client.InNamespace(ns), client.Limit(1)); err != nil || len(list.Items) == 0 {
		return fmt.Errorf("list labs: %v", err)
	}
	extra.Spec = *list.Items[0].Spec.DeepCopy()
	extra.Spec.GPU.Product, extra.Spec.GPU.Count = product, 1
	start := time.Now()
	if err := c.Create(ctx, extra); err != nil {
		return err
	}
	var cond *metav1.Condition
	err = stack.Waits.Until(ctx, "wait-verdict", func(ctx context.Context) (string, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(extra), extra); err != nil {
			return "", err
		}
		if cond = meta.FindStatusCondition(extra.Status.Conditions, labkitv1alpha1.ConditionScheduled); cond == nil || cond.Reason != labkitv1alpha1.ReasonUnschedulable {
			return fmt.Sprintf("lab %s/%s Scheduled condition %+v, want reason Unschedulable", ns, extra.Name, cond), nil
		}
		return "", nil
	})
	if err != nil {
		return err
	}
	r.add("one more "+product+" applied directly", "Scheduled=False, Unschedulable after %.1f s: %s", time.Since(start).Seconds(), cond.Message)

	after, err := podPlacement(ctx, c, ns)
	if err != nil {
		return err
	}
	if len(after) != len(before) {
		return fmt.Errorf("%d lab pods before one more, %d after", len(before), len(after))
	}
	for pod, node := range before {
		if after[pod] != node {
			return fmt.Errorf("pod %s was on %q and is now on %q", pod, node, after[pod])
		}
	}
	labs := &labkitv1alpha1.JupyterLabList{}
	if err := c.List(ctx, labs, client.InNamespace(ns)); err != nil {
		return err
	}
	ready := 0
	for i := range labs.Items {
		if meta.IsStatusConditionTrue(labs.Items[i].Status.Conditions, labkitv1alpha1.ConditionReady) {
			ready++
		}
	}
	if ready != len(labs.Items)-1 {
		return fmt.Errorf("%d of the %d other labs Ready after one more, want all", ready, len(labs.Items)-1)
	}
	r.add("other labs after one more", "undisturbed: %d Ready, %d running pods on the same nodes", ready, len(after))
	return nil
}

// podPlacement maps each running lab pod of ns to its node.
func podPlacement(ctx context.Context, c client.Client, ns string) (map[string]string, error) {
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(ns), client.HasLabels{labkitv1alpha1.LabLabel}); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" {
			m[p.Name] = p.Spec.NodeName
		}
	}
	return m, nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[:min(n, len(lines))], " ")
}
