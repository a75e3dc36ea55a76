package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// projectFiles are what skaffold builds the controller from.
var projectFiles = []string{"go.mod", "go.sum", "Dockerfile", ".dockerignore", "skaffold.yaml", "cmd", "pkg"}

// CopyProject copies what skaffold builds the controller from, out of the project at root into dir,
// so that a test or benchmark may edit its sources without touching the project.
func CopyProject(root, dir string) error {
	for _, name := range projectFiles {
		src, dst := filepath.Join(root, name), filepath.Join(dir, name)
		info, err := os.Stat(src)
		if err != nil {
			return err
		}
		if info.IsDir() {
			err = os.CopyFS(dst, os.DirFS(src))
		} else if data, rerr := os.ReadFile(src); rerr != nil {
			err = rerr
		} else {
			err = os.WriteFile(dst, data, 0o644)
		}
		if err != nil {
			return fmt.Errorf("copy the project for skaffold: %w", err)
		}
	}
	return nil
}

// ReconcileFunc is the controller's Reconcile, where a debugger's breakpoint goes.
const ReconcileFunc = "github.com/labkit-dev/labkit/pkg/controller.(*JupyterLabReconciler).Reconcile"

// DelvePort matches the line skaffold debug prints when it forwards Delve's port of a controller pod:
// the pod is submatch 1, the address on this machine submatch 2.
var DelvePort = regexp.MustCompile(`Port forwarding pod/(labkit-controller-\S+) in namespace labkit-system, remote port 56268 -> (?:http://)?(\S+:\d+)`)

// VersionFile is the file whose `var version = "dev"` the controller logs at start: editing it is a
// source change whose effect can be seen in the new pod's log.
const VersionFile = "pkg/cmd/labkitcontroller/version.go"

// SetVersion rewrites the version of the controller sources in dir to marker.
func SetVersion(dir, marker string) error {
	path := filepath.Join(dir, VersionFile)
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "var version = ") {
			lines[i] = fmt.Sprintf("var version = %q", marker)
			return os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
		}
	}
	return fmt.Errorf("%s has no line `var version = ...`", path)
}

// WaitForControllerVersion waits (wait-new-pod) until a ready controller pod's log says it started
// with version marker, and returns its name.
func WaitForControllerVersion(ctx context.Context, cfg *rest.Config, marker string) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	found := ""
	err = Waits.Until(ctx, "wait-new-pod", func(ctx context.Context) (string, error) {
		pods, err := cs.CoreV1().Pods(ControllerNamespace).List(ctx, metav1.ListOptions{LabelSelector: ControllerSelector})
		if err != nil {
			return "", err
		}
		last := "no ready controller pod"
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || !podReady(&p) {
				continue
			}
			logs, err := cs.CoreV1().Pods(ControllerNamespace).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
			if err == nil && strings.Contains(string(logs), marker) {
				found = p.Name
				return "", nil
			}
			last = "ready controller pod " + p.Name + " has not logged version " + marker
		}
		return last, nil
	})
	return found, err
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
