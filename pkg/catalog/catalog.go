package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Catalog is what the nodes of a cluster offer. Its YAML form (Marshal, Parse) is the offline catalog file.
//
// A Catalog is safe for concurrent readers. MatchProduct, Fit and WriteTable index it on first use,
// so Nodes must not change after that.
type Catalog struct {
	Nodes []Node `json:"nodes"`

	once sync.Once
	idx  *index
}

// Node is one node and what it offers.
type Node struct {
	Name string `json:"name"`
	// GPU is the node's GPU model, from its nvidia.com/gpu.* labels; zero for a node without GPUs.
	GPU GPU `json:"gpu,omitzero"`
	// Allocatable is what the node offers to pods.
	Allocatable Resources `json:"allocatable"`
	// Free is Allocatable minus the requests of the pods bound to the node that have not terminated.
	Free Resources `json:"free"`
	// Taints are the node's NoSchedule and NoExecute taints.
	Taints []corev1.Taint `json:"taints,omitempty"`
	// Cordoned is spec.unschedulable. A node is schedulable unless it is Cordoned or NotReady,
	// so a node in a catalog file is usable unless it says otherwise.
	Cordoned bool `json:"cordoned,omitempty"`
	// NotReady is true unless the node's Ready condition is True.
	NotReady bool `json:"notReady,omitempty"`
}

// GPU is a node's GPU model as GPU feature discovery labels it.
type GPU struct {
	// Product is the value of the label nvidia.com/gpu.product, e.g. NVIDIA-A100-SXM4-40GB.
	Product string `json:"product,omitempty"`
	// Count is the value of the label nvidia.com/gpu.count.
	Count int64 `json:"count,omitempty"`
	// MemoryMiB is the memory of one GPU, the value of the label nvidia.com/gpu.memory.
	MemoryMiB int64 `json:"memoryMiB,omitempty"`
}

// Resources are amounts of CPU, memory and GPUs (nvidia.com/gpu).
type Resources struct {
	CPU    resource.Quantity `json:"cpu"`
	Memory resource.Quantity `json:"memory"`
	GPUs   int64             `json:"gpus,omitempty"`
}

const fieldsHint = "a catalog is nodes: [{name, gpu: {product, count, memoryMiB}, allocatable: {cpu, memory, gpus}, " +
	"free: {cpu, memory, gpus}, taints: [{key, value, effect}], cordoned, notReady}]"

// Parse reads a catalog from its YAML form. Unknown fields are an error, and so is a catalog that
// could not describe a cluster: nameless or repeated nodes, negative amounts, free above allocatable.
func Parse(data []byte) (*Catalog, error) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	c := &Catalog{}
	strict, err := sigsjson.UnmarshalStrict(j, c)
	if err != nil {
		return nil, locate(j, err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%w\n(%s)", errors.Join(strict...), fieldsHint)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// locate says which node a decoding error is about, as the decoder does not for a malformed quantity.
func locate(j []byte, err error) error {
	var raw struct{ Nodes []json.RawMessage }
	if json.Unmarshal(j, &raw) != nil {
		return err
	}
	for i, r := range raw.Nodes {
		var n Node
		if json.Unmarshal(r, &n) != nil {
			var named struct{ Name string }
			_ = json.Unmarshal(r, &named)
			return fmt.Errorf("nodes[%d] (%q): %w", i, named.Name, err)
		}
	}
	return err
}

// Load reads the catalog file at path; see Parse.
func Load(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return c, nil
}

// Marshal returns the catalog's YAML form, which Parse reads back.
func (c *Catalog) Marshal() ([]byte, error) {
	return yaml.Marshal(c)
}

func (c *Catalog) validate() error {
	var errs []error
	seen := make(map[string]int, len(c.Nodes))
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if n.Name == "" {
			errs = append(errs, fmt.Errorf("nodes[%d] has no name; every node needs a unique name", i))
			continue
		}
		if j, dup := seen[n.Name]; dup {
			errs = append(errs, fmt.Errorf("node %q appears twice (nodes[%d] and nodes[%d]); node names must be unique", n.Name, j, i))
			continue
		}
		seen[n.Name] = i
		errs = append(errs, n.validate()...)
	}
	return errors.Join(errs...)
}

func (n *Node) validate() []error {
	count := func(v int64) resource.Quantity { return *resource.NewQuantity(v, resource.DecimalSI) }
	allocGPUs := count(n.Allocatable.GPUs)
	checks := []struct {
		field      string
		value      resource.Quantity
		limitField string
		limit      *resource.Quantity
	}{
		{field: "gpu.count", value: count(n.GPU.Count)},
		{field: "gpu.memoryMiB", value: count(n.GPU.MemoryMiB)},
		{field: "allocatable.cpu", value: n.Allocatable.CPU},
		{field: "allocatable.memory", value: n.Allocatable.Memory},
		{field: "allocatable.gpus", value: allocGPUs},
		{"free.cpu", n.Free.CPU, "allocatable.cpu", &n.Allocatable.CPU},
		{"free.memory", n.Free.Memory, "allocatable.memory", &n.Allocatable.Memory},
		{"free.gpus", count(n.Free.GPUs), "allocatable.gpus", &allocGPUs},
	}
	var errs []error
	for _, c := range checks {
		switch {
		case c.value.Sign() < 0:
			errs = append(errs, fmt.Errorf("node %q: %s is %s; it must be 0 or more", n.Name, c.field, c.value.String()))
		case c.limit != nil && c.limit.Sign() >= 0 && c.value.Cmp(*c.limit) > 0:
			errs = append(errs, fmt.Errorf("node %q: %s %s is more than %s %s; free is what allocatable leaves after the pods' requests",
				n.Name, c.field, c.value.String(), c.limitField, c.limit.String()))
		}
	}
	for i, t := range n.Taints {
		if t.Key == "" || (t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute) {
			errs = append(errs, fmt.Errorf("node %q: taints[%d] %q needs a key and the effect NoSchedule or NoExecute", n.Name, i, t.ToString()))
		}
	}
	return errs
}
