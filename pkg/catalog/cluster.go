package catalog

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// FromCluster reads the catalog of the cluster behind c, which must be allowed to list Nodes and
// Pods in all namespaces. A pod takes from its node's free resources until it Succeeds or Fails.
func FromCluster(ctx context.Context, c client.Reader) (*Catalog, error) {
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	used := make(map[string]amount, len(nodes.Items))
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		used[p.Spec.NodeName] = used[p.Spec.NodeName].add(podRequests(p))
	}
	cat := &Catalog{Nodes: make([]Node, len(nodes.Items))}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		var err error
		if cat.Nodes[i], err = fromNode(n, used[n.Name]); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(cat.Nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return cat, nil
}

func fromNode(n *corev1.Node, used amount) (Node, error) {
	alloc := n.Status.Allocatable
	gpus := alloc[v1alpha1.GPUResource]
	out := Node{
		Name:        n.Name,
		GPU:         GPU{Product: n.Labels[v1alpha1.GPUProductLabel]},
		Allocatable: Resources{CPU: *alloc.Cpu(), Memory: *alloc.Memory(), GPUs: gpus.Value()},
		Cordoned:    n.Spec.Unschedulable,
		NotReady:    !ready(n),
	}
	out.Free = out.Allocatable.amount().minus(used).resources()
	for _, l := range []struct {
		name string
		to   *int64
	}{{v1alpha1.GPUCountLabel, &out.GPU.Count}, {v1alpha1.GPUMemoryLabel, &out.GPU.MemoryMiB}} {
		s, ok := n.Labels[l.name]
		if !ok {
			continue
		}
		u, err := strconv.ParseUint(s, 10, 63)
		if err != nil {
			return Node{}, fmt.Errorf("node %q: label %s=%q is not a whole number 0 or more; fix or remove the label", n.Name, l.name, s)
		}
		*l.to = int64(u)
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			out.Taints = append(out.Taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
		}
	}
	return out, nil
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podRequests is what the scheduler reserves for p: the larger of its containers (with sidecars) and
// any init container (with the sidecars started before it), pod-level requests taking precedence, plus overhead.
func podRequests(p *corev1.Pod) amount {
	var containers, sidecars, init amount
	for i := range p.Spec.Containers {
		containers = containers.add(requests(p.Spec.Containers[i].Resources.Requests))
	}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		r := requests(c.Resources.Requests)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars = sidecars.add(r)
			init = init.max(sidecars)
		} else {
			init = init.max(r.add(sidecars))
		}
	}
	total := containers.add(sidecars).max(init)
	if p.Spec.Resources != nil {
		pod := p.Spec.Resources.Requests
		if q, ok := pod[corev1.ResourceCPU]; ok {
			total.milliCPU = q.MilliValue()
		}
		if q, ok := pod[corev1.ResourceMemory]; ok {
			total.memory = q.Value()
		}
	}
	return total.add(requests(p.Spec.Overhead))
}

func requests(l corev1.ResourceList) amount {
	gpus := l[v1alpha1.GPUResource]
	return amount{milliCPU: l.Cpu().MilliValue(), memory: l.Memory().Value(), gpus: gpus.Value()}
}
