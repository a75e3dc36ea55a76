package fakenodes_test

import (
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
)

func TestTheProjectsKindConfigDeclaresWorkersAndPools(t *testing.T) {
	cfg, err := fakenodes.LoadFile("../../../kind-config.yaml", "labkit")
	if err != nil {
		t.Fatal(err)
	}
	var workers []string
	for _, w := range cfg.Workers {
		workers = append(workers, w.NodeNames()...)
	}
	if got, want := strings.Join(workers, " "), "labkit-worker labkit-worker2 labkit-worker3"; got != want {
		t.Errorf("workers = %s, want %s (kind's names)", got, want)
	}
	a100 := cfg.Workers[0]
	if a100.GPUs() != 4 || len(a100.Taints) != 1 || a100.Taints[0].Key != "nvidia.com/gpu" || a100.Taints[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("A100 worker = %d GPUs, taints %v; want 4 and the nvidia.com/gpu NoSchedule taint of its JoinConfiguration", a100.GPUs(), a100.Taints)
	}
	if cpu := cfg.Workers[2]; cpu.GPUs() != 0 || len(cpu.Taints) != 0 {
		t.Errorf("CPU worker = %d GPUs, taints %v; want none", cpu.GPUs(), cpu.Taints)
	}
	nodes, gpus := fakenodes.Size(cfg.Pools...)
	if nodes < 200 || gpus != 200*8+50*4 {
		t.Errorf("pools = %d nodes, %d GPUs; want 200+ nodes and 1800 GPUs", nodes, gpus)
	}
	h100 := cfg.Pools[0]
	if got := h100.NodeNames(); len(got) != 200 || got[0] != "fake-h100-0" || got[199] != "fake-h100-199" {
		t.Errorf("H100 node names = %v..., want fake-h100-0 to fake-h100-199", got[:2])
	}
	if cpu := h100.Capacity[corev1.ResourceCPU]; cpu.String() != "192" {
		t.Errorf("H100 cpu capacity = %s, want the pool's 192", cpu.String())
	}
	if pods := h100.Capacity[corev1.ResourcePods]; pods.String() != "110" {
		t.Errorf("H100 pods capacity = %s, want the default 110", pods.String())
	}
}

func TestBadPoolsAreRefusedWithWhatWouldBeAccepted(t *testing.T) {
	const cluster = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n"
	const pools = "---\napiVersion: harness.labkit.dev/v1alpha1\nkind: FakeNodePools\npools:\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"no cluster", pools + "- {name: a, count: 1}\n", "no kind.x-k8s.io/v1alpha4 Cluster document"},
		{"unknown document", cluster + "---\napiVersion: v1\nkind: ConfigMap\n", `document 2 is v1 "ConfigMap"; want a kind.x-k8s.io/v1alpha4 Cluster or a harness.labkit.dev/v1alpha1 FakeNodePools`},
		{"count zero", cluster + pools + "- {name: a, count: 0}\n", `pool 1 ("a"): count 0; want 1 to 10000`},
		{"bad name", cluster + pools + "- {name: A_B, count: 1}\n", "name must be a DNS label"},
		{"bad gpu count", cluster + pools + "- {name: a, count: 1, labels: {nvidia.com/gpu.count: four}}\n", `label nvidia.com/gpu.count="four" is not a GPU count (a whole number)`},
		{"bad capacity", cluster + pools + "- {name: a, count: 1, capacity: {cpu: lots}}\n", `capacity cpu="lots" is not a quantity`},
		{"gpu as capacity", cluster + pools + "- {name: a, count: 1, capacity: {nvidia.com/gpu: '8'}}\n", "set the nvidia.com/gpu.count label instead"},
		{"bad taint", cluster + pools + "- {name: a, count: 1, taints: [{key: k, effect: Never}]}\n", `taint k has effect "Never"; want NoSchedule, PreferNoSchedule or NoExecute`},
		{"unknown field", cluster + pools + "- {name: a, count: 1, gpus: 8}\n", "field gpus not found"},
		{"name clash", cluster + pools + "- {name: a, count: 2}\n- {name: a, count: 1}\n", `node name "a-0" is declared twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fakenodes.Load([]byte(tc.doc), "labkit")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadFileNamesTheFile(t *testing.T) {
	path := t.TempDir() + "/kind.yaml"
	if err := os.WriteFile(path, []byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: worker, labels: {nvidia.com/gpu.count: x}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fakenodes.LoadFile(path, "labkit"); err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("LoadFile = %v, want an error starting with the path", err)
	}
}

func TestSelectPoolsByNameOrAll(t *testing.T) {
	t.Parallel()
	cfg, err := fakenodes.Load([]byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: worker}]\n---\n"+
		"apiVersion: harness.labkit.dev/v1alpha1\nkind: FakeNodePools\npools:\n- {name: h100, count: 2}\n- {name: a100, count: 1}\n- {name: cpu, count: 3}\n"), "labkit")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		names   []string
		want    string // pool names, or the error
		wantErr bool
	}{
		{"none named is all", nil, "h100 a100 cpu", false},
		{"named, in the order named", []string{"cpu", "h100"}, "cpu h100", false},
		{"named twice, once", []string{"a100", "a100"}, "a100", false},
		{"unknown", []string{"h100", "t4", "v100"}, `no fake node pool "t4", "v100"; declared: h100, a100, cpu`, true},
		{"a kind worker is no pool", []string{"labkit-worker"}, `no fake node pool "labkit-worker"; declared: h100, a100, cpu`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pools, err := cfg.SelectPools(tc.names...)
			if tc.wantErr {
				if err == nil || err.Error() != tc.want {
					t.Errorf("SelectPools(%q) = %v, want the error %q", tc.names, err, tc.want)
				}
				return
			}
			var got []string
			for _, p := range pools {
				got = append(got, p.Name)
			}
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Errorf("SelectPools(%q) = %v, %v; want %s", tc.names, got, err, tc.want)
			}
		})
	}
}

func TestSelectPoolsWithoutPoolsSaysWhereToDeclareThem(t *testing.T) {
	t.Parallel()
	cfg, err := fakenodes.Load([]byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: worker}]\n"), "labkit")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.SelectPools(); err == nil || !strings.Contains(err.Error(), "add a harness.labkit.dev/v1alpha1 FakeNodePools document") {
		t.Errorf("SelectPools() = %v, want an error that says to add a FakeNodePools document", err)
	}
}
