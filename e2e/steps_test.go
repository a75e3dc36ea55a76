//go:build e2e

package e2e

import (
	"bufio"
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/harness/argocd"
	"github.com/labkit-dev/labkit/pkg/harness/assert"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// Values a feature's steps hand on through its context.
type (
	namespaceKey struct{}
	labKey       struct{}
	passwordKey  struct{}
	commitKey    struct{}
)

func namespace(ctx context.Context) string { return ctx.Value(namespaceKey{}).(string) }
func lab(ctx context.Context) *labkitv1alpha1.JupyterLab {
	return ctx.Value(labKey{}).(*labkitv1alpha1.JupyterLab)
}

// inNamespace makes the feature's own namespace.
func inNamespace(prefix string) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		s := from(ctx)
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-" + prefix + "-" + rand.String(5)}}
		if err := s.client.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
		return context.WithValue(ctx, namespaceKey{}, ns.Name)
	}
}

// deleteNamespace removes the feature's namespace and waits until it is gone. Its labs go first, and
// their pods with them: the namespace controller, finding pods still running in a namespace it
// deletes, looks again only after their grace period. On kind that made a namespace with one running
// lab take 15.9 s to go, against 10.4 s this way, and one with 20 labs 55.7 s, against 14.8 s.
func deleteNamespace() features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		s, ns := from(ctx), namespace(ctx)
		err := s.client.DeleteAllOf(ctx, &labkitv1alpha1.JupyterLab{}, client.InNamespace(ns),
			client.PropagationPolicy(metav1.DeletePropagationBackground))
		if client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
		err = stack.Waits.Until(ctx, "wait-gone", func(ctx context.Context) (string, error) {
			pods := &corev1.PodList{}
			if err := s.client.List(ctx, pods, client.InNamespace(ns)); err != nil {
				return err.Error(), nil // a hiccup of the API server: look again
			}
			if n := len(pods.Items); n > 0 {
				return fmt.Sprintf("%d pods left in namespace %s after its labs were deleted, %s among them", n, ns, pods.Items[0].Name), nil
			}
			return "", nil
		})
		if err != nil {
			t.Error(err) // the namespace's deletion below takes the pods with it all the same
		}
		o := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if err := s.client.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
		if err := assert.Gone(ctx, s.client, o, assert.WithTimeout("wait-gone", timeout("wait-gone"))); err != nil {
			t.Error(err)
		}
		return ctx
	}
}

// requestLab does what `labctl create -f fixture --password-stdin` does, with the cluster's catalog:
// it checks the request, commits the lab and its Application, and pushes them.
func requestLab(fixture string) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		s := from(ctx)
		l, password := buildLab(ctx, t, fixture)
		res, _, err := s.publisher.Create(ctx, []*labkitv1alpha1.JupyterLab{l}, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("lab %s/%s pushed as %s", l.Namespace, l.Name, res.Commit)
		refreshRoot(ctx, t)
		ctx = context.WithValue(ctx, labKey{}, l)
		ctx = context.WithValue(ctx, passwordKey{}, password)
		return context.WithValue(ctx, commitKey{}, res.Commit)
	}
}

// applyLab checks a request as labctl does, then applies the lab straight to the cluster: the
// controller's part of the path, without Git and Argo CD.
func applyLab(fixture string) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		l, password := buildLab(ctx, t, fixture)
		if err := from(ctx).client.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
		ctx = context.WithValue(ctx, labKey{}, l)
		return context.WithValue(ctx, passwordKey{}, password)
	}
}

// buildLab turns a request fixture into a lab in the feature's namespace, with a new password, checked
// against the cluster's catalog.
func buildLab(ctx context.Context, t *testing.T, fixture string) (*labkitv1alpha1.JupyterLab, string) {
	password := randomPassword(t)
	// labctl render is labctl create up to the commit: the spec file, the password hashed, the check
	// against the cluster's catalog.
	out, err := runLabctl(ctx, t, password+"\n", "render", "-f", from(ctx).path("fixture/"+fixture), "-n", namespace(ctx), "--password-stdin")
	if err != nil {
		t.Fatalf("labctl render -f %s: %v\n%s", fixture, err, out)
	}
	l := &labkitv1alpha1.JupyterLab{}
	for doc := range strings.SplitSeq(out, "\n---\n") {
		if strings.Contains(doc, "kind: JupyterLab") {
			if err := yaml.UnmarshalStrict([]byte(strings.TrimPrefix(doc, "---\n")), l); err != nil {
				t.Fatalf("labctl render -f %s printed a lab that does not parse: %v\n%s", fixture, err, out)
			}
			return l, password
		}
	}
	t.Fatalf("labctl render -f %s printed no lab:\n%s", fixture, out)
	return nil, ""
}

