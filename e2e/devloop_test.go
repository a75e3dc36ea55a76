//go:build e2e

package e2e

import (
	"github.com/labkit-dev/labkit/pkg/stack"

	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
)

// watching is what skaffold dev and debug print once they have deployed and wait for changes.
var watching = regexp.MustCompile(`Watching for changes`)

func TestDevLoop(t *testing.T) {
	type sessionKey struct{}
	marker := "e2e-" + rand.String(8)
	devLoop := features.New("Under skaffold dev, a source change produces a new controller pod running the new code").
		WithLabel(labelNeeds, needsContainers).WithLabel(labelNeeds, needsSkaffold).
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := from(ctx)
			work := copyProject(t, s.root)
			// --cleanup=false: stopping must not delete the CRD, and with it every lab.
			dev, err := s.skaffoldIn(work).Start(ctx, "dev", "--cleanup=false")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dev.WaitFor(ctx, "wait-new-pod", timeout("wait-new-pod"), 0, watching); err != nil {
				t.Fatal(err)
			}
			return context.WithValue(ctx, sessionKey{}, devSession{dev, work})
		}).
		Assess("editing a .go file rebuilds the controller and a new pod runs the new code", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, dev := from(ctx), ctx.Value(sessionKey{}).(devSession)
			version := filepath.Join(dev.dir, "pkg/cmd/labkitcontroller/version.go")
			src, err := os.ReadFile(version)
			if err != nil {
				t.Fatal(err)
			}
			edited := strings.Replace(string(src), `var version = "dev"`, fmt.Sprintf("var version = %q", marker), 1)
			if edited == string(src) {
				t.Fatalf("%s does not say var version = \"dev\"", version)
			}
			offset := len(dev.session.Output())
			start := time.Now()
			if err := os.WriteFile(version, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := dev.session.WaitFor(ctx, "wait-new-pod", timeout("wait-new-pod"), offset, watching); err != nil {
				t.Fatal(err)
			}
			pod := waitForControllerLogging(ctx, t, s, marker)
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
	testenv.Test(t, devLoop)
}

type devSession struct {
	session *skaffold.Session
	dir     string
}

// skaffoldIn is the suite's skaffold for the project copy in dir.
func (s *suite) skaffoldIn(dir string) *skaffold.Skaffold {
	return skaffold.New(skaffold.WithDir(dir), skaffold.WithBinary(s.path("bin/skaffold")),
		skaffold.WithPath(s.path("bin")), skaffold.WithCluster(s.cluster.Kubeconfig(), s.cluster.KubeContext()),
		skaffold.WithOutput(prefixWriter("skaffold: ")))
}

// copyProject copies what skaffold builds from into a temporary folder, so a test may edit it.
func copyProject(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "Dockerfile", ".dockerignore", "skaffold.yaml", "cmd", "pkg"} {
		src, dst := filepath.Join(root, name), filepath.Join(dir, name)
		info, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		if info.IsDir() {
			err = os.CopyFS(dst, os.DirFS(src))
		} else if data, rerr := os.ReadFile(src); rerr != nil {
			err = rerr
		} else {
			err = os.WriteFile(dst, data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitForControllerLogging waits until a ready controller pod's log says it started with version
// marker, and returns its name.
func waitForControllerLogging(ctx context.Context, t *testing.T, s *suite, marker string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	found := ""
	err = stack.Waits.Until(ctx, "wait-new-pod", func(ctx context.Context) (string, error) {
		pods, err := cs.CoreV1().Pods(stack.ControllerNamespace).List(ctx, metav1.ListOptions{LabelSelector: stack.ControllerSelector})
		if err != nil {
			return "", err
		}
		last := "no ready controller pod"
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || !podReady(&p) {
				continue
			}
			logs, err := cs.CoreV1().Pods(stack.ControllerNamespace).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
			if err == nil && strings.Contains(string(logs), marker) {
				found = p.Name
				return "", nil
			}
			last = "ready controller pod " + p.Name + " has not logged version " + marker
		}
		return last, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// restoreController deploys the project's own controller again with skaffold run, after a feature
// replaced it.
func restoreController(ctx context.Context, t *testing.T) {
	if err := from(ctx).cluster.Skaffold().Run(ctx); err != nil {
		t.Error(err)
	}
}
