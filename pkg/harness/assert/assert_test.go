package assert_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/assert"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, func(e *testenv.Env) { env = e }) }

func namespace(t *testing.T) string {
	t.Helper()
	ns, err := env.Namespace(t.Context(), "assert")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
}

func configMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

// waiting returns a logger that closes the channel the first time the assert it is given to sees that
// it must wait, so a test can change the object exactly after the assert saw it unchanged.
func waiting() (logr.Logger, <-chan struct{}) {
	seen := make(chan struct{})
	var once sync.Once
	log := funcr.New(func(_, _ string) { once.Do(func() { close(seen) }) }, funcr.Options{Verbosity: 1})
	return log, seen
}

// checkErr fails unless err is nil when want is empty, or contains every string of want.
func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("error = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("error = nil, want one containing %q", want)
	}
	t.Logf("error, as a person reads it:\n%v", err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}

func TestObject(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	create(t,
		configMap(ns, "pending", map[string]string{"phase": "Pending", "owner": "ada"}),
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lab"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
				{Name: "http", Port: 80},
				{Name: "metrics", Port: 9090},
			}},
		},
	)
	short := assert.WithTimeout("wait-short", 300*time.Millisecond)
	tests := []struct {
		name     string
		expected string
		opts     []assert.Option
		wantErr  []string // substrings; none means success
	}{
		{
			name:     "a subset of the live object matches",
			expected: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pending}\ndata: {owner: ada}",
		},
		{
			name:     "lists match in another order",
			expected: "apiVersion: v1\nkind: Service\nmetadata: {name: lab}\nspec: {ports: [{name: metrics, port: 9090}, {name: http, port: 80}]}",
		},
		{
			name:     "ordered lists do not match in another order",
			expected: "apiVersion: v1\nkind: Service\nmetadata: {name: lab}\nspec: {ports: [{name: metrics, port: 9090}, {name: http, port: 80}]}",
			opts:     []assert.Option{assert.Ordered(), short},
			wantErr:  []string{`spec.ports[0].name: expected "metrics", got "http"`, `spec.ports[1].port: expected 80, got 9090`},
		},
		{
			name:     "a mismatch fails within its timeout, naming it, the path, both values and the live fields",
			expected: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pending}\ndata: {phase: Ready}",
			opts:     []assert.Option{short},
			wantErr: []string{
				`timeout "wait-short" (300ms) passed: ConfigMap ` + ns + `/pending does not match:`,
				`data.phase: expected "Ready", got "Pending"`,
				"live object:\n  data:\n    owner: ada\n    phase: Pending",
			},
		},
		{
			name:     "a missing object is said not to exist",
			expected: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: missing}",
			opts:     []assert.Option{short},
			wantErr:  []string{`timeout "wait-short" (300ms) passed: ConfigMap ` + ns + "/missing does not exist"},
		},
		{
			name:     "every document must hold",
			expected: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pending}\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: missing}",
			opts:     []assert.Option{short},
			wantErr:  []string{"passed: ConfigMap " + ns + "/missing does not exist"},
		},
		{
			name:     "an object in another namespace than WithNamespace is refused",
			expected: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pending, namespace: elsewhere}",
			wantErr:  []string{`expected YAML document 1: ConfigMap pending: the object's namespace "elsewhere" does not match the namespace "` + ns + `"`},
		},
		{
			name:     "an object without a name is refused",
			expected: "apiVersion: v1\nkind: ConfigMap\ndata: {phase: Ready}",
			wantErr:  []string{"expected YAML document 1: an expected object needs apiVersion, kind and metadata.name"},
		},
		{
			name:    "YAML without objects is refused",
			wantErr: []string{"expected YAML holds no object"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			err := assert.Object(t.Context(), env.Client, []byte(tt.expected), append(tt.opts, assert.WithNamespace(ns))...)
			checkErr(t, err, tt.wantErr)
			if err != nil && strings.Contains(err.Error(), "managedFields") {
				t.Errorf("error shows managedFields:\n%v", err)
			}
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("took %s, longer than any timeout given", elapsed)
			}
		})
	}
}

func TestObjectWaitsForTheObjectToChange(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	cm := configMap(ns, "lab", map[string]string{"phase": "Pending"})
	create(t, cm)
	log, seen := waiting()
	done := make(chan error, 1)
	go func() {
		done <- assert.Object(t.Context(), env.Client, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lab}\ndata: {phase: Ready}"),
			assert.WithNamespace(ns), assert.WithTimeout("wait-lab-ready", 20*time.Second), assert.WithInterval(20*time.Millisecond), assert.WithLogger(log))
	}()
	select {
	case <-seen:
	case err := <-done:
		t.Fatalf("Object() returned %v before the object changed", err)
	}
	cm.Data["phase"] = "Ready"
	if err := env.Client.Update(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Object() = %v, want nil once the object changed", err)
	}
}

func TestFile(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	create(t, configMap(ns, "a", map[string]string{"k": "v"}), configMap(ns, "b", nil))
	tests := []struct {
		name    string
		content string
		wantErr []string
	}{
		{name: "every document holds", content: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"},
		{
			name:    "one document does not hold",
			content: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: v}\n",
			wantErr: []string{"configmap-b.yaml: timeout", "ConfigMap " + ns + "/b does not match:\n  data: expected map[k:v], but it is missing"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "configmap-b.yaml")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			err := assert.File(t.Context(), env.Client, path, assert.WithNamespace(ns), assert.WithTimeout("wait-short", 300*time.Millisecond))
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestGone(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	tests := []struct {
		name string
		obj  *corev1.ConfigMap
		// remove runs once Gone has seen the object; nil means the object never exists.
		remove  func(ctx context.Context, cm *corev1.ConfigMap) error
		wantErr []string
	}{
		{name: "an object that never existed is gone", obj: configMap(ns, "never", nil)},
		{
			name: "a deleted object disappears",
			obj:  configMap(ns, "deleted", nil),
			remove: func(ctx context.Context, cm *corev1.ConfigMap) error {
				return env.Client.Delete(ctx, cm)
			},
		},
		{
			name: "an object a finalizer holds is still there, and the error says why",
			obj:  &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "held", Finalizers: []string{"example.com/hold"}}},
			remove: func(ctx context.Context, cm *corev1.ConfigMap) error {
				return env.Client.Delete(ctx, cm)
			},
			wantErr: []string{`timeout "wait-short" (300ms) passed: ConfigMap ` + ns + "/held still exists, being deleted since", "held by finalizers [example.com/hold]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.remove == nil {
				checkErr(t, assert.Gone(t.Context(), env.Client, tt.obj), nil)
				return
			}
			create(t, tt.obj)
			t.Cleanup(func() { // let the API server delete the held object
				_ = env.Client.Patch(context.Background(), tt.obj, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`)))
			})
			log, seen := waiting()
			done := make(chan error, 1)
			go func() {
				timeout := assert.WithTimeout("wait-short", 300*time.Millisecond)
				if tt.wantErr == nil {
					timeout = assert.WithTimeout("wait-deleted", 20*time.Second)
				}
				done <- assert.Gone(t.Context(), env.Client, tt.obj, timeout, assert.WithInterval(20*time.Millisecond), assert.WithLogger(log))
			}()
			select {
			case <-seen:
			case err := <-done:
				t.Fatalf("Gone() returned %v before the object was deleted", err)
			}
			if err := tt.remove(t.Context(), tt.obj); err != nil {
				t.Fatal(err)
			}
			checkErr(t, <-done, tt.wantErr)
		})
	}
}
