package manifests

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

func TestInstallListsEveryObjectInApplyOrder(t *testing.T) {
	t.Parallel()
	out, err := Install("")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if u.Object != nil {
			kinds = append(kinds, u.GetKind())
		}
	}
	want := "Namespace CustomResourceDefinition ClusterRole Role ServiceAccount ClusterRoleBinding RoleBinding Role RoleBinding ConfigMap Deployment"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("kinds = %s\nwant    %s", got, want)
	}
}

func TestInstallSetsTheControllerImage(t *testing.T) {
	t.Parallel()
	out, err := Install("ghcr.io/labkit-dev/labkit-controller:v0.1.0")
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
