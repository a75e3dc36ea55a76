package catalog

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

func TestFromNodeRefusesMalformedLabels(t *testing.T) {
	t.Parallel()
	for _, label := range []string{v1alpha1.GPUCountLabel, v1alpha1.GPUMemoryLabel} {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gpu-1", Labels: map[string]string{label: "-4"}}}
		_, err := fromNode(n, amount{})
		want := `node "gpu-1": label ` + label + `="-4" is not a whole number 0 or more`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("fromNode with %s=-4: error %v, want one containing %s", label, err, want)
		}
	}
}

func TestPodRequests(t *testing.T) {
	t.Parallel()
	cpu := func(q string) corev1.Container {
		return corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}}}
	}
	sidecar := func(q string) corev1.Container {
		c := cpu(q)
		c.RestartPolicy = new(corev1.ContainerRestartPolicyAlways)
		return c
	}
	tests := []struct {
		name string
		spec corev1.PodSpec
		want int64 // milli-CPU
	}{
		{"containers add up", corev1.PodSpec{Containers: []corev1.Container{cpu("1"), cpu("500m")}}, 1500},
		{"a larger init container wins", corev1.PodSpec{
			InitContainers: []corev1.Container{cpu("4"), cpu("2")}, Containers: []corev1.Container{cpu("3")},
		}, 4000},
		{"a sidecar runs with the containers and the init containers after it", corev1.PodSpec{
			InitContainers: []corev1.Container{cpu("3"), sidecar("1"), cpu("3500m")}, Containers: []corev1.Container{cpu("3")},
		}, 4500},
		{"overhead adds", corev1.PodSpec{
			Containers: []corev1.Container{cpu("1")}, Overhead: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		}, 1250},
		{"pod-level requests replace the containers'", corev1.PodSpec{
			Containers: []corev1.Container{cpu("1")},
			Resources:  &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}},
		}, 8000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := podRequests(&corev1.Pod{Spec: tt.spec}).milliCPU; got != tt.want {
				t.Errorf("podRequests = %dm CPU, want %dm", got, tt.want)
			}
		})
	}
}
