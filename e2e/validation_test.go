//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
)

func TestValidation(t *testing.T) {
	refused := features.New("Invalid requests are refused by labctl and invalid specs by the API server").
		Setup(inNamespace("invalid")).
		Assess("labctl refuses each invalid request, saying why, and commits nothing", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := from(ctx)
			before := remoteRefs(ctx, t, s.publisher.Target.RepoURL)
			paths, _ := filepath.Glob(s.path("fixture/requests/invalid-*.yaml"))
			if len(paths) == 0 {
				t.Fatal("no fixture/requests/invalid-*.yaml")
			}
			for _, path := range paths {
				want := expectedError(t, path)
				// labctl's own code path: the spec file, the cluster's catalog, the push that must not happen.
				_, err := runLabctl(ctx, t, "", "create", "-f", path, "-n", namespace(ctx), "--token-secret", "token")
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %v, want one saying %q", filepath.Base(path), err, want)
				}
			}
			if after := remoteRefs(ctx, t, s.publisher.Target.RepoURL); after != before {
				t.Errorf("the repository changed:\n%s\nwas:\n%s", after, before)
			}
			return ctx
		}).
		Assess("the API server refuses each invalid spec with its message", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			paths, _ := filepath.Glob(from(ctx).path("fixture/jupyterlab/invalid-*.yaml"))
			if len(paths) == 0 {
				t.Fatal("no fixture/jupyterlab/invalid-*.yaml")
			}
			for _, path := range paths {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				_, err = apply.Apply(ctx, from(ctx).client, data, apply.WithNamespace(namespace(ctx)))
				want := annotation(t, data, "labkit.dev/expect-error")
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %v, want one saying %q", filepath.Base(path), err, want)
				}
			}
			return ctx
		}).
		Teardown(deleteNamespace()).
		Feature()
	test(t, refused)
}

func remoteRefs(ctx context.Context, t *testing.T, url string) string {
	out, err := exec.CommandContext(ctx, "git", "ls-remote", url).CombinedOutput()
	if err != nil {
		t.Fatalf("git ls-remote %s: %v\n%s", url, err, out)
	}
	return string(out)
}

// annotation reads an annotation of a YAML fixture's object.
func annotation(t *testing.T, data []byte, key string) string {
	var u unstructured.Unstructured
	if err := yaml.Unmarshal(data, &u.Object); err != nil {
		t.Fatal(err)
	}
	v, ok := u.GetAnnotations()[key]
	if !ok {
		t.Fatalf("fixture %s has no annotation %s", u.GetName(), key)
	}
	return v
}
