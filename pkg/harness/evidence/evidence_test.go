package evidence_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/harness/evidence"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, func(e *testenv.Env) { env = e }) }

// pod makes a pod bound to a node no kubelet runs, so reading its logs fails. (The API server gives an
// empty log for a pod bound to no node.)
func pod(ns, name string, labels map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: corev1.PodSpec{NodeName: "no-kubelet"}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	return p
}

func event(ns, name string, last time.Time) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: name},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "lab-0"},
		Reason:         "Test",
		Message:        name,
		Type:           corev1.EventTypeNormal,
		FirstTimestamp: metav1.NewTime(last),
		LastTimestamp:  metav1.NewTime(last),
	}
}

// documents parses a multi-document YAML file into its objects.
func documents(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		var obj map[string]any
		if err := yaml.UnmarshalStrict(doc, &obj); err != nil {
			t.Fatalf("%s is not valid YAML: %v", path, err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
}

func TestCollect(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "evidence")
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := env.Namespace(ctx, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	for _, o := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}, Data: map[string]string{"k": "v"}},
		event(ns, "a-latest", now), // names in the other order than times, which decide
		event(ns, "z-earliest", now.Add(-time.Hour)),
		pod(ns, "lab-0", map[string]string{"app": "lab"}, "jupyter", "sidecar"),
		pod(elsewhere, "controller-0", map[string]string{"app": "controller"}, "manager"),
		pod(elsewhere, "unrelated", nil, "other"),
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	restarted := &corev1.Pod{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "lab-0"}, restarted); err != nil {
		t.Fatal(err)
	}
	restarted.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "jupyter", Image: "busybox", RestartCount: 1}}
	if err := env.Client.Status().Update(ctx, restarted); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err = evidence.Collect(ctx, env.Config, dir,
		evidence.WithNamespaces(ns),
		evidence.WithKinds(corev1.SchemeGroupVersion.WithKind("ConfigMap"), corev1.SchemeGroupVersion.WithKind("Pod"), appsv1.SchemeGroupVersion.WithKind("Deployment"),
			schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"}), // not installed
		evidence.WithPodLogs(elsewhere, "app=controller"),
		evidence.WithHook(func(_ context.Context, dir string) error {
			return os.WriteFile(filepath.Join(dir, "nodes.log"), []byte("node logs\n"), 0o644)
		}),
		evidence.WithHook(func(context.Context, string) error { return errors.New("export kind logs: no cluster") }),
	)

	t.Run("objects are written as YAML, one document each, without managedFields", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			file      string
			wantKind  string
			wantNames []string // in order
		}{
			{file: "events.yaml", wantKind: "Event", wantNames: []string{"z-earliest", "a-latest"}},
			{file: "configmap.yaml", wantKind: "ConfigMap", wantNames: []string{"settings"}},
			{file: "pod.yaml", wantKind: "Pod", wantNames: []string{"lab-0"}},
			{file: "deployment.apps.yaml", wantKind: "Deployment"},
		}
		for _, tt := range tests {
			t.Run(tt.file, func(t *testing.T) {
				t.Parallel()
				var names []string
				for _, obj := range documents(t, filepath.Join(dir, ns, tt.file)) {
					md, _ := obj["metadata"].(map[string]any)
					if obj["kind"] != tt.wantKind || md["namespace"] != ns {
						t.Errorf("%s holds a %v in namespace %v, want a %s in %s", tt.file, obj["kind"], md["namespace"], tt.wantKind, ns)
					}
					if _, ok := md["managedFields"]; ok {
						t.Errorf("%s keeps the managedFields of %v", tt.file, md["name"])
					}
					names = append(names, fmt.Sprint(md["name"]))
				}
				if strings.Join(names, " ") != strings.Join(tt.wantNames, " ") {
					t.Errorf("%s holds %v, want %v", tt.file, names, tt.wantNames)
				}
			})
		}
	})

	t.Run("hooks write under the directory", func(t *testing.T) {
		t.Parallel()
		if b, err := os.ReadFile(filepath.Join(dir, "nodes.log")); err != nil || string(b) != "node logs\n" {
			t.Errorf("hook's file: %q, %v", b, err)
		}
	})

	t.Run("the error names each item that failed: logs, a kind not installed, a hook", func(t *testing.T) {
		t.Parallel()
		if err == nil {
			t.Fatal("Collect() = nil, want the log failures of pods that no kubelet runs")
		}
		t.Logf("error, as a person reads it:\n%v", err)
		for _, want := range []string{
			"logs of container jupyter of pod " + ns + "/lab-0:",
			"logs of container jupyter of pod " + ns + "/lab-0 (previous run):",
			"logs of container sidecar of pod " + ns + "/lab-0:",
			"logs of container manager of pod " + elsewhere + "/controller-0:",
			"list Application in namespace " + ns + ": no matches for kind",
			"evidence hook: export kind logs: no cluster",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not contain %q", want)
			}
		}
		if strings.Contains(err.Error(), "unrelated") {
			t.Errorf("error mentions a pod the selector does not select:\n%v", err)
		}
		if logs, _ := os.ReadDir(filepath.Join(dir, ns, "logs")); len(logs) != 0 {
			t.Errorf("wrote %d log files for logs that could not be read", len(logs))
		}
	})
}

func TestCollectRefusesBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opt     evidence.Option
		wantErr string
	}{
		{"an empty namespace", evidence.WithNamespaces("a", ""), "evidence namespace is empty"},
		{"a kind without a version", evidence.WithKinds(corev1.SchemeGroupVersion.WithKind("Pod"), metav1.SchemeGroupVersion.WithKind("")), "needs a version and a kind"},
		{"a bad label selector", evidence.WithPodLogs("labkit-system", "app in (x"), `pod logs in namespace labkit-system: label selector "app in (x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "artifacts")
			err := evidence.Collect(t.Context(), env.Config, dir, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Collect() = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("Collect made %s despite bad options", dir)
			}
		})
	}
}
