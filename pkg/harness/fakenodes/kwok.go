package fakenodes

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/harness/assert"
	"github.com/labkit-dev/labkit/pkg/harness/gomodule"
)

const (
	// KwokModule and KwokVersion pin the kwok release whose binary, image and stages are used.
	KwokModule  = "sigs.k8s.io/kwok"
	KwokVersion = "v0.8.0"
	// KwokImage is the kwok controller's upstream image of that release.
	KwokImage = "registry.k8s.io/kwok/kwok:" + KwokVersion
	// kwokName is the name of the kwok controller's Deployment, ServiceAccount and ClusterRole.
	kwokName = "kwok-controller"
	// LeaseDurationSeconds is how long a fake node's lease lasts; kwok renews it, so the node lifecycle
	// controller keeps the node Ready.
	LeaseDurationSeconds = 40
)

// Stages are kwok's "fast" stages for nodes and pods: fake nodes become Ready at once and keep a
// lease, bound pods become Running and Ready, and deleted pods go.
var Stages = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-complete.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

// KwokArgs are the kwok flags every kwok controller of the harness runs with, wherever it runs.
var KwokArgs = []string{
	"--manage-all-nodes=false",
	"--manage-nodes-with-annotation-selector=" + ManagedAnnotation + "=fake",
	fmt.Sprintf("--node-lease-duration-seconds=%d", LeaseDurationSeconds),
}

// readKwok reads files of the pinned kwok module and joins them into one YAML stream.
func readKwok(ctx context.Context, paths ...string) ([]byte, error) {
	var all []byte
	for _, p := range paths {
		b, err := gomodule.ReadFile(ctx, KwokModule, KwokVersion, p)
		if err != nil {
			return nil, fmt.Errorf("kwok %s: %w", KwokVersion, err)
		}
		all = append(append(all, "\n---\n"...), b...)
	}
	return all, nil
}

// StageConfig is the Stage objects of Stages as one YAML stream, for kwok's --config.
func StageConfig(ctx context.Context) ([]byte, error) { return readKwok(ctx, Stages...) }

// Install runs the kwok controller in the cluster, in kube-system, from KwokImage (which must be
// present on the nodes or pullable), with the Stage CRD, kwok's RBAC and the Stages. It keeps kwok off
// fake nodes and waits until it is Available. Volumes for pods on fake nodes come from CreateVolumes,
// not from kwok's volume stages, which bind one claim at a time and race the control plane's binder.
func Install(ctx context.Context, c client.Client, timeout time.Duration) error {
	static, err := readKwok(ctx,
		"kustomize/crd/bases/kwok.x-k8s.io_stages.yaml",
		"kustomize/rbac/service_account.yaml",
		"kustomize/rbac/role.yaml",
		"kustomize/rbac/role_binding.yaml",
		"kustomize/rbac/flow_schema.yaml",
	)
	if err != nil {
		return err
	}
	stages, err := readKwok(ctx, Stages...)
	if err != nil {
		return err
	}
	dep, err := yaml.Marshal(kwokDeployment())
	if err != nil {
		return err
	}
	all := append(append(append(static, "\n---\n"...), dep...), stages...)
	applied, err := apply.Apply(ctx, c, all, apply.WithNamespace(metav1.NamespaceSystem), apply.WithFieldOwner("labkit-harness"),
		// Stages are cluster-scoped; the role bindings name their subjects' namespace themselves.
		apply.WithTransform(func(u *unstructured.Unstructured) error {
			if u.GetKind() != "ClusterRoleBinding" {
				return nil
			}
			subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
			for _, s := range subjects {
				if m, ok := s.(map[string]any); ok && m["namespace"] == nil {
					m["namespace"] = metav1.NamespaceSystem
				}
			}
			return unstructured.SetNestedSlice(u.Object, subjects, "subjects")
		}))
	if err != nil {
		return fmt.Errorf("install kwok: %w", err)
	}
	// Available alone would hold at once when an older kwok runs still: wait for the rollout of the
	// Deployment as applied, generation and all.
	var generation int64
	for _, u := range applied {
		if u.GetKind() == "Deployment" && u.GetName() == kwokName {
			generation = u.GetGeneration()
		}
	}
	rolledOut := fmt.Appendf(nil, `apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: %s}
status:
  observedGeneration: %d
  replicas: 1
  updatedReplicas: 1
  availableReplicas: 1
  conditions: [{type: Available, status: "True"}]
`, kwokName, metav1.NamespaceSystem, generation)
	return assert.Object(ctx, c, rolledOut, assert.WithTimeout("wait-kwok-available", timeout))
}

func kwokDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": kwokName}
	// No --node-ip: the fake nodes then have no InternalIP, so the CNI daemon of the real nodes (kindnet,
	// or shimnet here) finds no gateway for their pod CIDRs and leaves them alone; with kwok's pod IP
	// as their InternalIP it tried, and failed, to route each of them through it, every few seconds.
	// Nothing needs the address: kwok serves no logs or exec here (only the Stage CRD is enabled).
	args := append([]string{
		"--enable-crds=Stage", // stages come from Stage objects
		"--node-port=10247",   // where kwok serves /healthz, for the readiness probe
	}, KwokArgs...)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: kwokName, Namespace: metav1.NamespaceSystem, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			// kwok has no leader election: stop the old one before starting the new one, so that two never
			// drive the same nodes. (Type Recreate would do the same but cannot be applied over the
			// rollingUpdate that the API server defaulted on an earlier apply.)
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromInt32(0)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: kwokName,
					Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
						RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
							MatchExpressions: []corev1.NodeSelectorRequirement{{Key: TypeLabel, Operator: corev1.NodeSelectorOpNotIn, Values: []string{TypeKwok}}},
						}}},
					}},
					// The control plane is the one node the labs never use.
					Tolerations: []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					Containers: []corev1.Container{{
						Name:            kwokName,
						Image:           KwokImage,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            args,
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
							Path: "/healthz", Port: intstr.FromInt32(10247)}}, PeriodSeconds: 5},
					}},
				},
			},
		},
	}
}
