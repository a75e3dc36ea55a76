package stack

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/argocd"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
)

// A Cluster is a cluster running labkit's controller, made ready by a Provider, whatever it is: a kind
// cluster, the Docker-free control plane, a cluster someone already runs. The suite and the tools work
// on it through this interface alone; a new provider is one new file that registers itself.
type Cluster interface {
	// Kubeconfig is the path of a kubeconfig file for the cluster, and KubeContext its context there
	// ("" for the file's current one), for tools that read one: labctl, skaffold.
	Kubeconfig() string
	KubeContext() string
	// RESTConfig and Client reach the cluster's API server.
	RESTConfig() *rest.Config
	Client() client.WithWatch
	// HostAddress is the address at which the cluster's pods reach a server listening on this machine
	// (the GitOps repository).
	HostAddress(ctx context.Context) (string, error)
	// ArgoCD says whether Argo CD runs there (in namespace ArgoCDNamespace).
	ArgoCD() bool
	// Skaffold deploys the controller when the provider runs it in the cluster with skaffold; nil
	// otherwise.
	Skaffold() *skaffold.Skaffold
	// AddFakeNodes adds kwok's fake nodes of the pools and waits until they are Ready; volumes for
	// their pods come from fakenodes.CreateVolumes. A provider that did not make the cluster refuses.
	AddFakeNodes(ctx context.Context, pools ...fakenodes.Pool) error
	// Controller is the controller running there, for measuring it.
	Controller(ctx context.Context) (*Controller, error)
	// Down removes what the provider made. keep asks to leave the cluster running for a look, where
	// it can outlive the process (local processes cannot); a cluster the provider did not make is
	// always left. What was left, and how to reach it, is said on Options.Log.
	Down(ctx context.Context, keep bool) error
}

// A LogExporter is a Cluster that can keep its nodes' logs, e.g. kind's export of them.
type LogExporter interface {
	ExportLogs(dir string) error
}

// A ControllerStarter is a Cluster that runs the controller on this machine and can start more of
// it beside its own, e.g. replicas that elect a leader (--leader-elect). Each gets the args given and
// a log of its own, named after name; the Controller is returned once it answers, its Process set, to
// be stopped or killed by the caller or else by Down.
type ControllerStarter interface {
	StartController(ctx context.Context, name string, args ...string) (*Controller, error)
}

// A Provider makes Clusters. Containers says whether its nodes run real containers (Jupyter, Argo CD,
// skaffold, Delve), Skaffold whether it deploys the controller with skaffold (so that a suite may
// redeploy it), and HostController whether it runs the controller as a process on this machine (so
// that Options.ControllerArgs reach it): known before Up, so that a suite or a benchmark can skip what
// needs them.
type Provider struct {
	Name, Help     string
	Containers     bool
	Skaffold       bool
	HostController bool
	// up is the provider's Up, once the options are checked.
	up func(ctx context.Context, o Options) (Cluster, error)
}

// Up makes the cluster ready, the controller running. On error, a Cluster it returns (not nil) is to
// be taken down by the caller. Controller flags reach only a HostController provider's controller;
// any other refuses them.
func (p Provider) Up(ctx context.Context, o Options) (Cluster, error) {
	if len(o.ControllerArgs) > 0 && !p.HostController {
		return nil, fmt.Errorf("provider %s: controller flags %v cannot be given: its controller runs in the cluster, with the flags of its Deployment (pkg/manifests/controller/deployment.yaml); provider %s runs it on this machine",
			p.Name, o.ControllerArgs, ProviderLocal)
	}
	return p.up(ctx, o)
}

// Options say which cluster a Provider brings up and how it reports.
type Options struct {
	Root string // the project: kind-config.yaml, skaffold.yaml, fixture/ and bin/
	Name string // the cluster's name, where the provider names clusters
	// Kubeconfig names an existing cluster's kubeconfig, for the providers that take one.
	Kubeconfig string
	// HostAddress is where the cluster's pods reach this machine, for a provider that cannot tell.
	HostAddress    string
	ArgoCDManifest string // a file or an http(s) URL; empty for the pinned argo-cd module's
	// ArgoCD are more options for the Argo CD install, e.g. sizing it for many Applications.
	ArgoCD []argocd.Option
	// IngressHostPort is where the host reaches the ingress controller, where the provider installs
	// one; IngressHostPort when 0. Another port lets a second cluster run beside the e2e one.
	IngressHostPort int32
	// RegistryHostPort is the port of the cluster's local registry (skaffold dev pushes there), where
	// the provider runs one; RegistryHostPort when 0.
	RegistryHostPort int32
	// ControllerArgs are more flags for the controller; only a HostController provider takes them.
	ControllerArgs []string
	// New asks for a cluster of the run's own, whose figures are those of a fresh cluster: a provider
	// that would reuse one refuses, and one that makes none (kubeconfig) too.
	New       bool
	Artifacts string // where a provider keeps what it writes, e.g. the log of a controller on the host
	Log       logr.Logger
	Output    io.Writer                          // the tools' output (skaffold)
	Step      func(what string, start time.Time) // told when each step is done; may be nil
}

func (o Options) step(what string, start time.Time) {
	if o.Step != nil {
		o.Step(what, start)
	}
}

var providers = map[string]Provider{}

// register adds a provider; each provider's file calls it from init.
func register(p Provider) {
	if _, dup := providers[p.Name]; dup {
		panic("stack: provider " + p.Name + " registered twice")
	}
	providers[p.Name] = p
}

// Providers are the providers' names, sorted.
func Providers() []string { return slices.Sorted(maps.Keys(providers)) }

// ProviderHelp says what each provider is, for a --provider flag's usage.
func ProviderHelp() string {
	var b strings.Builder
	for _, name := range Providers() {
		fmt.Fprintf(&b, "%s: %s; ", name, providers[name].Help)
	}
	return b.String() + "auto: kind if a Docker engine answers, else local"
}

// LookupProvider is the provider name; an unknown name is an error naming those there are.
func LookupProvider(name string) (Provider, error) {
	p, ok := providers[name]
	if !ok {
		return Provider{}, fmt.Errorf("--provider=%q: want one of %s, or auto", name, strings.Join(Providers(), ", "))
	}
	return p, nil
}
