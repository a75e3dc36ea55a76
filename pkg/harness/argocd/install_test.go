package argocd_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/argocd"
)

// TestInstallThenUninstall is not parallel: Argo CD's cluster-scoped objects make one install per
// cluster, and Uninstall deletes its CRDs.
func TestInstallThenUninstall(t *testing.T) {
	const pvcHealth = `hs = {status = "Healthy"}
return hs`
	tests := []struct {
		name           string
		opts           []argocd.Option
		appSetReplicas int32
		argocdCM       map[string]string // entries argocd-cm must have
		params         map[string]string // entries argocd-cmd-params-cm must have
	}{
		{
			name: "defaults and health checks",
			opts: []argocd.Option{
				argocd.WithHealthCheck("example.com", "Widget", argocd.HealthCheckFromConditions("Ready")),
				argocd.WithHealthCheck("", "PersistentVolumeClaim", pvcHealth),
			},
			appSetReplicas: 0,
			argocdCM: map[string]string{
				"timeout.reconciliation":                               "5s",
				"timeout.reconciliation.jitter":                        "0s",
				"resource.customizations.health.example.com_Widget":    argocd.HealthCheckFromConditions("Ready"),
				"resource.customizations.health.PersistentVolumeClaim": pvcHealth,
			},
		},
		{
			name: "application set, a slower reconciliation, more processors",
			opts: []argocd.Option{argocd.WithApplicationSet(), argocd.WithReconciliationTimeout(90 * time.Second),
				argocd.WithCommandParameters(map[string]string{"controller.status.processors": "50"}),
				argocd.WithCommandParameters(map[string]string{"controller.operation.processors": "25"})},
			appSetReplicas: 1,
			argocdCM:       map[string]string{"timeout.reconciliation": "1m30s"},
			params:         map[string]string{"controller.status.processors": "50", "controller.operation.processors": "25"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			ns, err := env.Namespace(ctx, "argocd")
			if err != nil {
				t.Fatal(err)
			}
			opts := append([]argocd.Option{argocd.WithNamespace(ns), argocd.WithReadyTimeout(time.Second)}, tt.opts...)

			// envtest runs no controllers: nothing becomes ready, and the named timeout says what is not.
			err = argocd.Install(ctx, env.Client, opts...)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Install() = %v, want the ready timeout", err)
			}
			for _, part := range []string{
				argocd.ReadyTimeoutName + ": Argo CD in namespace " + ns + " not ready after 1s: ",
				"Deployment argocd-repo-server: generation 1 not observed by its controller yet",
				"Deployment argocd-redis: ",
				"StatefulSet argocd-application-controller: ",
			} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("Install() error = %q, want it to contain %q", err, part)
				}
			}

			var deployments appsv1.DeploymentList
			if err := env.Client.List(ctx, &deployments, client.InNamespace(ns)); err != nil {
				t.Fatal(err)
			}
			var sts appsv1.StatefulSet
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "argocd-application-controller"}, &sts); err != nil {
				t.Fatal(err)
			}
			templates := map[string]corev1.PodSpec{sts.Name: sts.Spec.Template.Spec}
			for _, d := range deployments.Items {
				templates[d.Name] = d.Spec.Template.Spec
				if d.Name == "argocd-applicationset-controller" {
					if got := ptr.Deref(d.Spec.Replicas, -1); got != tt.appSetReplicas {
						t.Errorf("applicationset controller replicas = %d, want %d", got, tt.appSetReplicas)
					}
				}
			}
			if len(templates) != 4 {
				t.Errorf("workloads = %d, want 4 (application controller, applicationset controller, repo server, redis)", len(templates))
			}
			for name, spec := range templates {
				for _, c := range append(spec.InitContainers, spec.Containers...) {
					if c.ImagePullPolicy == corev1.PullAlways {
						t.Errorf("%s container %s: imagePullPolicy Always, want it rewritten", name, c.Name)
					}
				}
			}

			// Every pod template carries the digest of the settings read at start (installing again
			// below: with the same settings nothing rolls, with another reconciliation timeout it does).
			digest := sts.Spec.Template.Annotations[argocd.SettingsAnnotation]
			if digest == "" {
				t.Errorf("StatefulSet %s: no pod template annotation %s", sts.Name, argocd.SettingsAnnotation)
			}
			for _, d := range deployments.Items {
				if got := d.Spec.Template.Annotations[argocd.SettingsAnnotation]; got != digest {
					t.Errorf("Deployment %s: annotation %s = %q, want %q as on the StatefulSet", d.Name, argocd.SettingsAnnotation, got, digest)
				}
			}
			var cm corev1.ConfigMap
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "argocd-cm"}, &cm); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.argocdCM {
				if diff := cmp.Diff(want, cm.Data[k]); diff != "" {
					t.Errorf("argocd-cm %s (-want +got):\n%s", k, diff)
				}
			}
			var params corev1.ConfigMap
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "argocd-cmd-params-cm"}, &params); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.params {
				if got := params.Data[k]; got != want {
					t.Errorf("argocd-cmd-params-cm %s = %q, want %q", k, got, want)
				}
			}

			var crb rbacv1.ClusterRoleBinding
			if err := env.Client.Get(ctx, client.ObjectKey{Name: "argocd-application-controller"}, &crb); err != nil {
				t.Fatal(err)
			}
			if len(crb.Subjects) != 1 || crb.Subjects[0].Namespace != ns {
				t.Errorf("ClusterRoleBinding subjects = %+v, want the service account in %s", crb.Subjects, ns)
			}

			for _, again := range []struct {
				opts    []argocd.Option
				changed bool
			}{{nil, false}, {[]argocd.Option{argocd.WithReconciliationTimeout(7 * time.Minute)}, true}} {
				if err := argocd.Install(ctx, env.Client, append(slices.Clone(opts), again.opts...)...); !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Install() again = %v, want the ready timeout", err)
				}
				var now appsv1.StatefulSet
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&sts), &now); err != nil {
					t.Fatal(err)
				}
				if changed := now.Generation != sts.Generation || now.Spec.Template.Annotations[argocd.SettingsAnnotation] != digest; changed != again.changed {
					t.Errorf("installed again with %d more options: StatefulSet generation %d -> %d, %s %q -> %q; want changed=%t",
						len(again.opts), sts.Generation, now.Generation, argocd.SettingsAnnotation, digest, now.Spec.Template.Annotations[argocd.SettingsAnnotation], again.changed)
				}
			}

			createApplication(ctx, t, ns, "to-be-uninstalled")
			go env.FinalizeNamespace(ctx, ns)
			if err := argocd.Uninstall(ctx, env.Client, append(opts, argocd.WithReadyTimeout(time.Minute))...); err != nil {
				t.Fatalf("Uninstall() = %v", err)
			}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
				t.Errorf("after Uninstall(), get namespace %s = %v, want not found", ns, err)
			}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: "argocd-application-controller"}, &rbacv1.ClusterRoleBinding{}); !apierrors.IsNotFound(err) {
				t.Errorf("after Uninstall(), get ClusterRoleBinding = %v, want not found", err)
			}
		})
	}
}
