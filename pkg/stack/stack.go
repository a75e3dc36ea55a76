package stack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/controller"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/harness/argocd"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/gitserver"
	"github.com/labkit-dev/labkit/pkg/harness/kindcluster"
	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
	"github.com/labkit-dev/labkit/pkg/harness/traefik"
)

// The GitOps repository the harness serves, and the Argo CD Application (app of apps) that syncs it.
const (
	RepoName = "labs"
	Branch   = "main"
	RootApp  = "labs"
)

// Where Argo CD and the controller run (pkg/manifests), and the controller's pods.
const (
	ArgoCDNamespace     = "argocd"
	ControllerNamespace = "labkit-system"
	ControllerSelector  = "app.kubernetes.io/name=labkit-controller"
)

// The cluster providers: kind, the Docker-free local control plane, an existing cluster from a
// kubeconfig, or auto: kind or local, whichever the machine can run.
const (
	ProviderAuto       = "auto"
	ProviderKind       = "kind"
	ProviderLocal      = "local"
	ProviderKubeconfig = "kubeconfig"
)

// ChooseProvider resolves a --provider flag: auto is kind when a Docker engine answers, else local.
// It says on stderr, after who, which provider runs and why.
func ChooseProvider(ctx context.Context, who, flagValue string) (string, error) {
	if flagValue != ProviderAuto && flagValue != "" {
		if _, err := LookupProvider(flagValue); err != nil {
			return "", err
		}
		fmt.Fprintf(os.Stderr, "%s: provider %s (--provider=%s)\n", who, flagValue, flagValue)
		return flagValue, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: provider local: no Docker engine answers (docker version: %v: %s); --provider=kind forces kind\n",
			who, err, strings.TrimSpace(string(out)))
		return ProviderLocal, nil
	}
	fmt.Fprintf(os.Stderr, "%s: provider kind: Docker engine %s answers; --provider=local runs without it\n", who, strings.TrimSpace(string(out)))
	return ProviderKind, nil
}

// NewClient is a client for labkit's and Kubernetes' own types.
func NewClient(cfg *rest.Config) (client.WithWatch, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := labkitv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: scheme})
}

// Kind is what the harness brings up on kind: the cluster, the controller (deployed by skaffold) and
// Argo CD.
type Kind struct {
	Cluster  *kindcluster.Cluster
	Config   *rest.Config
	Client   client.WithWatch
	Skaffold *skaffold.Skaffold
}

// KindOptions say which cluster UpKind brings up and how it reports.
type KindOptions struct {
	Root           string          // the project: kind-config.yaml, skaffold.yaml and bin/
	Name           string          // the kind cluster
	ArgoCDManifest string          // a file or an http(s) URL; empty for the pinned argo-cd module's
	ArgoCD         []argocd.Option // more, e.g. sizing it for many Applications
	// IngressHostPort is where the host reaches the ingress controller; IngressHostPort when 0. Another
	// port than kind-config.yaml's lets a second cluster run beside the e2e one.
	IngressHostPort int32
	// RegistryHostPort gives the cluster a local registry at localhost:RegistryHostPort, which
	// skaffold dev pushes its rebuilds to (kindcluster.WithLocalRegistry); none when 0.
	RegistryHostPort int32
	Log              logr.Logger
	Output           io.Writer                          // skaffold's output
	Step             func(what string, start time.Time) // told when each step is done; may be nil
}

// RegistryHostPort is the port of the e2e cluster's local registry: make dev pushes to localhost:5001,
// the port of kind's documentation.
const RegistryHostPort int32 = 5001

func (o KindOptions) path(rel string) string { return filepath.Join(o.Root, rel) }

func (o KindOptions) step(what string, start time.Time) {
	if o.Step != nil {
		o.Step(what, start)
	}
}

