package main

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	labargocd "github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// The ApplicationSet's template, filled in for a lab's file as Argo CD's Git files generator fills
// it, is the Application the lab layout commits for that lab, but for the owner label.
func TestApplicationSetMakesTheLabLayoutsApplications(t *testing.T) {
	target := generator.Target{RepoURL: "http://git.example/labs.git", Revision: appSetBranch, Layout: generator.LayoutLab}
	set, err := applicationSet("team-a", target)
	if err != nil {
		t.Fatal(err)
	}
	if set.GetName() != "labs-team-a" || set.GetNamespace() != stack.ArgoCDNamespace || set.GetKind() != "ApplicationSet" {
		t.Errorf("got ApplicationSet %s %s/%s, want ApplicationSet %s/labs-team-a", set.GetKind(), set.GetNamespace(), set.GetName(), stack.ArgoCDNamespace)
	}
	gens, _, _ := unstructured.NestedSlice(set.Object, "spec", "generators")
	if len(gens) != 1 {
		t.Fatalf("generators: got %v, want one Git files generator", gens)
	}
	b, _ := json.Marshal(gens[0])
	if want := `{"git":{"files":[{"path":"labs/team-a/*/jupyterlab.yaml"}],"repoURL":"http://git.example/labs.git","revision":"scale-applicationset"}}`; string(b) != want {
		t.Errorf("generator: got %s, want %s", b, want)
	}

	tmpl, err := json.Marshal(set.Object["spec"].(map[string]any)["template"])
	if err != nil {
		t.Fatal(err)
	}
	filled := strings.ReplaceAll(string(tmpl), "{{.path.basename}}", "ada")
	if strings.Contains(filled, "{{") {
		t.Fatalf("template has a parameter the Git files generator does not give: %s", filled)
	}
	var got labargocd.Application
	if err := json.Unmarshal([]byte(filled), &got); err != nil {
		t.Fatal(err)
	}
	lab := &labkitv1alpha1.JupyterLab{ObjectMeta: metav1.ObjectMeta{Name: "ada", Namespace: "team-a"}}
	lab.Spec.Owner = "ada"
	want := generator.Application(lab, target)
	delete(want.Labels, labkitv1alpha1.OwnerLabel)
	want.TypeMeta, want.Namespace = metav1.TypeMeta{}, ""
	if !equality.Semantic.DeepEqual(got.ObjectMeta, want.ObjectMeta) || !equality.Semantic.DeepEqual(got.Spec, want.Spec) {
		t.Errorf("the template filled in for lab team-a/ada:\n got %+v %+v\nwant %+v %+v", got.ObjectMeta, got.Spec, want.ObjectMeta, want.Spec)
	}
}
