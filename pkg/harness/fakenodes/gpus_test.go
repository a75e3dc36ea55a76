package fakenodes_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, func(e *testenv.Env) { env = e }) }

// AdvertiseGPUs against a real API server: nodes labelled with a GPU count get that many as capacity
// and allocatable, through the status subresource; other nodes are left alone; a bad label is named.
func TestAdvertiseGPUsGivesLabelledNodesTheirCount(t *testing.T) {
	ctx := t.Context()
	mk := func(name string, labels map[string]string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if err := env.Client.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(ctx, n) })
		return n
	}
	gpu := mk("gpu-worker", map[string]string{fakenodes.GPUCountLabel: "4"})
	cpu := mk("cpu-worker", nil)
	if err := fakenodes.AdvertiseGPUs(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		n    *corev1.Node
		want string
	}{{gpu, "4"}, {cpu, ""}} {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(c.n), c.n); err != nil {
			t.Fatal(err)
		}
		got := ""
		if q, ok := c.n.Status.Allocatable[fakenodes.GPUResource]; ok {
			got = q.String()
			if capacity := c.n.Status.Capacity[fakenodes.GPUResource]; !capacity.Equal(resource.MustParse(got)) {
				t.Errorf("node %s: capacity %s, allocatable %s; want them equal", c.n.Name, capacity.String(), got)
			}
		}
		if got != c.want {
			t.Errorf("node %s: %s allocatable %q, want %q", c.n.Name, fakenodes.GPUResource, got, c.want)
		}
	}
	mk("bad-worker", map[string]string{fakenodes.GPUCountLabel: "four"})
	if err := fakenodes.AdvertiseGPUs(ctx, env.Client); err == nil || err.Error() != `node bad-worker: label nvidia.com/gpu.count="four" is not a GPU count (a whole number)` {
		t.Errorf("AdvertiseGPUs with a bad label = %v, want the node and label named", err)
	}
}
