package fakenodes_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
)

func node(name string, ready corev1.ConditionStatus, taints ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
	}
	for _, key := range taints {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
	}
	return n
}

func TestWaitReadyWaitsForTheConditionAndTheNotReadyTaintToGo(t *testing.T) {
	t.Parallel()
	c := fake.NewClientBuilder().WithObjects(
		node("h100-0", corev1.ConditionTrue, "nvidia.com/gpu"),
		node("h100-1", corev1.ConditionTrue, corev1.TaintNodeNotReady),
		node("cpu-0", corev1.ConditionFalse),
		node("cpu-1", ""),
		node("real-worker", corev1.ConditionFalse), // not a pool's: ignored
	).Build()
	h100 := fakenodes.Pool{Name: "h100", Count: 2}
	cpu := fakenodes.Pool{Name: "cpu", Count: 3}

	if err := fakenodes.WaitReady(context.Background(), c, time.Second, fakenodes.Pool{Name: "h100", Count: 1}); err != nil {
		t.Errorf("WaitReady(h100-0) = %v, want nil: it is Ready and its only taint is the pool's", err)
	}
	err := fakenodes.WaitReady(context.Background(), c, 200*time.Millisecond, h100, cpu)
	for _, want := range []string{
		"wait-nodes-ready (timeout 200ms): 4 of 5 fake nodes not Ready",
		"cpu-0 (Ready=False), cpu-1 (no Ready condition), cpu-2 (missing), h100-1 (taint node.kubernetes.io/not-ready)",
		"managing the nodes annotated kwok.x-k8s.io/node=fake",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WaitReady = %v, want an error containing %q", err, want)
		}
	}
}
