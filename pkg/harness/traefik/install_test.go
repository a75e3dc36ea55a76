package traefik_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/traefik"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, func(e *testenv.Env) { env = e }) }

// warnings collects the warnings the API server returns, such as the Pod Security admission's
// "would violate PodSecurity" for a Deployment whose pods the namespace's profile would reject.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// warningClient is env.Client, but collecting warnings.
func warningClient(t *testing.T) (client.Client, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// TestInstall applies everything into a real API server, which validates each object (and the Pod
// Security admission checks the pod template against the restricted profile); envtest runs no
// controller, so the wait times out until the test plays the Deployment controller and the EndpointSlice
// controller itself.
func TestInstall(t *testing.T) {
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "traefik")
	if err != nil {
		t.Fatal(err)
	}
	c, warned := warningClient(t)
	opts := []traefik.Option{
		traefik.WithNamespace(ns), traefik.WithIngressClass(ns), traefik.WithNodePort(30080), traefik.WithDefaultIngressClass(),
		traefik.WithIngressStatusIP("127.0.0.1"), traefik.WithAccessLog(), traefik.WithReadyTimeout(2 * time.Second),
	}

	start := time.Now()
	err = traefik.Install(ctx, c, opts...)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Install() = %v, want the ready timeout", err)
	}
	t.Logf("Install() after %s: %v", time.Since(start).Round(time.Millisecond), err)
	for _, part := range []string{
		traefik.ReadyTimeoutName + ": Traefik in namespace " + ns + " not ready after 2s: ",
		"Deployment " + ns + "/traefik: generation 1 not observed by its controller yet (observed 0), 0/1 replicas ready, 0/1 updated, 0 in all, no condition Available",
		"Service " + ns + "/traefik: no EndpointSlice",
		"pods: none",
	} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("Install() error = %q, want it to contain %q", err, part)
		}
	}
	if !strings.HasPrefix(err.Error(), traefik.ReadyTimeoutName+": ") {
		t.Errorf("Install() error = %q, want it to start with %q", err, traefik.ReadyTimeoutName+": ")
	}
	if len(warned.list) > 0 {
		t.Errorf("the API server warned: %q", warned.list)
	}

	// Everything was applied, as the API server stores it.
	var (
		namespace corev1.Namespace
		sa        corev1.ServiceAccount
		role      rbacv1.ClusterRole
		binding   rbacv1.ClusterRoleBinding
		class     networkingv1.IngressClass
		deploy    appsv1.Deployment
		svc       corev1.Service
	)
	for _, get := range []struct {
		key client.ObjectKey
		obj client.Object
	}{
		{client.ObjectKey{Name: ns}, &namespace},
		{client.ObjectKey{Namespace: ns, Name: "traefik"}, &sa},
		{client.ObjectKey{Name: "traefik-" + ns}, &role},
		{client.ObjectKey{Name: "traefik-" + ns}, &binding},
		{client.ObjectKey{Name: ns}, &class},
		{client.ObjectKey{Namespace: ns, Name: "traefik"}, &deploy},
		{client.ObjectKey{Namespace: ns, Name: "traefik"}, &svc},
	} {
		if err := env.Client.Get(ctx, get.key, get.obj); err != nil {
			t.Fatalf("get %T %s: %v", get.obj, get.key, err)
		}
	}
	if got := namespace.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("namespace enforces Pod Security profile %q, want restricted", got)
	}
	if got := len(role.Rules); got != 4 {
		t.Errorf("ClusterRole has %d rules, want 4 (with ingresses/status)", got)
	}
	if got := binding.Subjects; len(got) != 1 || got[0].Namespace != ns || got[0].Name != sa.Name {
		t.Errorf("ClusterRoleBinding subjects = %+v, want ServiceAccount %s/%s", got, ns, sa.Name)
	}
	if class.Spec.Controller != traefik.ControllerName || class.Annotations["ingressclass.kubernetes.io/is-default-class"] != "true" {
		t.Errorf("IngressClass = %+v, want controller %s and the default class", class, traefik.ControllerName)
	}
	if got := svc.Spec.Ports[0].NodePort; got != 30080 {
		t.Errorf("Service node port = %d, want 30080", got)
	}

	// The Ingress admission gives a new Ingress without a class the default one.
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-class"},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: "demo", Port: networkingv1.ServiceBackendPort{Number: 80}},
		}},
	}
	if err := env.Client.Create(ctx, ing); err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(ing.Spec.IngressClassName, ""); got != ns {
		t.Errorf("Ingress class = %q, want the default class %s", got, ns)
	}

	// Play the Deployment controller: rolled out. The Service still has no ready endpoint.
	deploy.Status = appsv1.DeploymentStatus{
		ObservedGeneration: deploy.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}},
	}
	if err := env.Client.Status().Update(ctx, &deploy); err != nil {
		t.Fatal(err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: "traefik-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: "traefik"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("web"), Port: ptr.To[int32](8000), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if err := env.Client.Create(ctx, slice); err != nil {
		t.Fatal(err)
	}
	err = traefik.Install(ctx, c, opts...)
	want := traefik.ReadyTimeoutName + ": Traefik in namespace " + ns + " not ready after 2s: Service " + ns +
		"/traefik: no ready endpoint (1 not ready in 1 EndpointSlices); pods: none: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Install() with the Deployment rolled out = %v, want an error starting with %q", err, want)
	}

	// Play the EndpointSlice controller: the pod is ready. Install, again, applies and returns.
	slice.Endpoints[0].Conditions.Ready = ptr.To(true)
	if err := env.Client.Update(ctx, slice); err != nil {
		t.Fatal(err)
	}
	if err := traefik.Install(ctx, c, opts...); err != nil {
		t.Errorf("Install() with the Deployment rolled out and a ready endpoint = %v, want nil", err)
	}

	// Uninstall deletes it all; envtest has no namespace controller, so finalize the namespace.
	go env.FinalizeNamespace(ctx, ns)
	if err := traefik.Uninstall(ctx, env.Client, append(opts, traefik.WithReadyTimeout(time.Minute))...); err != nil {
		t.Fatalf("Uninstall() = %v", err)
	}
	for _, obj := range []client.Object{&namespace, &role, &binding, &class} {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			t.Errorf("after Uninstall(), get %T %s = %v, want not found", obj, obj.GetName(), err)
		}
	}
}

