package catalog_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/labkit-dev/labkit/pkg/catalog"
)

func request(product string, gpus int64, cpu, memory string) catalog.Request {
	return catalog.Request{GPUProduct: product, GPUs: gpus, CPU: resource.MustParse(cpu), Memory: resource.MustParse(memory)}
}

func TestFit(t *testing.T) {
	t.Parallel()
	all := load(t, mixed)
	const sxm4 = "NVIDIA-A100-SXM4-40GB"
	tests := []struct {
		name    string
		catalog *catalog.Catalog
		req     catalog.Request
		want    []string
		wantErr error
		wantMsg string // the whole message, when set
	}{
		{name: "packs onto the node with the fewest GPUs left, cordoned skipped", catalog: all,
			req: request(sxm4, 1, "4", "16Gi"), want: []string{"gpu-a100-1", "gpu-a100-2"}},
		{name: "needs enough GPUs free", catalog: all,
			req: request(sxm4, 2, "4", "16Gi"), want: []string{"gpu-a100-2"}},
		{name: "NotReady node skipped", catalog: all,
			req: request("Tesla-T4", 2, "4", "8Gi"), want: []string{"gpu-t4-1"}},
		{name: "without GPUs: untainted schedulable nodes, CPU nodes first", catalog: all,
			req: request("", 0, "2", "8Gi"), want: []string{"cpu-1", "cpu-2", "gpu-t4-1"}},
		{name: "a product with 0 GPUs is a request without GPUs", catalog: all,
			req: request(sxm4, 0, "2", "8Gi"), want: []string{"cpu-1", "cpu-2", "gpu-t4-1"}},
		{name: "millicores", catalog: all,
			req: request("", 0, "2500m", "40Gi"), want: []string{"cpu-1"}},
		{
			name: "GPU and CPU shortfall", catalog: all, req: request(sxm4, 2, "8", "32Gi"), wantErr: catalog.ErrNoFit,
			wantMsg: "no node can take 2× NVIDIA-A100-SXM4-40GB, 8 CPU, 32Gi now: gpu-a100-2 has 2 GPUs free but only 4 CPU free; " +
				"gpu-a100-1 has 1 of 4 GPUs free; gpu-a100-3 is cordoned",
		},
		{
			name: "every shortfall of a node", catalog: all, req: request(sxm4, 2, "48", "350Gi"), wantErr: catalog.ErrNoFit,
			wantMsg: "no node can take 2× NVIDIA-A100-SXM4-40GB, 48 CPU, 350Gi now: gpu-a100-2 has 2 GPUs free but only 4 CPU free; " +
				"gpu-a100-1 has 1 of 4 GPUs free and only 40 CPU and 300Gi memory free; gpu-a100-3 is cordoned",
		},
		{
			name: "memory shortfall and a NotReady node", catalog: all, req: request("Tesla-T4", 2, "4", "31Gi"), wantErr: catalog.ErrNoFit,
			wantMsg: "no node can take 2× Tesla-T4, 4 CPU, 31Gi now: gpu-t4-1 has 2 GPUs free but only 30Gi memory free; gpu-t4-2 is not ready",
		},
		{
			name: "a GPU lab tolerates only the nvidia.com/gpu taint", catalog: all, req: request("NVIDIA-A10", 1, "1", "1Gi"), wantErr: catalog.ErrNoFit,
			wantMsg: "no node can take 1× NVIDIA-A10, 1 CPU, 1Gi now: gpu-a10-1 is tainted dedicated=team-x:NoExecute",
		},
		{
			name: "without GPUs: only untainted schedulable nodes are explained", catalog: all, req: request("", 0, "12", "48Gi"), wantErr: catalog.ErrNoFit,
			wantMsg: "no node can take 12 CPU, 48Gi now: cpu-1 has only 40Gi memory free; " +
				"gpu-t4-1 has only 8 CPU and 30Gi memory free; cpu-2 has only 2.5 CPU and 8Gi memory free",
		},
		{
			name: "without GPUs: tainted and control-plane nodes never fit", catalog: without(all, "cpu-1", "cpu-2", "gpu-t4-1"),
			req: request("", 0, "1", "1Gi"), wantErr: catalog.ErrNoFit,
			wantMsg: "no node can take 1 CPU, 1Gi now: every node is cordoned, not ready or tainted, and a lab without GPUs tolerates no taint",
		},
		{name: "product not exact", catalog: all, req: request("A100", 1, "1", "1Gi"), wantErr: catalog.ErrUnknownGPU,
			wantMsg: `gpu type "A100" is not offered by any node; offered: NVIDIA-A10 (node gpu-a10-1: 1 of 1 free), ` +
				"NVIDIA-A100-80GB-PCIe (node gpu-a100-80g-1: 2 of 2 free), NVIDIA-A100-SXM4-40GB (3 nodes, 7 of 12 free; most on one node: 4), " +
				"Tesla-T4 (2 nodes, 4 of 4 free; most on one node: 2)"},
		{name: "GPUs without a product", catalog: all, req: request("", 1, "1", "1Gi"), wantErr: catalog.ErrUnknownGPU},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.catalog.Fit(tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Fit(%s) = %v, %v; want error %v", tt.req, got, err, tt.wantErr)
			}
			if err != nil && tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("Fit(%s) error\n%s\nwant\n%s", tt.req, err, tt.wantMsg)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Fit(%s) = %v, want %v", tt.req, got, tt.want)
			}
		})
	}
}