// UpKind makes (or reuses) the kind cluster, preloads Images, deploys the controller with skaffold,
// installs Argo CD and the ingress controller, and points the controller's ingress settings at it. Its
// Cluster is set as soon as the cluster exists, also when a later step fails, so that the caller can
// clean it up.
func UpKind(ctx context.Context, o KindOptions) (*Kind, error) {
	k := &Kind{}
	start := time.Now()
	hostPort := cmp.Or(o.IngressHostPort, IngressHostPort)
	kindOpts := []kindcluster.Option{kindcluster.WithConfigFile(o.path("kind-config.yaml")), kindcluster.WithLogger(o.Log)}
	if hostPort != IngressHostPort {
		kindOpts = append(kindOpts, kindcluster.WithHostPort(IngressNodePort, hostPort))
	}
	if o.RegistryHostPort != 0 {
		kindOpts = append(kindOpts, kindcluster.WithLocalRegistry(o.RegistryHostPort))
	}
	c, err := kindcluster.Up(ctx, o.Name, kindOpts...)
	k.Cluster = c
	if err != nil {
		return k, err
	}
	if k.Config, err = c.RESTConfig(); err != nil {
		return k, err
	}
	if k.Client, err = NewClient(k.Config); err != nil {
		return k, err
	}
	if err := fakenodes.AdvertiseGPUs(ctx, k.Client); err != nil {
		return k, err
	}
	o.step("cluster up ("+map[bool]string{true: "created", false: "reused"}[c.Created]+")", start)

	start = time.Now()
	absent, err := c.LoadImages(ctx, Images...)
	if err != nil {
		return k, err
	}
	for _, img := range absent {
		o.Log.Info("Image not in the local Docker; nodes will pull it", "image", img)
	}
	o.step("images preloaded", start)

	start = time.Now()
	skaffoldOpts := []skaffold.Option{skaffold.WithDir(o.Root), skaffold.WithBinary(o.path("bin/skaffold")),
		skaffold.WithPath(o.path("bin")), skaffold.WithCluster(c.Kubeconfig, c.KubeContext()),
		skaffold.WithOutput(o.Output)}
	if o.RegistryHostPort != 0 {
		skaffoldOpts = append(skaffoldOpts, skaffold.WithDefaultRepo("localhost:"+strconv.Itoa(int(o.RegistryHostPort))))
	}
	k.Skaffold = skaffold.New(skaffoldOpts...)
	if err := k.Skaffold.Run(ctx); err != nil {
		return k, err
	}
	o.step("controller deployed (skaffold run)", start)

	start = time.Now()
	argoOpts := []argocd.Option{
		argocd.WithHealthCheck(labkitv1alpha1.GroupVersion.Group, "JupyterLab", argocd.HealthCheckFromConditions(labkitv1alpha1.ConditionReady,
			labkitv1alpha1.ReasonStopped, labkitv1alpha1.ReasonIdle, labkitv1alpha1.ReasonExpired)),
		argocd.WithReadyTimeout(Waits.Timeout("wait-argocd-ready")), argocd.WithLogger(o.Log),
	}
	switch m := o.ArgoCDManifest; {
	case strings.HasPrefix(m, "http://"), strings.HasPrefix(m, "https://"):
		argoOpts = append(argoOpts, argocd.WithManifestURL(m))
	case m != "":
		argoOpts = append(argoOpts, argocd.WithManifestFile(m))
	}
	// Argo CD and the ingress controller do not depend on each other: install them side by side.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := argocd.Install(gctx, k.Client, append(argoOpts, o.ArgoCD...)...); err != nil {
			return err
		}
		o.step("Argo CD ready", start)
		return nil
	})
	g.Go(func() error {
		start := time.Now()
		if err := InstallIngress(gctx, k.Client, hostPort, o.Log); err != nil {
			return err
		}
		o.step("ingress controller ready, labs at http://<lab>.<namespace>."+IngressDomain+":"+strconv.Itoa(int(hostPort))+"/", start)
		return nil
	})
	return k, g.Wait()
}

// The ingress: Traefik's web entrypoint is node port IngressNodePort of every node, which
// kind-config.yaml maps to 127.0.0.1:IngressHostPort; labs get hosts under IngressDomain, which
// browsers resolve to the loopback address.
const (
	IngressNodePort int32 = 30080
	IngressHostPort int32 = 38080
	IngressDomain         = "localhost"
)

