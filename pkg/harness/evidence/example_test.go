package evidence_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/labkit-dev/labkit/pkg/harness/evidence"
)

// A failing test keeps what its namespaces held: events, objects of the kinds it names, pod logs, and
// whatever its hooks add. env.Config reaches the API server this package's TestMain starts, whose
// namespace default holds the Service kubernetes and no pods.
func Example() {
	dir, err := os.MkdirTemp("", "evidence-") // such as artifacts/<test name>
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	err = evidence.Collect(context.Background(), env.Config, dir,
		evidence.WithNamespaces("default"),
		evidence.WithKinds(corev1.SchemeGroupVersion.WithKind("Service"), appsv1.SchemeGroupVersion.WithKind("Deployment")),
		evidence.WithHook(func(_ context.Context, dir string) error { // such as a kind cluster's node logs
			return os.WriteFile(filepath.Join(dir, "nodes.log"), []byte("node logs\n"), 0o644)
		}),
	)
	fmt.Println(err)
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			fmt.Println(rel)
		}
		return err
	})
	// Output:
	// <nil>
	// default/deployment.apps.yaml
	// default/events.yaml
	// default/service.yaml
	// nodes.log
}
