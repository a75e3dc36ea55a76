//go:build e2e

package e2e

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/features"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

func TestPlacement(t *testing.T) {
	gpu := features.New("A GPU lab applied to the cluster runs on a node with that GPU model and asks for the GPU").
		Setup(inNamespace("place-gpu")).
		Setup(applyLab("requests/lab-a100.yaml")).
		Assess("the lab is Ready and its Deployment Available, with the GPU limit and the model's node selector", expect("expected/lab-a100-ready.yaml", "wait-lab-ready")).
		Assess("the lab's pod runs on a node of that GPU model", podOnNode(onA100)).
		Teardown(deleteNamespace()).
		Feature()

	cpu := features.New("A CPU-only lab lands on a node without GPUs").
		Setup(inNamespace("place-cpu")).
		Setup(applyLab("requests/lab-cpu.yaml")).
		Assess("the lab is Ready", expect("expected/lab-cpu-ready.yaml", "wait-lab-ready")).
		Assess("its pod runs on a node without GPUs and asks for none", podOnNode(func(t *testing.T, node *corev1.Node, pod *corev1.Pod) {
			if got, ok := node.Labels[labkitv1alpha1.GPUProductLabel]; ok {
				t.Errorf("pod %s runs on GPU node %s (%s)", pod.Name, node.Name, got)
			}
			if _, ok := pod.Spec.Containers[0].Resources.Limits[labkitv1alpha1.GPUResource]; ok {
				t.Errorf("pod %s asks for GPUs", pod.Name)
			}
		})).
		Teardown(deleteNamespace()).
		Feature()

	testParallel(t, gpu, cpu)
}

// onA100 checks that a lab's pod runs on an A100 node with one GPU.
func onA100(t *testing.T, node *corev1.Node, pod *corev1.Pod) {
	if got := node.Labels[labkitv1alpha1.GPUProductLabel]; got != "NVIDIA-A100-SXM4-40GB" {
		t.Errorf("pod %s runs on node %s with GPU %q, want NVIDIA-A100-SXM4-40GB", pod.Name, node.Name, got)
	}
	if got := pod.Spec.Containers[0].Resources.Limits[labkitv1alpha1.GPUResource]; got.Value() != 1 {
		t.Errorf("pod %s has nvidia.com/gpu limit %s, want 1", pod.Name, got.String())
	}
}
