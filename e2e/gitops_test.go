//go:build e2e

package e2e

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

func TestGitOps(t *testing.T) {
	gpu := features.New("A GPU request committed by labctl reaches the cluster through Argo CD and runs on a node with that GPU model").
		Setup(inNamespace("gpu")).
		Setup(requestLab("requests/lab-a100.yaml")).
		Assess("Argo CD syncs the lab's Application at the pushed commit and finds it Healthy", appSynced()).
		Assess("the lab is Ready and its Deployment Available, with the GPU limit and the model's node selector", expect("expected/lab-a100-ready.yaml", "wait-lab-ready")).
		Assess("the lab's pod runs on a node of that GPU model", podOnNode(func(t *testing.T, node *corev1.Node, pod *corev1.Pod) {
			if got := node.Labels[labkitv1alpha1.GPUProductLabel]; got != "NVIDIA-A100-SXM4-40GB" {
				t.Errorf("pod %s runs on node %s with GPU %q, want NVIDIA-A100-SXM4-40GB", pod.Name, node.Name, got)
			}
			if got := pod.Spec.Containers[0].Resources.Limits[labkitv1alpha1.GPUResource]; got.Value() != 1 {
				t.Errorf("pod %s has nvidia.com/gpu limit %s, want 1", pod.Name, got.String())
			}
		})).
		Teardown(removeLab()).
		Teardown(deleteNamespace()).
		Feature()

	cpu := features.New("A CPU-only lab lands on a node without GPUs").
		Setup(inNamespace("cpu")).
		Setup(requestLab("requests/lab-cpu.yaml")).
		Assess("Argo CD syncs it and finds it Healthy", appSynced()).
		Assess("the lab is Ready", expect("expected/lab-cpu-ready.yaml", "wait-lab-ready")).
		Assess("its pod runs on a node without GPUs and asks for none", podOnNode(func(t *testing.T, node *corev1.Node, pod *corev1.Pod) {
			if got, ok := node.Labels[labkitv1alpha1.GPUProductLabel]; ok {
				t.Errorf("pod %s runs on GPU node %s (%s)", pod.Name, node.Name, got)
			}
			if _, ok := pod.Spec.Containers[0].Resources.Limits[labkitv1alpha1.GPUResource]; ok {
				t.Errorf("pod %s asks for GPUs", pod.Name)
			}
		})).
		Teardown(removeLab()).
		Teardown(deleteNamespace()).
		Feature()

	testenv.Test(t, gpu, cpu)
}

// podOnNode checks the lab's running pod and the node it runs on.
func podOnNode(check func(t *testing.T, node *corev1.Node, pod *corev1.Pod)) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		pod := labPod(ctx, t)
		node := &corev1.Node{}
		if err := from(ctx).client.Get(ctx, client.ObjectKey{Name: pod.Spec.NodeName}, node); err != nil {
			t.Fatal(err)
		}
		check(t, node, pod)
		return ctx
	}
}
