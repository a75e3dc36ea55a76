package fakenodes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	// PoolsAPIVersion and PoolsKind name the document, next to the kind Cluster in the same file, that
	// lists the fake node pools. kind reads only the file's first document and ignores it.
	PoolsAPIVersion = "harness.labkit.dev/v1alpha1"
	PoolsKind       = "FakeNodePools"

	// GPUCountLabel on a node says how many fake GPUs it has; they are advertised as GPUResource.
	GPUCountLabel = "nvidia.com/gpu.count"
	// GPUResource is the extended resource fake GPUs are advertised as.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"
)

// DefaultCapacity is a fake node's CPU, memory and pods where its pool says nothing.
var DefaultCapacity = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("32"),
	corev1.ResourceMemory: resource.MustParse("256Gi"),
	corev1.ResourcePods:   resource.MustParse("110"),
}

// Pool is a number of alike nodes, named <Name>-0, <Name>-1, ... (or just <Name> for a kind worker).
type Pool struct {
	Name  string
	Count int
	// Labels and Taints are set on every node of the pool.
	Labels map[string]string
	Taints []corev1.Taint
	// Capacity is each node's capacity and allocatable: DefaultCapacity, overridden by the pool's
	// capacity, plus GPUResource from GPUCountLabel.
	Capacity corev1.ResourceList

	single bool // a kind worker: one node, named Name
}

// NodeNames lists the names of the pool's nodes.
func (p Pool) NodeNames() []string {
	if p.Count == 1 && p.single {
		return []string{p.Name}
	}
	names := make([]string, p.Count)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", p.Name, i)
	}
	return names
}

// GPUs is the number of GPUs each node of the pool has.
func (p Pool) GPUs() int64 {
	q := p.Capacity[GPUResource]
	return q.Value()
}

// Size is how many nodes the pools have in all, and how many GPUs.
func Size(pools ...Pool) (nodes int, gpus int64) {
	for _, p := range pools {
		nodes += p.Count
		gpus += int64(p.Count) * p.GPUs()
	}
	return nodes, gpus
}

// Config is what a kind config file declares: its workers, each a pool of one, named as kind names
// them (<cluster>-worker, <cluster>-worker2, ...), and the pools of its FakeNodePools document.
type Config struct {
	Workers []Pool
	Pools   []Pool
}

// All is the workers and the pools.
func (c *Config) All() []Pool { return append(append([]Pool(nil), c.Workers...), c.Pools...) }

