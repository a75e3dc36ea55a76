package portforward

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func pod(name string, age time.Duration, phase corev1.PodPhase, ready bool, deleting bool) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0).Add(-age))},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "jupyter", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8888}}}}},
		Status:     corev1.PodStatus{Phase: phase},
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	if deleting {
		p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1e9, 0)}
	}
	return p
}

func TestNewestReadyPicksTheNewestRunningReadyPodNotBeingDeleted(t *testing.T) {
	t.Parallel()
	pods := []corev1.Pod{
		pod("old", 3*time.Hour, corev1.PodRunning, true, false),
		pod("mid", 2*time.Hour, corev1.PodRunning, true, false),
		pod("going", time.Minute, corev1.PodRunning, true, true),
		pod("starting", time.Second, corev1.PodRunning, false, false),
		pod("pending", 0, corev1.PodPending, false, false),
	}
	if got := newestReady(pods); got == nil || got.Name != "mid" {
		t.Errorf("newestReady = %v, want mid", got)
	}
	if got := newestReady(pods[2:]); got != nil {
		t.Errorf("newestReady of pods none of which is ready and staying = %s, want none", got.Name)
	}
}

func TestContainerPortFollowsTheServicesTargetPort(t *testing.T) {
	t.Parallel()
	p := pod("p", 0, corev1.PodRunning, true, false)
	tests := []struct {
		target  intstr.IntOrString
		want    int
		wantErr bool
	}{
		{intstr.FromString("http"), 8888, false},
		{intstr.FromInt32(9999), 9999, false},
		{intstr.IntOrString{}, 80, false}, // no target port: the Service's own
		{intstr.FromString("grpc"), 0, true},
	}
	for _, tt := range tests {
		got, err := containerPort(&p, &corev1.ServicePort{Port: 80, TargetPort: tt.target})
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("containerPort(target %v) = %d, %v; want %d, error %v", tt.target.String(), got, err, tt.want, tt.wantErr)
		}
	}
}
