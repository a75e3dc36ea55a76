package catalog

import (
	"cmp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// amount is an amount of resources in integers: milli-CPU, bytes of memory, GPUs.
type amount struct{ milliCPU, memory, gpus int64 }

func (r Resources) amount() amount {
	return amount{milliCPU: r.CPU.MilliValue(), memory: r.Memory.Value(), gpus: r.GPUs}
}

func (a amount) add(b amount) amount {
	return amount{a.milliCPU + b.milliCPU, a.memory + b.memory, a.gpus + b.gpus}
}

func (a amount) max(b amount) amount {
	return amount{max(a.milliCPU, b.milliCPU), max(a.memory, b.memory), max(a.gpus, b.gpus)}
}

// minus is a - b, never below zero: pods bound past a node's allocatable leave nothing free.
func (a amount) minus(b amount) amount {
	return amount{max(a.milliCPU-b.milliCPU, 0), max(a.memory-b.memory, 0), max(a.gpus-b.gpus, 0)}
}

func (a amount) covers(b amount) bool {
	return a.milliCPU >= b.milliCPU && a.memory >= b.memory && a.gpus >= b.gpus
}

func (a amount) resources() Resources {
	return Resources{
		CPU:    *resource.NewMilliQuantity(a.milliCPU, resource.DecimalSI),
		Memory: *resource.NewQuantity(a.memory, resource.BinarySI),
		GPUs:   a.gpus,
	}
}

// index is the catalog as Fit and MatchProduct read it, computed once.
type index struct {
	slots    []*slot   // every node in packing order: fewest free GPUs first, then by name
	products []product // by name
}

// slot is one node, precomputed for Fit.
type slot struct {
	node    *Node
	free    amount
	blocked string // why no lab lands here ("is cordoned"), empty if schedulable
	foreign string // why even a lab with GPUs may not land here ("is tainted k=v:NoSchedule"), empty if not
	taint   string // why a lab without GPUs, which tolerates no taint, may not land here, empty if not
}

// product is one GPU model and the nodes that have it, in packing order.
type product struct {
	name                  string
	tokens                []string
	slots                 []*slot
	free, total, mostFree int64 // GPUs over all its nodes
}

func (c *Catalog) index() *index {
	c.once.Do(func() { c.idx = newIndex(c.Nodes) })
	return c.idx
}

func newIndex(nodes []Node) *index {
	store := make([]slot, len(nodes))
	ix := &index{slots: make([]*slot, len(nodes))}
	for i := range nodes {
		store[i] = newSlot(&nodes[i])
		ix.slots[i] = &store[i]
	}
	slices.SortFunc(ix.slots, func(a, b *slot) int {
		return cmp.Or(cmp.Compare(a.free.gpus, b.free.gpus), strings.Compare(a.node.Name, b.node.Name))
	})
	for _, s := range ix.slots {
		name := s.node.GPU.Product
		if name == "" {
			continue
		}
		i, found := slices.BinarySearchFunc(ix.products, name, compareProduct)
		if !found {
			ix.products = slices.Insert(ix.products, i, product{name: name, tokens: tokens(name)})
		}
		p := &ix.products[i]
		p.slots = append(p.slots, s)
		p.free += s.free.gpus
		p.total += s.node.Allocatable.GPUs
		p.mostFree = max(p.mostFree, s.free.gpus)
	}
	return ix
}

func compareProduct(p product, name string) int { return strings.Compare(p.name, name) }

func newSlot(n *Node) slot {
	s := slot{node: n, free: n.Free.amount()}
	switch {
	case n.Cordoned && n.NotReady:
		s.blocked = "is cordoned and not ready"
	case n.Cordoned:
		s.blocked = "is cordoned"
	case n.NotReady:
		s.blocked = "is not ready"
	}
	for i := range n.Taints {
		why := "is tainted " + n.Taints[i].ToString()
		if s.taint == "" {
			s.taint = why
		}
		if s.foreign == "" && n.Taints[i].Key != v1alpha1.GPUTaintKey {
			s.foreign = why
		}
	}
	return s
}

// obstacle says why a lab that asks for GPUs (or not) cannot land on s whatever is free there, or "".
// A lab with GPUs tolerates the taint nvidia.com/gpu (any value and effect) and no other; a lab without, none.
func (s *slot) obstacle(gpus bool) string {
	switch {
	case s.blocked != "":
		return s.blocked
	case gpus:
		return s.foreign
	}
	return s.taint
}