// InstallIngress installs Traefik, pinned, and sets the controller's settings so that every lab gets
// an Ingress at <lab>.<namespace>.localhost, reached on hostPort. The settings are written with
// server-side apply, so skaffold applying the install manifests again (make dev) keeps them.
func InstallIngress(ctx context.Context, c client.Client, hostPort int32, log logr.Logger) error {
	if err := traefik.Install(ctx, c, traefik.WithNodePort(IngressNodePort), traefik.WithLogger(log)); err != nil {
		return err
	}
	settings := fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: %s, namespace: %s}
data:
  %s: %s
  %s: %s
  %s: "%d"
`, controller.DefaultSettings.Name, controller.DefaultSettings.Namespace,
		controller.SettingIngressDomain, IngressDomain, controller.SettingIngressClassName, traefik.DefaultIngressClass,
		controller.SettingIngressPort, hostPort)
	if _, err := apply.Apply(ctx, c, []byte(settings)); err != nil {
		return fmt.Errorf("set the controller's ingress settings: %w", err)
	}
	return nil
}

// GitOps is the repository the harness serves, and the publisher that writes labs to it as labctl does.
type GitOps struct {
	Server    *gitserver.Server
	Publisher *generator.Publisher
	Seed      string // the first commit
}

// ServeGitOps serves the GitOps repository on host (an address the cluster reaches the host at) and
// seeds it (SeedGitOps). The caller closes Server, also on error when it is set.
func ServeGitOps(ctx context.Context, c client.Client, host string, argo bool, log logr.Logger) (*GitOps, error) {
	g := &GitOps{}
	var err error
	if g.Server, err = gitserver.Start(ctx, gitserver.WithAddress(host+":0"), gitserver.WithLogger(log)); err != nil {
		return g, err
	}
	url, err := g.Server.CreateRepo(RepoName)
	if err != nil {
		return g, err
	}
	g.Publisher, g.Seed, err = SeedGitOps(ctx, c, url, url, argo)
	return g, err
}

// SeedGitOps makes the first commit of the repository at pushURL, if it has none, and returns the
// publisher that writes labs to it as labctl does, for Argo CD reading it at argoURL. With argo, it
// points the root Application at it and waits until Argo CD has synced the branch.
func SeedGitOps(ctx context.Context, c client.Client, pushURL, argoURL string, argo bool) (*generator.Publisher, string, error) {
	repo, err := gitops.New(pushURL, Branch, gitops.WithAuthor("labkit e2e", "e2e@labkit.dev"))
	if err != nil {
		return nil, "", err
	}
	var seed string
	seeded, err := repo.Commit(ctx, "Start the GitOps repository", func(*gitops.Tree) ([]gitops.Change, error) {
		return []gitops.Change{
			{Path: "README.md", Content: []byte("Labs, written by labctl; synced by Argo CD (docs/gitops-layout.md of labkit).\n")},
			// The root Application syncs apps/, which must exist before the first lab.
			{Path: generator.AppsDir + "/README.md", Content: []byte("One Argo CD Application per lab.\n")},
		}, nil
	})
	switch {
	case errors.Is(err, gitops.ErrNoChanges): // seeded before: a repository kept from an earlier run
	case err != nil:
		return nil, "", err
	default:
		seed = seeded.Commit
	}
	target := generator.Target{RepoURL: argoURL, Revision: Branch}
	pub := &generator.Publisher{Repo: repo, Target: target}
	if !argo {
		return pub, seed, nil
	}
	root, err := generator.RenderRootApplication(RootApp, target)
	if err != nil {
		return pub, seed, err
	}
	if _, err := apply.Apply(ctx, c, root); err != nil {
		return pub, seed, err
	}
	var waitOpts []argocd.WaitOption
	if seed != "" {
		waitOpts = append(waitOpts, argocd.AtRevision(seed))
	}
	_, err = argocd.WaitForApplication(ctx, c, ArgoCDNamespace, RootApp, append(waitOpts, argocd.WaitTimeout("wait-root-app-synced", Waits.Timeout("wait-app-synced")))...)
	return pub, seed, err
}