// TestUninstallTimeout: a namespace that stays Terminating (no namespace controller in envtest) makes
// Uninstall's named wait fail, saying what is left.
func TestUninstallTimeout(t *testing.T) {
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "traefik-gone")
	if err != nil {
		t.Fatal(err)
	}
	opts := []traefik.Option{traefik.WithNamespace(ns), traefik.WithIngressClass(ns), traefik.WithNodePort(0), traefik.WithReadyTimeout(time.Second)}
	if err := traefik.Install(ctx, env.Client, opts...); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Install() = %v, want the ready timeout", err)
	}
	err = traefik.Uninstall(ctx, env.Client, opts...)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Uninstall() = %v, want the timeout", err)
	}
	for _, part := range []string{traefik.GoneTimeoutName + ": uninstall Traefik from namespace " + ns + ": ", "Namespace " + ns + " (terminating"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("Uninstall() error = %q, want it to contain %q", err, part)
		}
	}
	env.FinalizeNamespace(ctx, ns)
}

// TestInstallRejected: an object the API server rejects fails Install at once, naming it.
func TestInstallRejected(t *testing.T) {
	ctx := t.Context()
	ns, err := env.Namespace(ctx, "traefik-bad")
	if err != nil {
		t.Fatal(err)
	}
	// 29999 is outside the service node port range.
	err = traefik.Install(ctx, env.Client, traefik.WithNamespace(ns), traefik.WithIngressClass(ns), traefik.WithNodePort(29999))
	want := "install Traefik into namespace " + ns + ": apply Service " + ns + "/traefik: "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "29999") {
		t.Errorf("Install() = %v, want an invalid error starting with %q about node port 29999", err, want)
	}
}
