package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// ErrNoFit means no node can take a request now.
var ErrNoFit = errors.New("no node can take the request")

// explainNodes is how many nodes an ErrNoFit message describes before "and N more".
const explainNodes = 5

// Request is what a lab asks of one node.
type Request struct {
	// GPUProduct is the exact product name, as MatchProduct returns it; ignored when GPUs is 0.
	GPUProduct string
	GPUs       int64
	CPU        resource.Quantity
	Memory     resource.Quantity
}

// String describes the request for people, e.g. "2× NVIDIA-A100-SXM4-40GB, 8 CPU, 32Gi".
func (r Request) String() string {
	s := fmt.Sprintf("%s CPU, %s", r.CPU.String(), r.Memory.String())
	if r.GPUs > 0 {
		s = fmt.Sprintf("%d× %s, %s", r.GPUs, r.GPUProduct, s)
	}
	return s
}

// Fit returns the nodes that can take r now, best first: fewest GPUs left over, then by name, so labs pack.
// A node qualifies if it is schedulable, has r's GPU product (when r asks for GPUs), has at least r's GPUs,
// CPU and memory free, and carries no taint r does not tolerate: a request with GPUs tolerates only the
// taint nvidia.com/gpu, a request without GPUs none.
// The error is ErrNoFit, saying what each candidate node lacks, or ErrUnknownGPU for a product no node has.
func (c *Catalog) Fit(r Request) ([]string, error) {
	if r.GPUs < 0 || r.CPU.Sign() < 0 || r.Memory.Sign() < 0 {
		return nil, fmt.Errorf("request %s: GPUs, CPU and memory must be 0 or more", r)
	}
	want := amount{milliCPU: r.CPU.MilliValue(), memory: r.Memory.Value(), gpus: r.GPUs}
	ix := c.index()
	slots := ix.slots
	if r.GPUs > 0 {
		if r.GPUProduct == "" {
			return nil, &explained{ErrUnknownGPU, fmt.Sprintf("a request for %s must name a gpu type; %s", plural(r.GPUs, "GPU"), ix.offered())}
		}
		p, err := ix.product(r.GPUProduct)
		if err != nil {
			return nil, err
		}
		slots = p.slots
	}
	takes := func(s *slot) bool { return s.obstacle(r.GPUs > 0) == "" && s.free.covers(want) }
	n := 0
	for _, s := range slots {
		if takes(s) {
			n++
		}
	}
	if n == 0 {
		return nil, noFit(r, want, slots)
	}
	fits := make([]string, 0, n)
	for _, s := range slots {
		if takes(s) {
			fits = append(fits, s.node.Name)
		}
	}
	return fits, nil
}

// noFit explains why none of slots takes r: for a request with GPUs every node of the product,
// otherwise the nodes it may land on, nearest to fitting first.
func noFit(r Request, want amount, slots []*slot) error {
	gpus := want.gpus > 0
	type miss struct {
		s        *slot
		obstacle string
	}
	nearer := func(a, b miss) bool {
		byGPUs := 0
		if gpus {
			byGPUs = cmp.Compare(b.s.free.gpus, a.s.free.gpus)
		}
		return cmp.Or(compareBool(a.obstacle != "", b.obstacle != ""), byGPUs,
			cmp.Compare(b.s.free.milliCPU, a.s.free.milliCPU), strings.Compare(a.s.node.Name, b.s.node.Name)) < 0
	}
	// nearest holds the explainNodes misses nearest to fitting, in order, without sorting them all.
	var nearest [explainNodes]miss
	misses := 0
	for _, s := range slots {
		m := miss{s, s.obstacle(gpus)}
		if m.obstacle != "" && !gpus {
			continue
		}
		i := min(misses, explainNodes)
		for i > 0 && nearer(m, nearest[i-1]) {
			i--
		}
		if i < explainNodes {
			copy(nearest[i+1:], nearest[i:]) // the farthest drops out
			nearest[i] = m
		}
		misses++
	}
	if misses == 0 {
		return &explained{ErrNoFit, fmt.Sprintf("no node can take %s now: every node is cordoned, not ready or tainted, "+
			"and a lab without GPUs tolerates no taint", r)}
	}
	parts := make([]string, 0, explainNodes+1)
	for _, m := range nearest[:min(misses, explainNodes)] {
		parts = append(parts, m.s.node.Name+" "+cmp.Or(m.obstacle, m.s.shortfall(want)))
	}
	if more := misses - explainNodes; more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	return &explained{ErrNoFit, fmt.Sprintf("no node can take %s now: %s", r, strings.Join(parts, "; "))}
}

// shortfall says what s lacks for want, e.g. "has 2 GPUs free but only 4 CPU free".
func (s *slot) shortfall(want amount) string {
	var short []string
	if want.milliCPU > s.free.milliCPU {
		short = append(short, formatCPU(s.free.milliCPU)+" CPU")
	}
	if want.memory > s.free.memory {
		short = append(short, formatBytes(s.free.memory)+" memory")
	}
	only := "only " + strings.Join(short, " and ") + " free"
	switch {
	case want.gpus > s.free.gpus && len(short) > 0:
		return fmt.Sprintf("has %d of %s free and %s", s.free.gpus, plural(s.node.Allocatable.GPUs, "GPU"), only)
	case want.gpus > s.free.gpus:
		return fmt.Sprintf("has %d of %s free", s.free.gpus, plural(s.node.Allocatable.GPUs, "GPU"))
	case want.gpus > 0:
		return fmt.Sprintf("has %s free but %s", plural(s.free.gpus, "GPU"), only)
	}
	return "has " + only
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Largest is the largest request for product (empty: a lab without GPUs) that some node can take now,
// as much as that node has free: the node with the most GPUs free (for a GPU product), then the most
// CPU, then memory. ok is false when
// no node can take even the smallest lab of that kind.
func (c *Catalog) Largest(product string) (r Request, node string, ok bool) {
	gpus := product != ""
	slots := c.index().slots
	if gpus {
		p, err := c.index().product(product)
		if err != nil {
			return Request{}, "", false
		}
		slots = p.slots
	}
	var best *slot
	for _, s := range slots {
		if s.obstacle(gpus) != "" || (gpus && s.free.gpus == 0) {
			continue
		}
		if best == nil {
			best = s
			continue
		}
		byGPUs := 0
		if gpus {
			byGPUs = cmp.Compare(s.free.gpus, best.free.gpus)
		}
		if cmp.Or(byGPUs, cmp.Compare(s.free.milliCPU, best.free.milliCPU), cmp.Compare(s.free.memory, best.free.memory)) > 0 {
			best = s
		}
	}
	if best == nil {
		return Request{}, "", false
	}
	free := best.free.resources()
	r = Request{CPU: free.CPU, Memory: free.Memory}
	if gpus {
		r.GPUProduct, r.GPUs = product, free.GPUs
	}
	return r, best.node.Name, true
}
