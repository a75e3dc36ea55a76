package catalog_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/labkit-dev/labkit/pkg/catalog"
)

func TestMatchProduct(t *testing.T) {
	t.Parallel()
	all := load(t, mixed)
	noA10 := without(all, "gpu-a10-1")
	withMIG := load(t, mixed)
	withMIG.Nodes = append(withMIG.Nodes, catalog.Node{Name: "gpu-mig-1", GPU: catalog.GPU{Product: "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"}})
	example := load(t, "../../docs/examples/catalog.yaml")
	// models offers one of many models, each on a node with 1 of 2 GPUs free.
	models := offering("NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-SXM4-40GB", "Tesla-T4", "NVIDIA-T400",
		"NVIDIA-H100-80GB-HBM3", "NVIDIA-L4", "NVIDIA-GeForce-RTX-4090")
	// a100s offers the A100 in both 80 GB form factors and in 40 GB.
	a100s := offering("NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-80GB-PCIe", "NVIDIA-A100-SXM4-40GB")

	const offered = "offered: NVIDIA-A10 (node gpu-a10-1: 1 of 1 free), " +
		"NVIDIA-A100-80GB-PCIe (node gpu-a100-80g-1: 2 of 2 free), " +
		"NVIDIA-A100-SXM4-40GB (3 nodes, 7 of 12 free; most on one node: 4), " +
		"Tesla-T4 (2 nodes, 4 of 4 free; most on one node: 2)"
	tests := []struct {
		name    string
		catalog *catalog.Catalog
		query   string
		want    string
		wantErr error
		wantMsg string
	}{
		{name: "exact", catalog: all, query: "NVIDIA-A100-SXM4-40GB", want: "NVIDIA-A100-SXM4-40GB"},
		{name: "exact but for case", catalog: all, query: "nvidia-a100-sxm4-40gb", want: "NVIDIA-A100-SXM4-40GB"},
		{name: "exact wins over a longer name", catalog: withMIG, query: "NVIDIA-A100-SXM4-40GB", want: "NVIDIA-A100-SXM4-40GB"},
		{name: "exact but for case wins over a longer name", catalog: withMIG, query: "Nvidia-A100-SXM4-40GB", want: "NVIDIA-A100-SXM4-40GB"},
		{name: "model and memory", catalog: all, query: "a100-80gb", want: "NVIDIA-A100-80GB-PCIe"},
		{name: "words in the middle, underscore", catalog: all, query: "A100_SXM4", want: "NVIDIA-A100-SXM4-40GB"},
		{name: "last word, dot", catalog: all, query: "80gb.pcie", want: "NVIDIA-A100-80GB-PCIe"},
		{name: "vendor word tesla ignored", catalog: all, query: "t4", want: "Tesla-T4"},
		{name: "vendor word in the query, space", catalog: all, query: "NVIDIA T4", want: "Tesla-T4"},
		{name: "A10 is a word, not a prefix of A100", catalog: all, query: "A10", want: "NVIDIA-A10"},
		{
			name: "A10 does not find A100", catalog: noA10, query: "A10", wantErr: catalog.ErrUnknownGPU,
			wantMsg: `gpu type "A10" is not offered by any node; offered: ` +
				"NVIDIA-A100-80GB-PCIe (node gpu-a100-80g-1: 2 of 2 free), " +
				"NVIDIA-A100-SXM4-40GB (3 nodes, 7 of 12 free; most on one node: 4), " +
				"Tesla-T4 (2 nodes, 4 of 4 free; most on one node: 2)",
		},
		{
			name: "ambiguous", catalog: all, query: "A100", wantErr: catalog.ErrAmbiguousGPU,
			wantMsg: `gpu type "A100" is ambiguous: NVIDIA-A100-80GB-PCIe (2 free), NVIDIA-A100-SXM4-40GB (7 free); name one of them`,
		},
		{
			name: "ambiguous among longer names", catalog: withMIG, query: "a100-sxm4-40gb", wantErr: catalog.ErrAmbiguousGPU,
			wantMsg: `gpu type "a100-sxm4-40gb" is ambiguous: NVIDIA-A100-SXM4-40GB (7 free), NVIDIA-A100-SXM4-40GB-MIG-1g.5gb (0 free); name one of them`,
		},
		{
			name: "unknown", catalog: all, query: "V100", wantErr: catalog.ErrUnknownGPU,
			wantMsg: `gpu type "V100" is not offered by any node; ` + offered,
		},
		{name: "words in any order", catalog: all, query: "sxm4-a100", want: "NVIDIA-A100-SXM4-40GB"},

		// The reported case: the form factor between model and memory may be left out.
		{name: "reported: A100-80GB finds A100-SXM4-80GB", catalog: models, query: "A100-80GB", want: "NVIDIA-A100-SXM4-80GB"},
		{name: "form factor left out, PCIe", catalog: without(a100s, "node-0"), query: "A100-80GB", want: "NVIDIA-A100-80GB-PCIe"},
		{name: "form factor left out, HBM3", catalog: models, query: "H100-80GB", want: "NVIDIA-H100-80GB-HBM3"},
		{
			name: "form factor left out, both 80 GB A100s", catalog: a100s, query: "A100-80GB", wantErr: catalog.ErrAmbiguousGPU,
			wantMsg: `gpu type "A100-80GB" is ambiguous: NVIDIA-A100-80GB-PCIe (1 free), NVIDIA-A100-SXM4-80GB (1 free); name one of them`,
		},
		{name: "form factor named, PCIe", catalog: a100s, query: "A100-PCIe", want: "NVIDIA-A100-80GB-PCIe"},
		{name: "form factor named, SXM4 and memory", catalog: a100s, query: "a100-sxm4-80g", want: "NVIDIA-A100-SXM4-80GB"},
		{name: "form factor named, HBM3", catalog: models, query: "h100 hbm3", want: "NVIDIA-H100-80GB-HBM3"},
		{name: "form factor named but not offered", catalog: models, query: "A100-80GB-PCIe", wantErr: catalog.ErrUnknownGPU},
		{name: "form factor named, memory not offered in it", catalog: a100s, query: "A100-PCIe-40GB", wantErr: catalog.ErrUnknownGPU},
		{
			name: "form factor named, both SXM4 A100s", catalog: a100s, query: "A100-SXM4", wantErr: catalog.ErrAmbiguousGPU,
			wantMsg: `gpu type "A100-SXM4" is ambiguous: NVIDIA-A100-SXM4-40GB (1 free), NVIDIA-A100-SXM4-80GB (1 free); name one of them`,
		},

		// Memory with or without GB, in either order and spacing.
		{name: "memory after a space", catalog: models, query: "A100 80GB", want: "NVIDIA-A100-SXM4-80GB"},
		{name: "memory in G", catalog: models, query: "a100-80g", want: "NVIDIA-A100-SXM4-80GB"},
		{name: "memory without unit", catalog: models, query: "A100-80", want: "NVIDIA-A100-SXM4-80GB"},
		{name: "memory after an underscore", catalog: models, query: "a100_80gb", want: "NVIDIA-A100-SXM4-80GB"},
		{name: "memory with its unit as a word", catalog: models, query: "A100 80 GB", want: "NVIDIA-A100-SXM4-80GB"},
		{name: "memory first", catalog: models, query: "80GB A100", want: "NVIDIA-A100-SXM4-80GB"},
		{name: "memory picks the 40 GB one", catalog: models, query: "A100-40GB", want: "NVIDIA-A100-SXM4-40GB"},
		{name: "memory picks the 40 GB one, without unit", catalog: a100s, query: "a100 40", want: "NVIDIA-A100-SXM4-40GB"},
		{name: "memory is a whole number", catalog: models, query: "A100-8", wantErr: catalog.ErrUnknownGPU},
		{name: "memory not offered", catalog: models, query: "A100-16GB", wantErr: catalog.ErrUnknownGPU},
		{
			name: "memory alone", catalog: models, query: "80GB", wantErr: catalog.ErrAmbiguousGPU,
			wantMsg: `gpu type "80GB" is ambiguous: NVIDIA-A100-SXM4-80GB (1 free), NVIDIA-H100-80GB-HBM3 (1 free); name one of them`,
		},
		{name: "memory spelled alike in the product too", catalog: withMIG, query: "a100 mig 1g.5gb", want: "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"},

		// Vendor words are optional.
		{name: "vendor word nvidia in the query", catalog: models, query: "NVIDIA A100 80GB", want: "NVIDIA-A100-SXM4-80GB"},
		{name: "vendor word nvidia left out", catalog: models, query: "L4", want: "NVIDIA-L4"},
		{name: "vendor word tesla in the query", catalog: models, query: "Tesla T4", want: "Tesla-T4"},
		{name: "vendor word geforce left out", catalog: models, query: "RTX 4090", want: "NVIDIA-GeForce-RTX-4090"},
		{name: "vendor words nvidia geforce in the query", catalog: models, query: "NVIDIA GeForce RTX 4090", want: "NVIDIA-GeForce-RTX-4090"},
		{name: "a vendor word alone names nothing", catalog: models, query: "nvidia", wantErr: catalog.ErrUnknownGPU},

		// A query word matches a whole product word, not a part of one.
		{name: "T4 is not a prefix of T400", catalog: models, query: "T4", want: "Tesla-T4"},
		{name: "T400 by its name", catalog: models, query: "t400", want: "NVIDIA-T400"},
		{name: "L4 is not a part of L40S", catalog: offering("NVIDIA-L40S"), query: "L4", wantErr: catalog.ErrUnknownGPU},
		{name: "A10 does not find A100-SXM4-40GB", catalog: models, query: "A10", wantErr: catalog.ErrUnknownGPU},
		{name: "a word the product lacks", catalog: models, query: "H100-NVL", wantErr: catalog.ErrUnknownGPU},

		// docs/examples/catalog.yaml: A100 names two products, A100 with a memory size one.
		{
			name: "example: A100 is ambiguous", catalog: example, query: "A100", wantErr: catalog.ErrAmbiguousGPU,
			wantMsg: `gpu type "A100" is ambiguous: NVIDIA-A100-80GB-PCIe (2 free), NVIDIA-A100-SXM4-40GB (3 free); name one of them`,
		},
		{name: "example: A100-40GB", catalog: example, query: "A100-40GB", want: "NVIDIA-A100-SXM4-40GB"},
		{name: "example: A100-80GB", catalog: example, query: "A100-80GB", want: "NVIDIA-A100-80GB-PCIe"},
		{name: "example: a100 80g", catalog: example, query: "a100 80g", want: "NVIDIA-A100-80GB-PCIe"},
		{name: "example: T4", catalog: example, query: "T4", want: "Tesla-T4"},
		{name: "empty", catalog: all, query: "", wantErr: catalog.ErrUnknownGPU},
		{
			name: "no GPUs at all", catalog: &catalog.Catalog{}, query: "T4", wantErr: catalog.ErrUnknownGPU,
			wantMsg: `gpu type "T4" is not offered by any node; no node offers GPUs`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.catalog.MatchProduct(tt.query)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("MatchProduct(%q) = %q, %v; want error %v", tt.query, got, err, tt.wantErr)
			}
			if err != nil && tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("MatchProduct(%q) error\n%s\nwant\n%s", tt.query, err, tt.wantMsg)
			}
			if got != tt.want {
				t.Errorf("MatchProduct(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

// offering is a catalog of one node per product, named node-0, node-1, ..., each with 1 of 2 GPUs free.
func offering(products ...string) *catalog.Catalog {
	c := &catalog.Catalog{}
	for i, p := range products {
		c.Nodes = append(c.Nodes, catalog.Node{
			Name:        fmt.Sprintf("node-%d", i),
			GPU:         catalog.GPU{Product: p, Count: 2},
			Allocatable: catalog.Resources{GPUs: 2},
			Free:        catalog.Resources{GPUs: 1},
		})
	}
	return c
}

// BenchmarkMatchProduct reports the time of 10,000 calls per op, and per call as ns/query.
func BenchmarkMatchProduct(b *testing.B) {
	c := GenerateCatalog(200)
	queries := []string{"NVIDIA-H100-80GB-HBM3", "a100-80gb", "t4", "h100", "A100", "V100"}
	const calls = 10_000
	b.ReportAllocs()
	for b.Loop() {
		for i := range calls {
			_, _ = c.MatchProduct(queries[i%len(queries)])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*calls), "ns/query")
}
