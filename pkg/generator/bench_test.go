package generator

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/labkit-dev/labkit/pkg/catalog"
)

// benchCatalog is a 200-node cluster: 80 nodes of 8× H100, 60 of 4× A100, 20 of 2× T4, 40 CPU-only,
// with a little of each already in use.
func benchCatalog() *catalog.Catalog {
	pools := []struct {
		n       int
		product string
		gpus    int64
	}{{80, "NVIDIA-H100-80GB-HBM3", 8}, {60, "NVIDIA-A100-SXM4-40GB", 4}, {20, "Tesla-T4", 2}, {40, "", 0}}
	cat := &catalog.Catalog{}
	taint := []corev1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}}
	for _, p := range pools {
		for i := range p.n {
			n := catalog.Node{
				Name:        fmt.Sprintf("node-%s-%03d", map[bool]string{true: "cpu", false: "gpu"}[p.gpus == 0], len(cat.Nodes)),
				Allocatable: catalog.Resources{CPU: resource.MustParse("96"), Memory: resource.MustParse("768Gi"), GPUs: p.gpus},
				Free:        catalog.Resources{CPU: resource.MustParse("64"), Memory: resource.MustParse("512Gi"), GPUs: p.gpus - int64(i%2)*min(p.gpus, 1)},
			}
			if p.gpus > 0 {
				n.GPU = catalog.GPU{Product: p.product, Count: p.gpus, MemoryMiB: 81920}
				n.Taints = taint
			}
			cat.Nodes = append(cat.Nodes, n)
		}
	}
	return cat
}

// BenchmarkBuildAndRender10000 builds, checks against a 200-node catalog and renders 10,000 requests
// per iteration: ns/op is the time for all 10,000 (the goal is under 1 s).
func BenchmarkBuildAndRender10000(b *testing.B) {
	cat := benchCatalog()
	gpus := []string{"H100:2", "a100:1", "T4:1", "none", "h100-80gb:8", "A100-SXM4:4"}
	reqs := make([]Request, 10000)
	for i := range reqs {
		reqs[i] = request(func(r *Request) {
			r.Name = fmt.Sprintf("lab-%05d", i)
			r.GPU = gpus[i%len(gpus)]
		})
	}
	target := Target{RepoURL: "http://git.example/labs.git", Revision: "main"}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range reqs {
			lab, err := Build(r, cat)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Render(lab, target, ""); err != nil {
				b.Fatal(err)
			}
		}
	}
}
