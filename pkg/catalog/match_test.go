package catalog_test

import (
	"errors"
	"testing"

	"github.com/labkit-dev/labkit/pkg/catalog"
)

func TestMatchProduct(t *testing.T) {
	t.Parallel()
	all := load(t, mixed)
	noA10 := without(all, "gpu-a10-1")
	withMIG := load(t, mixed)
	withMIG.Nodes = append(withMIG.Nodes, catalog.Node{Name: "gpu-mig-1", GPU: catalog.GPU{Product: "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"}})

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
		{name: "words out of order", catalog: all, query: "sxm4-a100", wantErr: catalog.ErrUnknownGPU},
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
