package stack

import (
	"strings"
	"testing"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, func(e *testenv.Env) { env = e }) }

// The kubeconfig provider, against a real API server: it takes a cluster that runs labkit as it is,
// refuses one that does not, saying what is missing, and leaves it as it found it.
func TestTheKubeconfigProviderTakesAClusterThatRunsLabkit(t *testing.T) {
	ctx := t.Context()
	kubeconfig, err := env.KubeconfigFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := LookupProvider(ProviderKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Kubeconfig: kubeconfig, HostAddress: "192.0.2.1", Log: logr.Discard()}
	if _, err := p.Up(ctx, Options{Kubeconfig: kubeconfig, Log: logr.Discard()}); err == nil || !strings.Contains(err.Error(), "--host-address") {
		t.Errorf("Up() without a host address = %v, want it asked for", err)
	}
	// The CRD is there (envtest installs it) but no controller runs yet.
	if _, err := p.Up(ctx, o); err == nil || !strings.Contains(err.Error(), "runs no labkit controller") {
		t.Fatalf("Up() on a cluster without the controller = %v, want that said", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ControllerNamespace}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app.kubernetes.io/name": "labkit-controller"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "labkit-controller", Namespace: ControllerNamespace},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "labkit-controller"}}}},
		},
	}
	if err := env.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	c, err := p.Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	host, err := c.HostAddress(ctx)
	if err != nil || host != "192.0.2.1" {
		t.Errorf("HostAddress() = %q, %v; want the one given", host, err)
	}
	if c.Kubeconfig() != kubeconfig || c.ArgoCD() || c.Skaffold() != nil || strings.TrimSuffix(c.RESTConfig().Host, "/") != strings.TrimSuffix(env.Config.Host, "/") {
		t.Errorf("cluster: kubeconfig %s, Argo CD %v, skaffold %v, host %s; want the kubeconfig's cluster, no Argo CD (none installed), no skaffold",
			c.Kubeconfig(), c.ArgoCD(), c.Skaffold(), c.RESTConfig().Host)
	}
	if err := c.Client().Get(ctx, client.ObjectKeyFromObject(dep), &appsv1.Deployment{}); err != nil {
		t.Errorf("the cluster's client cannot read the controller's Deployment: %v", err)
	}
	if err := c.Down(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(dep), &appsv1.Deployment{}); err != nil {
		t.Errorf("Down() changed the cluster it found: %v", err)
	}
}

func TestAnUnknownProviderIsRefusedNamingThoseThereAre(t *testing.T) {
	if _, err := LookupProvider("kinda"); err == nil || !strings.Contains(err.Error(), "want one of kind, kubeconfig, local, or auto") {
		t.Errorf("LookupProvider(kinda) = %v", err)
	}
}
