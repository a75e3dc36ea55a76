package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/manifests"
)

// Env is a running API server with the labkit CRD.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme
	env    *envtest.Environment
}

// Start starts kube-apiserver and etcd from KUBEBUILDER_ASSETS and installs the JupyterLab CRD. Call
// it from TestMain; Stop it when the tests are done.
func Start() (*Env, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, fmt.Errorf("KUBEBUILDER_ASSETS is not set: run `make test`, or `make envtest` and set KUBEBUILDER_ASSETS=%s",
			filepath.Join("bin", "k8s", "v1.35.4"))
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(manifests.CRD(), &crd); err != nil {
		return nil, fmt.Errorf("decode the JupyterLab CRD: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := labkitv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		CRDs:                  []*apiextensionsv1.CustomResourceDefinition{&crd},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start envtest (KUBEBUILDER_ASSETS=%s): %w", os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, env: env}, nil
}

// KubeconfigFile writes a kubeconfig for the API server into dir and returns its path, for code that
// reads one as a person's tools do.
func (e *Env) KubeconfigFile(dir string) (string, error) {
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, e.env.KubeConfig, 0o600); err != nil {
		return "", fmt.Errorf("write the envtest kubeconfig: %w", err)
	}
	return path, nil
}

// Stop stops the API server and etcd.
func (e *Env) Stop() error { return e.env.Stop() }

// Namespace creates a namespace with a unique name made from prefix, and its default ServiceAccount,
// which pods need.
func (e *Env) Namespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", err
	}
	// envtest runs no controller-manager, so nothing makes the default ServiceAccount: make it.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns.Name}}
	if err := e.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	return ns.Name, nil
}

// FinalizeNamespace does what kube-controller-manager's namespace controller does once a namespace
// being deleted is empty, which envtest runs none of: it clears spec.finalizers through the finalize
// subresource. It returns when the namespace is gone or ctx ends; run it beside the deletion.
func (e *Env) FinalizeNamespace(ctx context.Context, name string) {
	_ = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var ns corev1.Namespace
		if err := e.Client.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
			return apierrors.IsNotFound(err), nil
		}
		if ns.DeletionTimestamp != nil {
			ns.Spec.Finalizers = nil
			_ = e.Client.SubResource("finalize").Update(ctx, &ns) // retried until the namespace is gone
		}
		return false, nil
	})
}

// Eventually polls cond every 50ms until it returns true or an error, or timeout passes; on timeout the
// error says what was being waited for and the last reason cond gave.
func Eventually(ctx context.Context, what string, timeout time.Duration, cond func(ctx context.Context) (bool, string, error)) error {
	last := ""
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		// Not under the wait's deadline, as intervals.LookContext: a look in flight when it passes says
		// what it saw, not "would exceed context deadline".
		look, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		ok, why, err := cond(look)
		if why != "" {
			last = why
		}
		return ok, err
	})
	if err != nil {
		return fmt.Errorf("waiting %s for %s: %w; last seen: %s", timeout, what, err, last)
	}
	return nil
}

// Main is a TestMain: it starts an Env, hands it to use (which keeps it in a package variable), runs
// the package's tests, stops the Env and exits with the tests' code.
func Main(m *testing.M, use func(*Env)) {
	env, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	use(env)
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop envtest:", err)
	}
	os.Exit(code)
}
