package fakenodes

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// ManagedAnnotation marks the nodes kwok drives (its --manage-nodes-with-annotation-selector).
	ManagedAnnotation = "kwok.x-k8s.io/node"
	// TypeLabel=kwok is on every fake node, so real workloads (kwok itself) can keep off them.
	TypeLabel = "type"
	TypeKwok  = "kwok"
	// PoolLabel names the pool a fake node belongs to.
	PoolLabel = "harness.labkit.dev/pool"
)

// createParallelism bounds the node writes in flight.
const createParallelism = 16

// Create creates the nodes of the pools for kwok to drive, and sets their capacity and allocatable.
// A node that exists already is updated to the pool's labels, taints and capacity.
func Create(ctx context.Context, c client.Client, pools ...Pool) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(createParallelism)
	for _, p := range pools {
		for _, name := range p.NodeNames() {
			g.Go(func() error { return createNode(ctx, c, p, name) })
		}
	}
	return g.Wait()
}

func createNode(ctx context.Context, c client.Client, p Pool, name string) error {
	labels := maps.Clone(p.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[TypeLabel], labels[PoolLabel], labels[corev1.LabelHostname] = TypeKwok, p.Name, name
	// The capacity goes in with the node, as a kubelet registers its node: a status written afterwards
	// races kwok and the node lifecycle controller, which write the new node's status and taints at once.
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{ManagedAnnotation: "fake"}},
		Spec:       corev1.NodeSpec{Taints: p.Taints},
		Status:     corev1.NodeStatus{Capacity: p.Capacity.DeepCopy(), Allocatable: p.Capacity.DeepCopy()},
	}
	err := c.Create(ctx, n)
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("create fake node %s: %w", name, err)
		}
		return nil
	}
	// It exists: bring it to the pool's labels, taints and capacity, re-reading it when kwok or the
	// control plane wrote it meanwhile.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		old := &corev1.Node{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, old); err != nil {
			return err
		}
		if old.Annotations[ManagedAnnotation] != "fake" {
			return fmt.Errorf("node %s exists and is not a fake node; choose another pool name", name)
		}
		old.Labels, old.Spec.Taints = labels, append(slices.Clone(p.Taints), notKwokTaints(old.Spec.Taints)...)
		if err := c.Update(ctx, old); err != nil {
			return err
		}
		old.Status.Capacity, old.Status.Allocatable = p.Capacity.DeepCopy(), p.Capacity.DeepCopy()
		return c.Status().Update(ctx, old)
	})
	if err != nil {
		return fmt.Errorf("update fake node %s: %w", name, err)
	}
	return nil
}

// notKwokTaints keeps the taints the control plane manages (node.kubernetes.io/...).
func notKwokTaints(ts []corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range ts {
		if strings.HasPrefix(t.Key, "node.kubernetes.io/") {
			out = append(out, t)
		}
	}
	return out
}

// Delete deletes every fake node of the pools (those missing already are fine), and with it, through
// the pod garbage collector, the pods bound to them.
func Delete(ctx context.Context, c client.Client, pools ...Pool) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(createParallelism)
	for _, p := range pools {
		for _, name := range p.NodeNames() {
			g.Go(func() error {
				n := &corev1.Node{}
				if err := c.Get(ctx, client.ObjectKey{Name: name}, n); apierrors.IsNotFound(err) {
					return nil
				} else if err != nil {
					return err
				}
				if n.Annotations[ManagedAnnotation] != "fake" {
					return fmt.Errorf("node %s is not a fake node; not deleting it", name)
				}
				if err := c.Delete(ctx, n); client.IgnoreNotFound(err) != nil {
					return fmt.Errorf("delete fake node %s: %w", name, err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}

// readyInterval is how often WaitReady lists the nodes.
const readyInterval = 500 * time.Millisecond

// WaitReady waits until every node of the pools exists, has condition Ready=True and no longer has the
// node.kubernetes.io/not-ready or unreachable taint, so that pods schedule onto it; or until the timeout
// passes, and then the error says how many are not Ready and names some of them with what they lack.
// The node lifecycle controller removes the taint some seconds after kwok reports the node Ready: on
// a few hundred nodes it is the longer wait.
func WaitReady(ctx context.Context, c client.Client, timeout time.Duration, pools ...Pool) error {
	want := map[string]bool{}
	for _, p := range pools {
		for _, name := range p.NodeNames() {
			want[name] = true
		}
	}
	var notReady []string
	err := wait.PollUntilContextTimeout(ctx, readyInterval, timeout, true, func(ctx context.Context) (bool, error) {
		nodes := &corev1.NodeList{}
		if err := c.List(ctx, nodes); err != nil {
			notReady = []string{fmt.Sprintf("list nodes: %v", err)}
			return false, nil // the API server may be busy: try again until the timeout
		}
		notReady = notReadyNodes(want, nodes.Items)
		return len(notReady) == 0, nil
	})
	if err == nil {
		return nil
	}
	const shown = 5
	names := notReady
	if len(names) > shown {
		names = append(names[:shown:shown], fmt.Sprintf("and %d more", len(notReady)-shown))
	}
	return fmt.Errorf("wait-nodes-ready (timeout %s): %d of %d fake nodes not Ready: %s; is kwok running, and managing the nodes annotated %s=fake?: %w",
		timeout, len(notReady), len(want), strings.Join(names, ", "), ManagedAnnotation, err)
}

// notReadyNodes lists, sorted, the wanted nodes that are missing or not Ready, each with why.
func notReadyNodes(want map[string]bool, nodes []corev1.Node) []string {
	seen := make(map[string]bool, len(want))
	var out []string
	for i := range nodes {
		n := &nodes[i]
		if !want[n.Name] {
			continue
		}
		seen[n.Name] = true
		cond := "no Ready condition"
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				cond = fmt.Sprintf("Ready=%s", c.Status)
				if c.Status == corev1.ConditionTrue {
					cond = ""
				}
			}
		}
		for _, t := range n.Spec.Taints {
			if cond == "" && (t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable) {
				cond = "taint " + t.Key
			}
		}
		if cond != "" {
			out = append(out, n.Name+" ("+cond+")")
		}
	}
	for name := range want {
		if !seen[name] {
			out = append(out, name+" (missing)")
		}
	}
	slices.Sort(out)
	return out
}

// AdvertiseGPUs sets GPUResource capacity and allocatable on every node labelled GPUCountLabel, to that
// count, through the node status (as a device plugin would), so pods that ask for GPUs schedule and
// run without one: the fake GPUs of a kind cluster's real nodes. Nodes without the label are left
// alone; a node already advertising its count is not written.
func AdvertiseGPUs(ctx context.Context, cl client.Client) error {
	nodes := &corev1.NodeList{}
	if err := cl.List(ctx, nodes); err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var errs []error
	for i := range nodes.Items {
		n := &nodes.Items[i]
		label, ok := n.Labels[GPUCountLabel]
		if !ok {
			continue
		}
		count, err := GPUCount(label)
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
			continue
		}
		q := *resource.NewQuantity(count, resource.DecimalSI)
		if have, ok := n.Status.Allocatable[GPUResource]; ok && have.Equal(q) {
			continue
		}
		patch := fmt.Appendf(nil, `{"status":{"capacity":{%q:%q},"allocatable":{%q:%q}}}`, GPUResource, q.String(), GPUResource, q.String())
		if err := cl.Status().Patch(ctx, n, client.RawPatch("application/merge-patch+json", patch)); err != nil {
			errs = append(errs, fmt.Errorf("advertise %d GPUs on node %s: %w", count, n.Name, err))
		}
	}
	return errors.Join(errs...)
}
