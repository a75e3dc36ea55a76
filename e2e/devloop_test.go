//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// watching is what skaffold dev and debug print once they have deployed and wait for changes.
var watching = regexp.MustCompile(`Watching for changes`)

// devLoopFeature: under skaffold dev, an edit is running in the cluster (TestControllerRestarts runs it).
func devLoopFeature() features.Feature {
	type sessionKey struct{}
	marker := "e2e-" + rand.String(8)
	devLoop := features.New("Under skaffold dev, a source change produces a new controller pod running the new code").
		WithLabel(labelNeeds, needsContainers).WithLabel(labelNeeds, needsSkaffold).
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := from(ctx)
			work := t.TempDir()
			if err := stack.CopyProject(s.root, work); err != nil {
				t.Fatal(err)
			}
			// --cleanup=false: stopping must not delete the CRD, and with it every lab.
			dev, err := s.cluster.Skaffold().In(work).Start(ctx, "dev", "--cleanup=false")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dev.WaitFor(ctx, "wait-dev-started", timeout("wait-dev-started"), 0, watching); err != nil {
				t.Fatal(err)
			}
			return context.WithValue(ctx, sessionKey{}, devSession{dev, work})
		}).
		Assess("editing a .go file rebuilds the controller and a new pod runs the new code", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, dev := from(ctx), ctx.Value(sessionKey{}).(devSession)
			offset := len(dev.session.Output())
			start := time.Now()
			if err := stack.SetVersion(dev.dir, marker); err != nil {
				t.Fatal(err)
			}
			if _, err := dev.session.WaitFor(ctx, "wait-new-pod", timeout("wait-new-pod"), offset, watching); err != nil {
				t.Fatal(err)
			}
			pod, err := stack.WaitForControllerVersion(ctx, s.cfg, marker)
			if err != nil {
				t.Fatal(err)
			}
			s.time(fmt.Sprintf("dev loop: edit -> new controller pod %s running the new code", pod), start)
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if dev, ok := ctx.Value(sessionKey{}).(devSession); ok {
				if err := dev.session.Stop(ctx); err != nil {
					t.Error(err)
				}
			}
			restoreController(ctx, t)
			return ctx
		}).
		Feature()
	return devLoop
}

type devSession struct {
	session *skaffold.Session
	dir     string
}

// restoreController deploys the project's own controller again with skaffold run, after a feature
// replaced it.
func restoreController(ctx context.Context, t *testing.T) {
	if err := from(ctx).cluster.Skaffold().Run(ctx); err != nil {
		t.Error(err)
	}
}
