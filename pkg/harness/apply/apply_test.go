package apply_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, func(e *testenv.Env) { env = e }) }

// fixture reads testdata/name with ${VAR}s replaced from vars.
func fixture(t *testing.T, name string, vars map[string]string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(os.Expand(string(b), func(k string) string { return vars[k] }))
}

func TestApplyThenReapplyThenDelete(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	suffix := rand.String(6)
	ns, group := "apply-"+suffix, suffix+".harness.example.com"
	stream := fixture(t, "stream-bad-order.yaml", map[string]string{"NAMESPACE": ns, "GROUP": group})
	opts := []apply.Option{
		apply.WithNamespace(ns),
		apply.WithTimeout(30 * time.Second),
		apply.WithTransform(func(u *unstructured.Unstructured) error {
			if u.GetKind() != "ConfigMap" {
				return nil
			}
			return unstructured.SetNestedField(u.Object, "red", "data", "color")
		}),
	}

	applied, err := apply.Apply(ctx, env.Client, stream, opts...)
	if err != nil {
		t.Fatalf("Apply() = %v", err)
	}
	want := []string{
		"Namespace " + ns,
		"CustomResourceDefinition widgets." + group,
		"Widget " + ns + "/first",
		"ConfigMap " + ns + "/settings",
	}
	if diff := cmp.Diff(want, ids(applied)); diff != "" {
		t.Fatalf("Apply() applied, in order (-want +got):\n%s", diff)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &cm); err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["color"]; got != "red" {
		t.Errorf("ConfigMap data color = %q, want the transform's %q", got, "red")
	}
	widget := get(ctx, t, applied[2])
	if size, _, _ := unstructured.NestedInt64(widget.Object, "spec", "size"); size != 3 {
		t.Errorf("Widget spec.size = %d, want 3", size)
	}

	var live []*unstructured.Unstructured
	for _, obj := range applied {
		live = append(live, get(ctx, t, obj))
	}
	again, err := apply.Apply(ctx, env.Client, stream, opts...)
	if err != nil {
		t.Fatalf("second Apply() = %v", err)
	}
	for i := range live {
		if before, after := live[i].GetResourceVersion(), again[i].GetResourceVersion(); before != after {
			t.Errorf("second Apply() changed %s: resourceVersion %s, then %s", ids(live)[i], before, after)
		}
	}

	// envtest runs no namespace controller: do its last step, or the Namespace stays Terminating.
	go env.FinalizeNamespace(ctx, ns)
	if err := apply.Delete(ctx, env.Client, stream, opts...); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	for _, obj := range applied {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(obj.GroupVersionKind())
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), live)
		if !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
			t.Errorf("after Delete(), get %s = %v, want not found", ids([]*unstructured.Unstructured{obj})[0], err)
		}
	}
	if err := apply.Delete(ctx, env.Client, stream, opts...); err != nil {
		t.Errorf("Delete() of what is gone = %v, want nil", err)
	}
}

func TestApplyErrorsNameTheObject(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "apply-errors")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		fixture string
		opts    []apply.Option
		wantErr string
	}{
		{
			name:    "object refused by the API server",
			fixture: "invalid-deployment-without-selector.yaml",
			opts:    []apply.Option{apply.WithNamespace(ns)},
			wantErr: "apply Deployment " + ns + "/no-selector: Deployment.apps \"no-selector\" is invalid: ",
		},
		{
			name:    "document without kind",
			fixture: "invalid-missing-kind.yaml",
			wantErr: `YAML document 2 (apiVersion "v1", kind "", name "no-kind"): apiVersion, kind and metadata.name are required`,
		},
		{
			name:    "kind the server does not serve",
			fixture: "invalid-unknown-kind.yaml",
			opts:    []apply.Option{apply.WithNamespace(ns)},
			wantErr: "apply Gizmo orphan: ",
		},
		{
			name:    "namespaced object without namespace",
			fixture: "configmap-without-namespace.yaml",
			wantErr: "apply ConfigMap settings: namespaced object without a namespace: set metadata.namespace or use WithNamespace",
		},
		{
			name:    "transform failing",
			fixture: "configmap-without-namespace.yaml",
			opts: []apply.Option{apply.WithNamespace(ns), apply.WithTransform(func(*unstructured.Unstructured) error {
				return errors.New("no color allowed")
			})},
			wantErr: "apply ConfigMap " + ns + "/settings: transform: no color allowed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := apply.Apply(ctx, env.Client, fixture(t, tt.fixture, nil), tt.opts...)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("Apply() = %v, want an error starting with %q", err, tt.wantErr)
			}
		})
	}
}

func TestFilterSkipsObjects(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "apply-filter")
	if err != nil {
		t.Fatal(err)
	}
	applied, err := apply.Apply(ctx, env.Client, fixture(t, "invalid-deployment-without-selector.yaml", nil),
		apply.WithNamespace(ns), apply.WithFilter(func(u *unstructured.Unstructured) bool { return u.GetKind() != "Deployment" }))
	if err != nil {
		t.Fatalf("Apply() = %v, want the invalid Deployment filtered out", err)
	}
	if diff := cmp.Diff([]string{"ConfigMap " + ns + "/before-the-invalid-one"}, ids(applied)); diff != "" {
		t.Errorf("Apply() applied (-want +got):\n%s", diff)
	}
}

func TestDeleteTimeoutNamesWhatIsLeft(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := "apply-stuck-" + rand.String(6)
	stream := []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n")
	if _, err := apply.Apply(ctx, env.Client, stream); err != nil {
		t.Fatal(err)
	}
	// No finalizeNamespace: in envtest, the namespace stays Terminating.
	err := apply.Delete(ctx, env.Client, stream, apply.WithTimeout(300*time.Millisecond))
	want := "wait 300ms for deleted objects to be gone: context deadline exceeded; still there: Namespace " + ns + " (terminating; finalizers: kubernetes)"
	if err == nil || err.Error() != want {
		t.Fatalf("Delete() = %v, want %s", err, want)
	}
}

func ids(objs []*unstructured.Unstructured) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.GetKind() + " " + strings.TrimPrefix(o.GetNamespace()+"/"+o.GetName(), "/")
	}
	return out
}

func get(ctx context.Context, t *testing.T, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(obj.GroupVersionKind())
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		t.Fatal(err)
	}
	return live
}