// SelectPools returns the pools of the FakeNodePools document that are named, in the order named
// (each once), or all of them when none is. A name that is no declared pool is an error that lists the
// declared ones; so is a config that declares none.
func (c *Config) SelectPools(names ...string) ([]Pool, error) {
	declared := make([]string, len(c.Pools))
	for i, p := range c.Pools {
		declared[i] = p.Name
	}
	if len(c.Pools) == 0 {
		return nil, fmt.Errorf("no fake node pools declared: add a %s %s document to the kind config", PoolsAPIVersion, PoolsKind)
	}
	if len(names) == 0 {
		return slices.Clone(c.Pools), nil
	}
	var out []Pool
	var unknown []string
	for _, name := range names {
		i := slices.Index(declared, name)
		switch {
		case i < 0:
			unknown = append(unknown, strconv.Quote(name))
		case !slices.ContainsFunc(out, func(p Pool) bool { return p.Name == name }):
			out = append(out, c.Pools[i])
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("no fake node pool %s; declared: %s", strings.Join(unknown, ", "), strings.Join(declared, ", "))
	}
	return out, nil
}

type kindConfig struct {
	Kind       string `yaml:"kind"`
	APIVersion string `yaml:"apiVersion"`
	Nodes      []struct {
		Role                 string            `yaml:"role"`
		Labels               map[string]string `yaml:"labels"`
		KubeadmConfigPatches []string          `yaml:"kubeadmConfigPatches"`
	} `yaml:"nodes"`
}

type poolsDoc struct {
	Kind       string `yaml:"kind"`
	APIVersion string `yaml:"apiVersion"`
	Pools      []struct {
		Name     string            `yaml:"name"`
		Count    int               `yaml:"count"`
		Labels   map[string]string `yaml:"labels"`
		Taints   []taint           `yaml:"taints"`
		Capacity map[string]string `yaml:"capacity"`
	} `yaml:"pools"`
}

type taint struct {
	Key    string `yaml:"key"`
	Value  string `yaml:"value"`
	Effect string `yaml:"effect"`
}

type kubeadmPatch struct {
	Kind             string `yaml:"kind"`
	NodeRegistration struct {
		Taints []taint `yaml:"taints"`
	} `yaml:"nodeRegistration"`
}

// LoadFile reads Load's input from a file.
func LoadFile(path, cluster string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Load(raw, cluster)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Load reads a kind config (a kind.x-k8s.io/v1alpha4 Cluster) and, optionally, a FakeNodePools
// document after it in the same stream. Worker taints come from their JoinConfiguration patches.
func Load(raw []byte, cluster string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	cfg := &Config{}
	sawCluster := false
	for i := 0; ; i++ {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		var tm struct {
			Kind       string `yaml:"kind"`
			APIVersion string `yaml:"apiVersion"`
		}
		if err := node.Decode(&tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		switch {
		case tm.Kind == "Cluster" && tm.APIVersion == "kind.x-k8s.io/v1alpha4":
			if sawCluster {
				return nil, fmt.Errorf("document %d: a second kind Cluster; want one", i+1)
			}
			sawCluster = true
			workers, err := decodeWorkers(&node, cluster)
			if err != nil {
				return nil, err
			}
			cfg.Workers = workers
		case tm.Kind == PoolsKind && tm.APIVersion == PoolsAPIVersion:
			pools, err := decodePools(&node)
			if err != nil {
				return nil, err
			}
			cfg.Pools = append(cfg.Pools, pools...)
		default:
			return nil, fmt.Errorf("document %d is %s %q; want a kind.x-k8s.io/v1alpha4 Cluster or a %s %s", i+1, tm.APIVersion, tm.Kind, PoolsAPIVersion, PoolsKind)
		}
	}
	if !sawCluster {
		return nil, errors.New("no kind.x-k8s.io/v1alpha4 Cluster document")
	}
	seen := map[string]bool{}
	for _, p := range cfg.All() {
		for _, n := range p.NodeNames() {
			if seen[n] {
				return nil, fmt.Errorf("node name %q is declared twice; pool names must differ from each other and from %s-worker*", n, cluster)
			}
			seen[n] = true
		}
	}
	return cfg, nil
}

func decodeWorkers(node *yaml.Node, cluster string) ([]Pool, error) {
	var kc kindConfig
	if err := node.Decode(&kc); err != nil {
		return nil, fmt.Errorf("kind Cluster: %w", err)
	}
	var workers []Pool
	for i, n := range kc.Nodes {
		if n.Role != "worker" {
			continue
		}
		name := cluster + "-worker"
		if len(workers) > 0 {
			name += strconv.Itoa(len(workers) + 1)
		}
		p := Pool{Name: name, Count: 1, single: true, Labels: n.Labels}
		for _, raw := range n.KubeadmConfigPatches {
			var patch kubeadmPatch
			if err := yaml.Unmarshal([]byte(raw), &patch); err != nil {
				return nil, fmt.Errorf("node %d (%s): kubeadmConfigPatches: %w", i+1, name, err)
			}
			if patch.Kind != "JoinConfiguration" {
				continue
			}
			taints, err := convertTaints(patch.NodeRegistration.Taints)
			if err != nil {
				return nil, fmt.Errorf("node %d (%s): %w", i+1, name, err)
			}
			p.Taints = append(p.Taints, taints...)
		}
		var err error
		if p.Capacity, err = capacity(nil, p.Labels); err != nil {
			return nil, fmt.Errorf("node %d (%s): %w", i+1, name, err)
		}
		workers = append(workers, p)
	}
	return workers, nil
}

var poolName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func decodePools(node *yaml.Node) ([]Pool, error) {
	// Strictly: a misspelt field would otherwise be dropped without a word.
	raw, err := yaml.Marshal(node)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var doc poolsDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", PoolsKind, err)
	}
	var pools []Pool
	for i, in := range doc.Pools {
		where := fmt.Sprintf("%s pool %d (%q)", PoolsKind, i+1, in.Name)
		if !poolName.MatchString(in.Name) || len(in.Name) > 50 {
			return nil, fmt.Errorf("%s: name must be a DNS label of at most 50 characters (lower-case letters, digits, '-')", where)
		}
		if in.Count < 1 || in.Count > 10000 {
			return nil, fmt.Errorf("%s: count %d; want 1 to 10000", where, in.Count)
		}
		for k, v := range in.Labels {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				return nil, fmt.Errorf("%s: label key %q: %s", where, k, strings.Join(errs, "; "))
			}
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				return nil, fmt.Errorf("%s: label %s=%q: %s", where, k, v, strings.Join(errs, "; "))
			}
		}
		taints, err := convertTaints(in.Taints)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		c, err := capacity(in.Capacity, in.Labels)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		pools = append(pools, Pool{Name: in.Name, Count: in.Count, Labels: in.Labels, Taints: taints, Capacity: c})
	}
	return pools, nil
}

func convertTaints(in []taint) ([]corev1.Taint, error) {
	var out []corev1.Taint
	for _, t := range in {
		switch e := corev1.TaintEffect(t.Effect); e {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
			out = append(out, corev1.Taint{Key: t.Key, Value: t.Value, Effect: e})
		default:
			return nil, fmt.Errorf("taint %s has effect %q; want NoSchedule, PreferNoSchedule or NoExecute", t.Key, t.Effect)
		}
	}
	return out, nil
}

// capacity is DefaultCapacity with the given overrides, plus GPUResource from the labels.
func capacity(overrides map[string]string, labels map[string]string) (corev1.ResourceList, error) {
	c := DefaultCapacity.DeepCopy()
	for k, v := range overrides {
		if corev1.ResourceName(k) == GPUResource {
			return nil, fmt.Errorf("capacity %s: set the %s label instead", k, GPUCountLabel)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() < 0 {
			return nil, fmt.Errorf("capacity %s=%q is not a quantity such as 64 or 512Gi", k, v)
		}
		c[corev1.ResourceName(k)] = q
	}
	if label, ok := labels[GPUCountLabel]; ok {
		n, err := GPUCount(label)
		if err != nil {
			return nil, err
		}
		c[GPUResource] = *resource.NewQuantity(n, resource.DecimalSI)
	}
	return c, nil
}

// GPUCount parses the value of GPUCountLabel.
func GPUCount(label string) (int64, error) {
	n, err := strconv.ParseInt(label, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("label %s=%q is not a GPU count (a whole number)", GPUCountLabel, label)
	}
	return n, nil
}
