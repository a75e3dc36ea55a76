package argocd_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// finalizeNamespace does what kube-controller-manager's namespace controller does once a namespace
// being deleted is empty: it clears spec.finalizers through the finalize subresource.
func finalizeNamespace(ctx context.Context, name string) {
	_ = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var ns corev1.Namespace
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
			return apierrors.IsNotFound(err), nil
		}
		if ns.DeletionTimestamp != nil {
			ns.Spec.Finalizers = nil
			_ = env.Client.SubResource("finalize").Update(ctx, &ns) // retried until the namespace is gone
		}
		return false, nil
	})
}
