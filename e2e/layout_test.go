//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/generator"
)

// The two GitOps layouts, docs/gitops-layout.md: a repository switches between them with labctl
// layout, and its labs live on through it.
func TestLayoutSwitch(t *testing.T) {
	labs := []string{"ada", "grace"}
	var before map[string]string
	switched := features.New("labctl layout switches a namespace from one Argo CD Application per lab to one per namespace and back, and no lab, pod or volume is made anew").
		WithLabel(labelNeeds, needsContainers). // Argo CD
		Setup(inNamespace("layout")).
		Assess("two labs committed with one Application each are Ready", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			for _, name := range labs {
				out, err := runLabctl(ctx, t, "pw\n", "create", name, "-n", ns, "--owner", name, "--cpu", "100m", "--memory", "256Mi",
					"--storage", "1Gi", "--password-stdin", "--skip-catalog", "--layout", "lab", "--wait", "--timeout", timeout("wait-labctl").String())
				if err != nil || !strings.Contains(out, "Argo CD application "+generator.AppName(ns, name)) {
					t.Fatalf("labctl create %s --layout lab --wait: %v\n%s", name, err, out)
				}
			}
			before = identities(ctx, t)
			return ctx
		}).
		Assess("labctl layout namespace: two commits, the labs' Applications gone, ns-<namespace> Synced and Healthy with both labs", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			switchLayout(ctx, t, "namespace")
			for _, name := range labs {
				goneApp(ctx, t, generator.AppName(ns, name))
			}
			namespaceAppHolds(ctx, t, ns, labs)
			out, err := runLabctl(ctx, t, "", "status", labs[0], "-n", ns)
			if err != nil || !strings.Contains(out, "application ns-"+ns+": Synced") {
				t.Errorf("labctl status after the switch: %v; want it to read the lab's sync from ns-%s\n%s", err, ns, out)
			}
			return ctx
		}).
		Assess("the same labs, pods, volumes, Services, Secrets and Deployments as before, no container restarted", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			sameIdentities(ctx, t, before)
			return ctx
		}).
		Assess("labctl layout lab: back to one Application per lab, each Synced and Healthy, ns-<namespace> gone, and still the same objects", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			switchLayout(ctx, t, "lab")
			goneApp(ctx, t, "ns-"+ns)
			for _, name := range labs {
				waitForAppNamed(ctx, t, generator.AppName(ns, name), "the lab's own Application, Synced and Healthy", func(a *argocd.Application) string {
					if a.Status.Sync.Status != argocd.SyncStatusSynced || a.Status.Health.Status != argocd.HealthStatusHealthy {
						return a.Status.Sync.Status + "/" + a.Status.Health.Status
					}
					return ""
				})
			}
			sameIdentities(ctx, t, before)
			return ctx
		}).
		Teardown(removeLabs(labs...)).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			goneApp(ctx, t, "ns-"+namespace(ctx)) // had the switch back failed, the last delete removed it
			return ctx
		}).
		Teardown(deleteNamespace()).
		Feature()
	testParallel(t, switched)
}

// switchLayout runs labctl layout to for the feature's namespace and checks it took its two steps.
func switchLayout(ctx context.Context, t *testing.T, to string) {
	t.Helper()
	out, err := runLabctl(ctx, t, "", "layout", to, "-n", namespace(ctx), "--timeout", timeout("wait-labctl").String())
	t.Logf("labctl layout %s:\n%s", to, out)
	if err != nil {
		t.Fatalf("labctl layout %s: %v", to, err)
	}
	for _, want := range []string{"step 1 of 2 pushed", "step 2 of 2 pushed", "switched: Argo CD synced"} {
		if !strings.Contains(out, want) {
			t.Errorf("labctl layout %s did not say %q", to, want)
		}
	}
}

// namespaceAppHolds waits until the namespace's Application is Synced and Healthy with every lab
// among its resources, each Synced (Argo CD 3 keeps no health per resource in the status by default;
// the Application's is the worst of its resources').
func namespaceAppHolds(ctx context.Context, t *testing.T, ns string, labs []string) {
	t.Helper()
	waitForAppNamed(ctx, t, "ns-"+ns, "the namespace's Application, Synced and Healthy with every lab", func(a *argocd.Application) string {
		if a.Status.Sync.Status != argocd.SyncStatusSynced || a.Status.Health.Status != argocd.HealthStatusHealthy {
			return a.Status.Sync.Status + "/" + a.Status.Health.Status
		}
		for _, name := range labs {
			r := a.Resource(labkitv1alpha1.GroupVersion.Group, "JupyterLab", ns, name)
			if r == nil || r.Status != argocd.SyncStatusSynced {
				return fmt.Sprintf("lab %s in its resources: %+v", name, r)
			}
		}
		return ""
	})
}

// identities are the UIDs of the labs and of everything made for them in the feature's namespace, by
// kind and name, and the restart count of each pod's containers.
func identities(ctx context.Context, t *testing.T) map[string]string {
	t.Helper()
	c, ns := from(ctx).client, namespace(ctx)
	var (
		labs        labkitv1alpha1.JupyterLabList
		deployments appsv1.DeploymentList
		services    corev1.ServiceList
		secrets     corev1.SecretList
		volumes     corev1.PersistentVolumeClaimList
		pods        corev1.PodList
	)
	for _, l := range []client.ObjectList{&labs, &deployments, &services, &secrets, &volumes, &pods} {
		if err := c.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	if len(pods.Items) == 0 || len(volumes.Items) == 0 {
		t.Fatalf("namespace %s has %d pods and %d volumes: nothing to follow", ns, len(pods.Items), len(volumes.Items))
	}
	ids := map[string]string{}
	for _, o := range labs.Items {
		ids["JupyterLab/"+o.Name] = string(o.UID)
	}
	for _, o := range deployments.Items {
		ids["Deployment/"+o.Name] = string(o.UID)
	}
	for _, o := range services.Items {
		ids["Service/"+o.Name] = string(o.UID)
	}
	for _, o := range secrets.Items {
		ids["Secret/"+o.Name] = string(o.UID)
	}
	for _, o := range volumes.Items {
		ids["PersistentVolumeClaim/"+o.Name] = string(o.UID) + " bound to " + o.Spec.VolumeName
	}
	for _, o := range pods.Items {
		restarts := int32(0)
		for _, cs := range o.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
		ids["Pod/"+o.Name] = fmt.Sprintf("%s, %d restarts", o.UID, restarts)
	}
	return ids
}

// sameIdentities fails for every object that is gone, new, or another object of the same name.
func sameIdentities(ctx context.Context, t *testing.T, before map[string]string) {
	t.Helper()
	now := identities(ctx, t)
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if now[k] != before[k] {
			t.Errorf("%s was %s, is %q", k, before[k], now[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(now)) {
		if _, ok := before[k]; !ok {
			t.Errorf("%s is new: %s", k, now[k])
		}
	}
	t.Logf("%d objects unchanged, pods not restarted", len(before))
}
