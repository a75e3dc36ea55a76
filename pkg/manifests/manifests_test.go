package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// objects decodes a YAML stream.
func objects(t *testing.T, stream []byte) []unstructured.Unstructured {
	t.Helper()
	var objs []unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if u.Object != nil {
			objs = append(objs, u)
		}
	}
	return objs
}

func TestInstallListsEveryObjectInApplyOrder(t *testing.T) {
	t.Parallel()
	out, err := Install()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, u := range objects(t, out) {
		kinds = append(kinds, u.GetKind())
	}
	want := "Namespace CustomResourceDefinition ClusterRole Role ServiceAccount RoleBinding Role RoleBinding ClusterRoleBinding ConfigMap Deployment"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("kinds = %s\nwant    %s", got, want)
	}
}

func TestInstallWithWatchNamespacesBindsTheClusterRoleInEachAndScopesTheController(t *testing.T) {
	t.Parallel()
	out, err := Install(WithWatchNamespaces("team-a", "team-b", "team-a"))
	if err != nil {
		t.Fatal(err)
	}
	var bindings []string
	var dep appsv1.Deployment
	for _, u := range objects(t, out) {
		switch u.GetKind() {
		case "ClusterRoleBinding":
			t.Errorf("ClusterRoleBinding %s in a namespace-scoped install", u.GetName())
		case "RoleBinding":
			var b rbacv1.RoleBinding
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &b); err != nil {
				t.Fatal(err)
			}
			if b.RoleRef.Kind == "ClusterRole" {
				bindings = append(bindings, fmt.Sprintf("%s/%s -> %s %s", b.Namespace, b.Name, b.RoleRef.Name, b.Subjects))
			}
		case "Deployment":
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &dep); err != nil {
				t.Fatal(err)
			}
		}
	}
	sa := "[{ServiceAccount  labkit-controller labkit-system}]"
	want := []string{"team-a/labkit-controller -> labkit-controller " + sa, "team-b/labkit-controller -> labkit-controller " + sa}
	if !slices.Equal(bindings, want) {
		t.Errorf("RoleBindings of the ClusterRole = %q\nwant %q", bindings, want)
	}
	args := dep.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--watch-namespaces=team-a,team-b") || !slices.Contains(args, "--leader-elect") {
		t.Errorf("controller args = %q, want --watch-namespaces=team-a,team-b besides the others", args)
	}
}

func TestInstallRefusesAWatchNamespaceThatIsNoName(t *testing.T) {
	t.Parallel()
	_, err := Install(WithWatchNamespaces("team-a", "Team_B"))
	if err == nil || !strings.Contains(err.Error(), `"Team_B"`) {
		t.Errorf("Install() error = %v, want one naming \"Team_B\"", err)
	}
}

// skaffold deploys the files of the kustomization itself; they must not drift apart.
func TestSkaffoldDeploysTheFilesOfTheKustomizationInItsOrder(t *testing.T) {
	t.Parallel()
	var kustomization struct {
		Resources []string `json:"resources"`
	}
	data, err := files.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kustomization); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(filepath.Join("..", "..", "skaffold.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var skaffold struct {
		Manifests struct {
			RawYaml []string `json:"rawYaml"`
		} `json:"manifests"`
	}
	// The first document is the config; its profiles patch it.
	if err := yaml.Unmarshal([]byte(strings.SplitN(string(data), "\n---\n", 2)[0]), &skaffold); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range kustomization.Resources {
		want = append(want, "pkg/manifests/"+r)
	}
	if !slices.Equal(skaffold.Manifests.RawYaml, want) {
		t.Errorf("skaffold.yaml manifests.rawYaml = %q\nwant the kustomization's %q", skaffold.Manifests.RawYaml, want)
	}
}

func TestInstallSetsTheControllerImage(t *testing.T) {
	t.Parallel()
	out, err := Install(WithImage("ghcr.io/labkit-dev/labkit-controller:v0.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(out), "\n---\n")
	var dep appsv1.Deployment
	if err := yaml.Unmarshal([]byte(docs[len(docs)-1]), &dep); err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/labkit-dev/labkit-controller:v0.1.0" {
		t.Errorf("image = %q", got)
	}
}

// skaffold debug deploys debug/deployment.yaml in place of the controller's Deployment: the same,
// but without leader election and replaced rather than rolled, and nothing else.
func TestTheDebugDeploymentIsTheControllersWithoutLeaderElection(t *testing.T) {
	t.Parallel()
	read := func(path string) *appsv1.Deployment {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		d := &appsv1.Deployment{}
		if err := yaml.UnmarshalStrict(data, d); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return d
	}
	want, got := read("controller/deployment.yaml"), read("debug/deployment.yaml")
	want.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	args := want.Spec.Template.Spec.Containers[0].Args
	i := slices.Index(args, "--leader-elect")
	if i < 0 {
		t.Fatalf("controller/deployment.yaml: no --leader-elect among %q", args)
	}
	args[i] = "--leader-elect=false"
	if !equality.Semantic.DeepEqual(got, want) {
		a, _ := yaml.Marshal(want)
		b, _ := yaml.Marshal(got)
		t.Errorf("debug/deployment.yaml differs from controller/deployment.yaml by more than strategy Recreate and --leader-elect=false:\nwant\n%s\ngot\n%s", a, b)
	}

	// And the debug profile puts it where the controller's is.
	data, err := os.ReadFile(filepath.Join("..", "..", "skaffold.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var skaffold struct {
		Manifests struct {
			RawYaml []string `json:"rawYaml"`
		} `json:"manifests"`
		Profiles []struct {
			Name    string `json:"name"`
			Patches []struct {
				Op, Path string
				Value    any
			} `json:"patches"`
		} `json:"profiles"`
	}
	if err := yaml.Unmarshal([]byte(strings.SplitN(string(data), "\n---\n", 2)[0]), &skaffold); err != nil {
		t.Fatal(err)
	}
	at := slices.Index(skaffold.Manifests.RawYaml, "pkg/manifests/controller/deployment.yaml")
	var replaced bool
	for _, p := range skaffold.Profiles {
		for _, patch := range p.Patches {
			replaced = replaced || p.Name == "debug" && patch.Op == "replace" &&
				patch.Path == fmt.Sprintf("/manifests/rawYaml/%d", at) && patch.Value == "pkg/manifests/debug/deployment.yaml"
		}
	}
	if at < 0 || !replaced {
		t.Errorf("skaffold.yaml's debug profile does not replace manifests.rawYaml/%d (pkg/manifests/controller/deployment.yaml) with pkg/manifests/debug/deployment.yaml", at)
	}
}
