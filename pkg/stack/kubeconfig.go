package stack

import (
	"context"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
)

func init() {
	register(Provider{
		Name: ProviderKubeconfig, Containers: true,
		Help: "a cluster that already runs labkit's controller (e.g. a real GPU cluster), from --kubeconfig or $KUBECONFIG; it makes and removes nothing, and needs the address its pods reach this machine at",
		up:   upKubeconfig,
	})
}

// existing is the kubeconfig provider's Cluster: a cluster it found, not made.
type existing struct {
	path, context, host string
	cfg                 *rest.Config
	client              client.WithWatch
	argo                bool
	log                 logr.Logger
}

func upKubeconfig(ctx context.Context, o Options) (Cluster, error) {
	if o.New {
		return nil, fmt.Errorf("provider %s runs on a cluster someone else made, and this run needs one of its own (it adds fake nodes and fills their GPUs): use provider %s or %s", ProviderKubeconfig, ProviderKind, ProviderLocal)
	}
	if o.Kubeconfig != "" {
		if _, err := os.Stat(o.Kubeconfig); err != nil {
			return nil, fmt.Errorf("provider %s: --kubeconfig %s: no such file; give the kubeconfig of the cluster to run on", ProviderKubeconfig, o.Kubeconfig)
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := loader.ClientConfig()
	switch {
	case clientcmd.IsEmptyConfig(err):
		return nil, fmt.Errorf("provider %s: no kubeconfig found (--kubeconfig FILE, $KUBECONFIG or ~/.kube/config): give the one of the cluster to run on", ProviderKubeconfig)
	case err != nil:
		return nil, fmt.Errorf("provider %s: read the kubeconfig: %w", ProviderKubeconfig, err)
	}
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, err
	}
	path := o.Kubeconfig
	if path == "" {
		path = rules.GetDefaultFilename()
	}
	if o.HostAddress == "" {
		return nil, fmt.Errorf("provider %s: give the address at which the cluster's pods reach this machine (--host-address), where the suite serves its Git repository", ProviderKubeconfig)
	}
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(c.Scheme()); err != nil {
		return nil, err
	}
	e := &existing{path: path, context: raw.CurrentContext, host: o.HostAddress, cfg: cfg, client: c, log: o.Log}
	// labkit must run there already: this provider installs nothing.
	crd := &apiextensionsv1.CustomResourceDefinition{}
	name := schema.GroupResource{Group: labkitv1alpha1.GroupVersion.Group, Resource: "jupyterlabs"}.String()
	if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
		return nil, fmt.Errorf("provider %s: cluster of context %q has no JupyterLab API (%v): install labkit there first (labctl manifests | kubectl apply -f -)", ProviderKubeconfig, e.context, err)
	}
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ControllerNamespace, Name: "labkit-controller"}, dep); err != nil {
		return nil, fmt.Errorf("provider %s: cluster of context %q runs no labkit controller (Deployment %s/labkit-controller: %v)", ProviderKubeconfig, e.context, ControllerNamespace, err)
	}
	err = c.Get(ctx, client.ObjectKey{Name: "applications.argoproj.io"}, &apiextensionsv1.CustomResourceDefinition{})
	switch {
	case err == nil:
		e.argo = true
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	return e, nil
}

func (e *existing) Kubeconfig() string           { return e.path }
func (e *existing) KubeContext() string          { return e.context }
func (e *existing) RESTConfig() *rest.Config     { return e.cfg }
func (e *existing) Client() client.WithWatch     { return e.client }
func (e *existing) ArgoCD() bool                 { return e.argo }
func (e *existing) Skaffold() *skaffold.Skaffold { return nil } // its controller is not ours to redeploy

func (e *existing) HostAddress(context.Context) (string, error) { return e.host, nil }

// AddFakeNodes refuses: fake nodes are not for a cluster someone else made.
func (e *existing) AddFakeNodes(context.Context, ...fakenodes.Pool) error {
	return fmt.Errorf("provider %s adds no fake nodes to a cluster it did not make (context %q)", ProviderKubeconfig, e.context)
}

// Controller is the controller's pod there.
func (e *existing) Controller(ctx context.Context) (*Controller, error) {
	return inClusterController(ctx, e.cfg, e.client)
}

// Down leaves the cluster as it was found.
func (e *existing) Down(context.Context, bool) error {
	e.log.Info("The existing cluster is left as it was", "context", e.context)
	return nil
}
