//go:build e2e

package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/harness/apply"
)

func TestScheduling(t *testing.T) {
	tooMany := features.New("A lab asking for more GPUs than any node has free reports Scheduled=False with the scheduler's reason").
		Setup(inNamespace("sched")).
		Assess("the lab, applied directly, is accepted by the API server", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			data, err := os.ReadFile(from(ctx).path("fixture/jupyterlab/lab-too-many-gpus.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := apply.Apply(ctx, from(ctx).client, data, apply.WithNamespace(namespace(ctx))); err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Assess("its status says Unschedulable", expect("expected/lab-unschedulable.yaml", "wait-lab-unschedulable")).
		Assess("the message is the scheduler's: not enough nvidia.com/gpu", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l := &labkitv1alpha1.JupyterLab{}
			if err := from(ctx).client.Get(ctx, client.ObjectKey{Namespace: namespace(ctx), Name: "five-a100"}, l); err != nil {
				t.Fatal(err)
			}
			c := meta.FindStatusCondition(l.Status.Conditions, labkitv1alpha1.ConditionScheduled)
			if c == nil || !strings.Contains(c.Message, "nvidia.com/gpu") || !strings.Contains(c.Message, "nodes are available") {
				t.Errorf("Scheduled condition = %+v, want the scheduler's message about nvidia.com/gpu", c)
			}
			return ctx
		}).
		Teardown(deleteNamespace()).
		Feature()
	testParallel(t, tooMany)
}
