package catalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/catalog"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

// apiTimeout bounds the whole conversation with the test API server.
const apiTimeout = time.Minute

// TestFromCluster reads the catalog of a real kube-apiserver (envtest) holding three nodes and pods in
// every state that matters: running, initialising, finished, unscheduled, and more than a node holds.
func TestFromCluster(t *testing.T) {
	t.Parallel()
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	c := env.Client
	ctx, cancel := context.WithTimeout(t.Context(), apiTimeout)
	defer cancel()

	gpuTaint := corev1.Taint{Key: v1alpha1.GPUTaintKey, Value: "present", Effect: corev1.TaintEffectNoSchedule}
	// The API server taints every new node not-ready; with no node lifecycle controller in envtest, the taint stays.
	notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	for _, n := range []struct {
		node  *corev1.Node
		alloc corev1.ResourceList
		ready corev1.ConditionStatus
	}{
		{
			node: &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: "gpu-a100-1", Labels: map[string]string{
					v1alpha1.GPUProductLabel: "NVIDIA-A100-SXM4-40GB", v1alpha1.GPUCountLabel: "4", v1alpha1.GPUMemoryLabel: "40960",
				}},
				Spec: corev1.NodeSpec{Taints: []corev1.Taint{gpuTaint}},
			},
			alloc: resources("64", "512Gi", 4),
			ready: corev1.ConditionTrue,
		},
		{
			node: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gpu-t4-1", Labels: map[string]string{
				v1alpha1.GPUProductLabel: "Tesla-T4", v1alpha1.GPUCountLabel: "2", v1alpha1.GPUMemoryLabel: "15360",
			}}},
			alloc: resources("8", "32Gi", 2),
			ready: corev1.ConditionFalse,
		},
		{
			node: &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: "cpu-1"},
				Spec: corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{
					{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectPreferNoSchedule}, // not a hard taint: left out
				}},
			},
			alloc: resources("16", "64Gi", 0),
			ready: corev1.ConditionTrue,
		},
	} {
		create(ctx, t, c, n.node)
		n.node.Status = corev1.NodeStatus{
			Capacity:    n.alloc,
			Allocatable: n.alloc,
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: n.ready, Reason: "Test"}},
		}
		if err := c.Status().Update(ctx, n.node); err != nil {
			t.Fatalf("update status of node %s: %v", n.node.Name, err)
		}
	}

	for _, ns := range []string{"team-a", "team-b"} {
		create(ctx, t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	// lab-1 initialises with more CPU than it then runs with: the init container's 16 CPU count.
	lab1 := pod("team-a", "lab-1", "gpu-a100-1", resources("8", "32Gi", 1))
	lab1.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", Resources: requirements(resources("16", "1Gi", 0))}}
	done := pod("team-a", "done", "gpu-a100-1", resources("8", "64Gi", 2))
	for _, p := range []*corev1.Pod{
		lab1,
		pod("team-b", "lab-2", "gpu-a100-1", resources("4", "16Gi", 1)),
		done,
		pod("team-b", "pending", "", resources("4", "16Gi", 1)),
		pod("team-a", "t4-job", "gpu-t4-1", resources("2", "8Gi", 1)),
		pod("team-b", "web", "cpu-1", resources("1500m", "3Gi", 0)),
		pod("team-a", "too-big", "cpu-1", resources("20", "1Gi", 0)), // bound past allocatable: leaves 0 free, not -5.5
	} {
		create(ctx, t, c, p)
	}
	done.Status.Phase = corev1.PodSucceeded
	if err := c.Status().Update(ctx, done); err != nil {
		t.Fatalf("mark pod done Succeeded: %v", err)
	}

	got, err := catalog.FromCluster(ctx, c)
	if err != nil {
		t.Fatalf("FromCluster: %v", err)
	}
	free := func(cpu, memory string, gpus int64) catalog.Resources {
		return catalog.Resources{CPU: resource.MustParse(cpu), Memory: resource.MustParse(memory), GPUs: gpus}
	}
	want := []catalog.Node{
		{
			Name: "cpu-1", Allocatable: free("16", "64Gi", 0), Free: free("0", "60Gi", 0), Cordoned: true,
			Taints: []corev1.Taint{notReady},
		},
		{
			Name:        "gpu-a100-1",
			GPU:         catalog.GPU{Product: "NVIDIA-A100-SXM4-40GB", Count: 4, MemoryMiB: 40960},
			Allocatable: free("64", "512Gi", 4),
			Free:        free("44", "464Gi", 2), // 64-16-4 CPU, 512-32-16 Gi, 4-1-1 GPUs
			Taints:      []corev1.Taint{gpuTaint, notReady},
		},
		{
			Name:        "gpu-t4-1",
			GPU:         catalog.GPU{Product: "Tesla-T4", Count: 2, MemoryMiB: 15360},
			Allocatable: free("8", "32Gi", 2),
			Free:        free("6", "24Gi", 1),
			Taints:      []corev1.Taint{notReady},
			NotReady:    true,
		},
	}
	if diff := cmp.Diff(want, got.Nodes, quantities); diff != "" {
		t.Errorf("FromCluster nodes differ (-want +got):\n%s", diff)
	}
	data, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Parse(data); err != nil {
		t.Errorf("Parse(FromCluster().Marshal()) = %v; the YAML was\n%s", err, data)
	}
}

func create(ctx context.Context, t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

func resources(cpu, memory string, gpus int64) corev1.ResourceList {
	l := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)}
	if gpus > 0 {
		l[v1alpha1.GPUResource] = *resource.NewQuantity(gpus, resource.DecimalSI)
	}
	return l
}

// requirements requests r, with GPUs as limits too, as extended resources must be.
func requirements(r corev1.ResourceList) corev1.ResourceRequirements {
	req := corev1.ResourceRequirements{Requests: r}
	if gpus, ok := r[v1alpha1.GPUResource]; ok {
		req.Limits = corev1.ResourceList{v1alpha1.GPUResource: gpus}
	}
	return req
}

// pod is a one-container pod bound to node (or unscheduled if node is empty) requesting r.
func pod(namespace, name, node string, r corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{
			NodeName: node,
			// No controller-manager runs in envtest, so there is no default ServiceAccount token to mount.
			AutomountServiceAccountToken: new(false),
			Containers:                   []corev1.Container{{Name: "main", Image: "busybox", Resources: requirements(r)}},
		},
	}
}
