package catalog_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/catalog"
)

var update = flag.Bool("update", false, "rewrite testdata/nodes.golden from the current output")

const mixed = "testdata/valid-mixed.yaml"

// quantities compares resource.Quantity by value, so "1" equals "1000m".
var quantities = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })

// load reads a catalog fixture.
func load(t testing.TB, path string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// without is c minus the named nodes, a new Catalog.
func without(c *catalog.Catalog, names ...string) *catalog.Catalog {
	out := &catalog.Catalog{}
	for _, n := range c.Nodes {
		if !slices.Contains(names, n.Name) {
			out.Nodes = append(out.Nodes, n)
		}
	}
	return out
}

// GenerateCatalog makes a catalog of n nodes: GPU nodes of four models (tainted nvidia.com/gpu) and
// CPU nodes, in rotation, with varied free amounts, some cordoned, NotReady or control-plane nodes.
// The same n gives the same catalog.
func GenerateCatalog(n int) *catalog.Catalog {
	models := []catalog.GPU{
		{Product: "NVIDIA-A100-SXM4-40GB", Count: 8, MemoryMiB: 40960},
		{Product: "NVIDIA-A100-80GB-PCIe", Count: 4, MemoryMiB: 81920},
		{Product: "NVIDIA-H100-80GB-HBM3", Count: 8, MemoryMiB: 81920},
		{Product: "Tesla-T4", Count: 4, MemoryMiB: 15360},
		{}, // a CPU node
	}
	c := &catalog.Catalog{Nodes: make([]catalog.Node, n)}
	for i := range c.Nodes {
		gpu := models[i%len(models)]
		node := catalog.Node{
			Name: fmt.Sprintf("node-%03d", i),
			GPU:  gpu,
			Allocatable: catalog.Resources{
				CPU: resource.MustParse("64"), Memory: resource.MustParse("512Gi"), GPUs: gpu.Count,
			},
			Free: catalog.Resources{
				CPU:    *resource.NewMilliQuantity(int64(i*7919%64001), resource.DecimalSI),
				Memory: *resource.NewQuantity(int64(i*13%513)<<30, resource.BinarySI),
				GPUs:   int64(i*5) % (gpu.Count + 1),
			},
			Cordoned: i%37 == 36,
			NotReady: i%53 == 52,
		}
		switch {
		case gpu.Count > 0:
			node.Taints = []corev1.Taint{{Key: v1alpha1.GPUTaintKey, Value: "present", Effect: corev1.TaintEffectNoSchedule}}
		case i%25 == 4:
			node.Taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
		}
		c.Nodes[i] = node
	}
	return c
}

func TestLoadRefusesInvalidCatalogs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string // parts of the error message
	}{
		{"invalid-unknown-field.yaml", []string{`unknown field "nodes[0].gpu.prodcut"`, "gpu: {product, count, memoryMiB}"}},
		{"invalid-duplicate-node.yaml", []string{`node "gpu-1" appears twice (nodes[0] and nodes[2]); node names must be unique`}},
		{"invalid-free-above-allocatable.yaml", []string{`node "gpu-1": free.gpus 5 is more than allocatable.gpus 4`}},
		{"invalid-negative-quantity.yaml", []string{`node "cpu-1": allocatable.cpu is -2; it must be 0 or more`}},
		{"invalid-taint-effect.yaml", []string{`node "cpu-1": taints[0] "dedicated=team-x:PreferNoSchedule" needs a key and the effect NoSchedule or NoExecute`}},
		{"invalid-unnamed-node.yaml", []string{"nodes[0] has no name"}},
		{"invalid-malformed-quantity.yaml", []string{`nodes[1] ("cpu-2"): quantities must match`}},
		{"does-not-exist.yaml", []string{"read catalog", "does-not-exist.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := "testdata/" + tt.file
			_, err := catalog.Load(path)
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want an error", path)
			}
			for _, want := range append(tt.want, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load(%s) error\n%v\ndoes not contain\n%s", path, err, want)
				}
			}
		})
	}
}

func TestMarshalRoundTrips(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]*catalog.Catalog{"fixture": load(t, mixed), "generated": GenerateCatalog(40)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := catalog.Parse(data)
			if err != nil {
				t.Fatalf("Parse(Marshal()) = %v; the YAML was\n%s", err, data)
			}
			if diff := cmp.Diff(c.Nodes, back.Nodes, quantities); diff != "" {
				t.Errorf("Parse(Marshal()) differs (-before +after):\n%s", diff)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := catalog.WriteTable(&buf, load(t, mixed)); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/nodes.golden"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/catalog -run TestWriteTable -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("WriteTable differs from %s (-want +got); if the change is right, rerun with -update:\n%s", golden, diff)
	}
}

// TestConcurrentReaders lets the race detector watch many goroutines index one catalog at once.
func TestConcurrentReaders(t *testing.T) {
	t.Parallel()
	c := load(t, mixed)
	req := catalog.Request{GPUProduct: "Tesla-T4", GPUs: 1, CPU: resource.MustParse("1"), Memory: resource.MustParse("1Gi")}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.MatchProduct("t4"); err != nil {
				t.Error(err)
			}
			if _, err := c.Fit(req); err != nil {
				t.Error(err)
			}
			if err := catalog.WriteTable(&bytes.Buffer{}, c); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
