//go:build e2e

package e2e

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
)

func TestGitOps(t *testing.T) {
	gpu := features.New("A GPU request committed by labctl reaches the cluster through Argo CD and runs on a node with that GPU model").
		WithLabel(labelNeeds, needsContainers). // Argo CD
		Setup(inNamespace("gpu")).
		Setup(requestLab("requests/lab-a100.yaml")).
		Assess("Argo CD syncs the lab's Application at the pushed commit and finds it Healthy", appSynced()).
		Assess("the lab is Ready and its Deployment Available, with the GPU limit and the model's node selector", expect("expected/lab-a100-ready.yaml", "wait-lab-ready")).
		Assess("the lab's pod runs on a node of that GPU model", podOnNode(onA100)).
		Teardown(removeLab()).
		Teardown(deleteNamespace()).
		Feature()
	testParallel(t, gpu)
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