// refreshRoot makes Argo CD read the repository now rather than at its next poll.
func refreshRoot(ctx context.Context, t *testing.T) {
	if err := argocd.Refresh(ctx, from(ctx).client, "argocd", stack.RootApp); err != nil {
		t.Error(err)
	}
}

func randomPassword(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := cryptorand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// appSynced waits until Argo CD has synced the lab's Application at the pushed commit (or a later one:
// features push in parallel) and finds it Healthy, which the JupyterLab health check makes mean: the lab is Ready.
func appSynced() features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		s, l := from(ctx), lab(ctx)
		if _, err := argocd.WaitForApplication(ctx, s.client, "argocd", generator.AppName(l.Namespace, l.Name),
			argocd.AtOrAfterRevision(ctx.Value(commitKey{}).(string), s.publisher.Includes), argocd.WaitTimeout("wait-app-synced", timeout("wait-app-synced"))); err != nil {
			t.Fatal(err)
		}
		return ctx
	}
}

// expect asserts the partial objects of a fixture against the live ones in the feature's namespace,
// within the named wait.
func expect(fixture, waitName string) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		s := from(ctx)
		if err := assert.File(ctx, s.client, s.path("fixture/"+fixture), assert.WithNamespace(namespace(ctx)),
			assert.WithTimeout(waitName, timeout(waitName))); err != nil {
			t.Fatal(err)
		}
		return ctx
	}
}

// labPod is the running pod of the feature's lab.
func labPod(ctx context.Context, t *testing.T) *corev1.Pod {
	t.Helper()
	s, l := from(ctx), lab(ctx)
	pods := &corev1.PodList{}
	if err := s.client.List(ctx, pods, client.InNamespace(l.Namespace), client.MatchingLabels{labkitv1alpha1.LabLabel: l.Name}); err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			return p
		}
	}
	t.Fatalf("lab %s/%s has no running pod among %d", l.Namespace, l.Name, len(pods.Items))
	return nil
}

// removeLab does what `labctl delete` does and waits until Argo CD has pruned the lab's Application.
func removeLab() features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		s := from(ctx)
		l, ok := ctx.Value(labKey{}).(*labkitv1alpha1.JupyterLab)
		if !ok { // the request step failed before pushing
			return ctx
		}
		if _, _, err := s.publisher.Delete(ctx, l.Namespace, l.Name, false); err != nil && !errors.Is(err, generator.ErrLabNotFound) {
			t.Error(err)
		}
		refreshRoot(ctx, t)
		goneApp(ctx, t, generator.AppName(l.Namespace, l.Name))
		return ctx
	}
}

// goneApp waits until Argo CD has pruned the Application name, and its finalizer deleted the lab.
func goneApp(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	app := &unstructured.Unstructured{}
	app.SetAPIVersion("argoproj.io/v1alpha1")
	app.SetKind("Application")
	app.SetNamespace("argocd")
	app.SetName(name)
	if err := assert.Gone(ctx, from(ctx).client, app, assert.WithTimeout("wait-gone", timeout("wait-gone"))); err != nil {
		t.Error(err)
	}
}

// expectedError reads the "# expect-error: ..." line of a request fixture.
func expectedError(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if msg, ok := strings.CutPrefix(sc.Text(), "# expect-error: "); ok {
			return msg
		}
	}
	t.Fatalf("%s has no '# expect-error: ' line", path)
	return ""
}

// Features labelled labelNeeds=needsContainers need real containers: Jupyter over HTTP, skaffold,
// Delve, or Argo CD (which runs as containers); the Docker-free provider skips them. Those labelled
// needsSkaffold redeploy the controller with skaffold: only where the provider deployed it so.
const (
	labelNeeds      = "needs"
	needsContainers = "containers"
	needsSkaffold   = "skaffold" // the suite redeploys the controller with skaffold
)
