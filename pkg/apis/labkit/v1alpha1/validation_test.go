package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, func(e *testenv.Env) { env = e }) }

const fixtures = "../../../../fixture/jupyterlab"

func loadFixture(t *testing.T, path string) *labkitv1alpha1.JupyterLab {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lab := &labkitv1alpha1.JupyterLab{}
	if err := yaml.UnmarshalStrict(data, lab); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return lab
}

func TestTheAPIServerAcceptsValidSpecs(t *testing.T) {
	ctx := context.Background()
	ns, err := env.Namespace(ctx, "valid")
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(fixtures, "valid-*.yaml"))
	if len(paths) == 0 {
		t.Fatalf("no valid-*.yaml in %s", fixtures)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			lab := loadFixture(t, path)
			lab.Namespace = ns
			if err := env.Client.Create(ctx, lab); err != nil {
				t.Fatalf("create %s: %v", path, err)
			}
		})
	}
}

func TestTheAPIServerRefusesInvalidSpecsWithAMessageThatSaysWhy(t *testing.T) {
	ctx := context.Background()
	ns, err := env.Namespace(ctx, "invalid")
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(fixtures, "invalid-*.yaml"))
	if len(paths) == 0 {
		t.Fatalf("no invalid-*.yaml in %s", fixtures)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			lab := loadFixture(t, path)
			want := lab.Annotations["labkit.dev/expect-error"]
			if want == "" {
				t.Fatalf("%s has no labkit.dev/expect-error annotation", path)
			}
			lab.Namespace = ns
			err := env.Client.Create(ctx, lab)
			if err == nil {
				t.Fatalf("the API server accepted %s; want an error containing %q", path, want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error for %s:\n  %v\nwant it to contain:\n  %s", path, err, want)
			}
		})
	}
}

func TestTheAPIServerRefusesForbiddenChanges(t *testing.T) {
	ctx := context.Background()
	ns, err := env.Namespace(ctx, "transitions")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*labkitv1alpha1.JupyterLab)
		want   string // empty: the change is allowed
	}{
		{"storage may grow", func(l *labkitv1alpha1.JupyterLab) { l.Spec.Storage.Size = resource.MustParse("200Gi") }, ""},
		{"storage may not shrink", func(l *labkitv1alpha1.JupyterLab) { l.Spec.Storage.Size = resource.MustParse("50Gi") }, "storage size may grow but not shrink"},
		{"owner is immutable", func(l *labkitv1alpha1.JupyterLab) { l.Spec.Owner = "mallory" }, "owner is immutable"},
		{"storage class is immutable", func(l *labkitv1alpha1.JupyterLab) { l.Spec.Storage.StorageClassName = "fast" }, "storageClassName is immutable"},
		{"resources may change", func(l *labkitv1alpha1.JupyterLab) { l.Spec.Resources.CPU = resource.MustParse("16") }, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lab := loadFixture(t, filepath.Join(fixtures, "valid-gpu.yaml"))
			lab.Name = fmt.Sprintf("transition-%d", i)
			lab.Namespace = ns
			lab.Spec.Storage.StorageClassName = "standard"
			if err := env.Client.Create(ctx, lab); err != nil {
				t.Fatal(err)
			}
			tt.change(lab)
			err := env.Client.Update(ctx, lab)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("update refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("update accepted; want an error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error:\n  %v\nwant it to contain:\n  %s", err, tt.want)
			}
		})
	}
}
