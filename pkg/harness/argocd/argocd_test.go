package argocd_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/harness/argocd"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

var (
	env *testenv.Env
	// manifest is Argo CD's core-install.yaml of DefaultVersion, read once from the module cache.
	manifest []byte
)

func TestMain(m *testing.M) {
	var err error
	if manifest, err = argocd.Manifest(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testenv.Main(m, func(e *testenv.Env) { env = e })
}

// installCRDs applies Argo CD's CRDs alone: envtest runs no pods, and TestInstall deletes them when it
// uninstalls.
func installCRDs(ctx context.Context, t *testing.T) {
	t.Helper()
	_, err := apply.Apply(ctx, env.Client, manifest, apply.WithFilter(func(u *unstructured.Unstructured) bool {
		return u.GetKind() == "CustomResourceDefinition"
	}))
	if err != nil {
		t.Fatal(err)
	}
}