func TestFitRefusesNegativeRequests(t *testing.T) {
	t.Parallel()
	c := load(t, mixed)
	for _, req := range []catalog.Request{
		request("Tesla-T4", -1, "1", "1Gi"),
		request("", 0, "-1", "1Gi"),
		request("", 0, "1", "-1Gi"),
	} {
		_, err := c.Fit(req)
		if err == nil || errors.Is(err, catalog.ErrNoFit) || !strings.Contains(err.Error(), req.String()) ||
			!strings.Contains(err.Error(), "must be 0 or more") {
			t.Errorf("Fit(%s) = %v, want an error naming the request and saying amounts must be 0 or more", req, err)
		}
	}
}

func TestFitMessageIsBounded(t *testing.T) {
	t.Parallel()
	c := GenerateCatalog(500) // 100 nodes of each GPU model, 8 GPUs at most
	_, err := c.Fit(request("NVIDIA-A100-SXM4-40GB", 9, "1", "1Gi"))
	if !errors.Is(err, catalog.ErrNoFit) {
		t.Fatalf("Fit = %v, want ErrNoFit", err)
	}
	if msg := err.Error(); !strings.HasSuffix(msg, "; and 95 more") || len(msg) > 600 {
		t.Errorf("Fit error should describe 5 nodes and end with \"; and 95 more\" in under 600 bytes; got %d bytes:\n%s", len(msg), msg)
	}
}

// BenchmarkFit reports the time of 10,000 Fit calls against 200 nodes per op, and per call as ns/request.
// About a third of the requests fit nowhere, so the error path is measured too.
func BenchmarkFit(b *testing.B) {
	c := GenerateCatalog(200)
	products := []string{"NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-80GB-PCIe", "NVIDIA-H100-80GB-HBM3", "Tesla-T4"}
	reqs := make([]catalog.Request, 10_000)
	for i := range reqs {
		gpus := int64(1 + i%4)
		if i%10 < 3 {
			gpus = 0
		}
		reqs[i] = request(products[i%len(products)], gpus, fmt.Sprint(1+i%16), fmt.Sprintf("%dGi", 4+i%60))
	}
	misses := 0
	b.ReportAllocs()
	for b.Loop() {
		misses = 0
		for _, r := range reqs {
			if _, err := c.Fit(r); err != nil {
				misses++
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(reqs)), "ns/request")
	b.ReportMetric(float64(misses)/float64(len(reqs)), "nofit/request")
}

func TestLargest(t *testing.T) {
	t.Parallel()
	all := load(t, mixed)
	tests := []struct {
		product  string
		want     catalog.Request
		wantNode string
		wantOK   bool
	}{
		// gpu-a100-3 has 4 free but is cordoned; gpu-a100-2 has the most of the others.
		{"NVIDIA-A100-SXM4-40GB", request("NVIDIA-A100-SXM4-40GB", 2, "4", "400Gi"), "gpu-a100-2", true},
		// gpu-t4-2 is not ready.
		{"Tesla-T4", request("Tesla-T4", 2, "8", "30Gi"), "gpu-t4-1", true},
		// Its only node carries a taint a lab does not tolerate.
		{"NVIDIA-A10", catalog.Request{}, "", false},
		{"NVIDIA-H100", catalog.Request{}, "", false},
		// Without GPUs: untainted nodes, most CPU first.
		{"", request("", 0, "12", "40Gi"), "cpu-1", true},
	}
	for _, tt := range tests {
		got, node, ok := all.Largest(tt.product)
		if ok != tt.wantOK || node != tt.wantNode || got.String() != tt.want.String() {
			t.Errorf("Largest(%q) = %s on %q, %v; want %s on %q, %v", tt.product, got, node, ok, tt.want, tt.wantNode, tt.wantOK)
		}
	}
}
