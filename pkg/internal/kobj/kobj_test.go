package kobj

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

func TestYAMLLeavesOutZeroValueNoise(t *testing.T) {
	t.Parallel()
	out, err := YAML(&corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "c"},
		Data:       map[string]string{"k": "v"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "apiVersion: v1\ndata:\n  k: v\nkind: ConfigMap\nmetadata:\n  name: c\n"
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if strings.Contains(string(out), "null") {
		t.Errorf("rendered a null: %s", out)
	}
}

func TestYAMLParsesBackToTheSameObject(t *testing.T) {
	t.Parallel()
	tricky := []string{"", "true", "True", "yes", "no", "on", "off", "y", "n", "null", "~", "8", "-8", "1e3", "0x1F", "1:20", ".5",
		".inf", "a: b", "a:", "# x", "x #y", "-x", "@x", "*x", "&x", "!x", "|", ">", "'", "\"", "{}", "[]", " lead", "trail ",
		"é", "line\nbreak", "tab\t", "argon2:$argon2id$v=19$m=10240,t=10,p=8$c2FsdA$aGFzaA", "quay.io/jupyter/minimal-notebook:python-3.11",
		"CreateNamespace=true", "https://kubernetes.default.svc", "nvidia.com/gpu", "%x", "`x", "x,y", "?", "- ", "=", "<<"}
	labels := map[string]string{}
	for i, s := range tricky {
		labels[fmt.Sprintf("k%02d", i)] = s
		labels[s+"-as-key"] = "v"
	}
	obj := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: labels, Finalizers: tricky},
		Spec: corev1.PodSpec{
			Containers:                   []corev1.Container{{Name: "c", Args: tricky, Ports: []corev1.ContainerPort{{ContainerPort: 8888}}}, {Name: "d"}},
			Tolerations:                  []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists}},
			AutomountServiceAccountToken: ptr.To(false),
		},
	}
	out, err := YAML(obj)
	if err != nil {
		t.Fatal(err)
	}
	var back corev1.Pod
	if err := yaml.UnmarshalStrict(out, &back); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !equality.Semantic.DeepEqual(obj, &back) {
		t.Errorf("round trip differs:\n%s", out)
	}
}
