package stack

import (
	"cmp"
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/kindcluster"
	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
)

func init() {
	register(Provider{
		Name: ProviderKind, Containers: true, Skaffold: true,
		Help: "a kind cluster from kind-config.yaml (needs Docker), reused when one from the same config exists, with the controller deployed by skaffold, Argo CD and Traefik",
		up: func(ctx context.Context, o Options) (Cluster, error) {
			if o.New {
				if ok, err := kindcluster.Exists(o.Name); err != nil {
					return nil, err
				} else if ok {
					return nil, fmt.Errorf("kind cluster %q exists, and this run makes a fresh one and deletes it after: delete it (bin/kind delete cluster --name %s) or name another", o.Name, o.Name)
				}
			}
			k, err := UpKind(ctx, KindOptions{Root: o.Root, Name: o.Name, ArgoCDManifest: o.ArgoCDManifest, ArgoCD: o.ArgoCD,
				IngressHostPort: o.IngressHostPort, RegistryHostPort: cmp.Or(o.RegistryHostPort, RegistryHostPort),
				Log: o.Log, Output: o.Output, Step: o.Step})
			if k.Cluster == nil {
				return nil, err
			}
			return &kindStack{k: k, log: o.Log}, err
		},
	})
}

// kindStack is the kind provider's Cluster: what UpKind brought up.
type kindStack struct {
	k   *Kind
	log logr.Logger
}

func (c *kindStack) Kubeconfig() string           { return c.k.Cluster.Kubeconfig }
func (c *kindStack) KubeContext() string          { return c.k.Cluster.KubeContext() }
func (c *kindStack) RESTConfig() *rest.Config     { return c.k.Config }
func (c *kindStack) Client() client.WithWatch     { return c.k.Client }
func (c *kindStack) ArgoCD() bool                 { return true }
func (c *kindStack) Skaffold() *skaffold.Skaffold { return c.k.Skaffold }
func (c *kindStack) ExportLogs(dir string) error  { return c.k.Cluster.ExportLogs(dir) }

// AddFakeNodes preloads kwok's image into the nodes from the local Docker (no registry need be
// reachable), then installs kwok in the cluster and creates the nodes.
func (c *kindStack) AddFakeNodes(ctx context.Context, pools ...fakenodes.Pool) error {
	absent, err := c.k.Cluster.LoadImages(ctx, fakenodes.KwokImage)
	if err != nil {
		return err
	}
	for _, img := range absent {
		c.log.Info("Image not in the local Docker, nodes will pull it", "image", img)
	}
	if err := fakenodes.Add(ctx, c.k.Config, Waits.Timeout("wait-nodes-ready"), pools...); err != nil {
		return fmt.Errorf("cluster %q: %w", c.k.Cluster.Name, err)
	}
	return nil
}

// Controller is the pod skaffold deployed.
func (c *kindStack) Controller(ctx context.Context) (*Controller, error) {
	return inClusterController(ctx, c.k.Config, c.k.Client)
}

// HostAddress is the kind network's gateway: the host, as the nodes see it.
func (c *kindStack) HostAddress(ctx context.Context) (string, error) {
	return kindcluster.GatewayAddress(ctx)
}

// Down deletes the cluster if UpKind made it and it is not to be kept; a reused cluster stays.
func (c *kindStack) Down(_ context.Context, keep bool) error {
	kc := c.k.Cluster
	if !kc.Created || keep {
		c.log.Info("Kind cluster kept", "cluster", kc.Name, "KUBECONFIG", kc.Kubeconfig)
		return nil
	}
	return kc.Down()
}
