package localcluster_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/localcluster"
)

const config = `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
  labels: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-40GB, nvidia.com/gpu.count: "4"}
  kubeadmConfigPatches:
  - |
    kind: JoinConfiguration
    nodeRegistration:
      taints: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}]
---
apiVersion: harness.labkit.dev/v1alpha1
kind: FakeNodePools
pools:
- name: h100
  count: 2
  labels: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3, nvidia.com/gpu.count: "8"}
  taints: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}]
- name: cpu
  count: 1
`

func TestPodsAskingForFakeGPUsRunOnFakeGPUNodesWithFakeVolumes(t *testing.T) {
	ctx := t.Context()
	c, err := localcluster.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
		// Nothing the cluster started may outlive it.
		out, _ := exec.Command("ps", "-eo", "pid,args").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, c.Kubeconfig) {
				t.Errorf("still running after Stop: %s", line)
			}
		}
		if _, err := os.Stat(c.Kubeconfig); !os.IsNotExist(err) {
			t.Errorf("kubeconfig %s left behind (%v)", c.Kubeconfig, err)
		}
	})
	cl, err := client.New(c.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := fakenodes.Load([]byte(config), "local")
	if err != nil {
		t.Fatal(err)
	}
	if err := fakenodes.Create(ctx, cl, cfg.All()...); err != nil {
		t.Fatal(err)
	}
	if err := fakenodes.CreateVolumes(ctx, cl, "fake", 2, true); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "gpu"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "gpu", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
					Tolerations:  []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{Name: "c", Image: "fake", Resources: corev1.ResourceRequirements{
						Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("4")}}}},
				},
			},
		},
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "work", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("100Gi")}},
		},
	}
	for _, obj := range []client.Object{dep, claim} {
		if err := cl.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	// Two nodes of 8 GPUs take three pods of 4 only if the scheduler counts the fake GPUs; the A100
	// worker has 4 but the wrong model.
	var ready int32
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
			return false, err
		}
		ready = dep.Status.ReadyReplicas
		return ready == 3, nil
	})
	if err != nil {
		t.Fatalf("wait-deployment-ready: %d of 3 replicas ready: %v", ready, err)
	}
	pods := &corev1.PodList{}
	if err := cl.List(ctx, pods, client.InNamespace("default"), client.MatchingLabels(labels)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "h100-0" && p.Spec.NodeName != "h100-1" {
			t.Errorf("pod %s runs on %q, want an H100 node", p.Name, p.Spec.NodeName)
		}
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := cl.Get(ctx, client.ObjectKeyFromObject(claim), claim)
		return claim.Status.Phase == corev1.ClaimBound, err
	})
	if err != nil {
		t.Fatalf("wait-claim-bound: claim is %q, want Bound to a pre-made volume of the default StorageClass %s: %v",
			claim.Status.Phase, fakenodes.VolumeClass, err)
	}
}
