//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/harness/evidence"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/gitserver"
	"github.com/labkit-dev/labkit/pkg/harness/kindcluster"
	"github.com/labkit-dev/labkit/pkg/harness/localcluster"
	"github.com/labkit-dev/labkit/pkg/harness/localproc"
	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
	"github.com/labkit-dev/labkit/pkg/manifests"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// timeout is the timeout of a named wait of the run's one table, stack.Waits (which the
// -interval-scale and -intervals flags stretch); stack.Waits.Until waits with it.
func timeout(name string) time.Duration { return stack.Waits.Timeout(name) }

// suite is the environment the features share; setUp makes it, tearDown undoes what it made.
type suite struct {
	root, artifacts string
	interrupted     <-chan struct{}

	log       logr.Logger
	provider  string
	cluster   *kindcluster.Cluster  // on kind
	local     *localcluster.Cluster // on the Docker-free provider
	ctrl      *localproc.Process    // the controller, on the Docker-free provider
	ctrlLog   *os.File
	cfg       *rest.Config
	client    client.Client
	git       *gitserver.Server
	publisher *generator.Publisher
	skaffold  *skaffold.Skaffold

	mu      sync.Mutex
	failed  bool
	timings []timing
}

type timing struct {
	what string
	took time.Duration
}

func (s *suite) time(what string, start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timings = append(s.timings, timing{what, time.Since(start)})
}

type suiteKey struct{}

// from returns the suite that setUp put in ctx.
func from(ctx context.Context) *suite { return ctx.Value(suiteKey{}).(*suite) }

func (s *suite) path(rel string) string { return filepath.Join(s.root, rel) }

func (s *suite) setUp(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
	s.log = logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil))
	root, err := filepath.Abs(s.root)
	if err != nil {
		return ctx, err
	}
	s.root = root
	setUp := s.setUpKind
	if s.provider == stack.ProviderLocal {
		setUp = s.setUpLocal
	}
	if err := setUp(ctx, cfg); err != nil {
		return ctx, err
	}
	start := time.Now()
	if err := s.serveGit(ctx); err != nil {
		return ctx, err
	}
	s.time("Git server (and root Application synced)", start)
	return context.WithValue(ctx, suiteKey{}, s), nil
}

// setUpKind makes (or reuses) the kind cluster, deploys the controller with skaffold and installs Argo CD.
func (s *suite) setUpKind(ctx context.Context, cfg *envconf.Config) error {
	k, err := stack.UpKind(ctx, stack.KindOptions{Root: s.root, Name: stack.ClusterName, ArgoCDManifest: *argoManifest,
		Log: s.log, Output: prefixWriter("skaffold: "), Step: s.time})
	if k.Cluster != nil {
		s.cluster = k.Cluster
		cfg.WithKubeconfigFile(k.Cluster.Kubeconfig)
	}
	if err != nil {
		return err
	}
	s.cfg, s.client, s.skaffold = k.Config, k.Client, k.Skaffold
	return nil
}

// setUpLocal starts the Docker-free cluster, fakes the kind config's workers on it with kwok, and
// runs the controller on the host. Nothing runs Argo CD there: the features that need it are skipped.
func (s *suite) setUpLocal(ctx context.Context, cfg *envconf.Config) error {
	start := time.Now()
	c, err := localcluster.Start(ctx, localcluster.WithLogger(s.log))
	if err != nil {
		return err
	}
	s.local = c
	cfg.WithKubeconfigFile(c.Kubeconfig)
	if err := s.connect(c.Config); err != nil {
		return err
	}
	nodes, err := fakenodes.LoadFile(s.path("kind-config.yaml"), stack.ClusterName)
	if err != nil {
		return err
	}
	if err := fakenodes.Create(ctx, s.client, nodes.Workers...); err != nil {
		return err
	}
	if err := fakenodes.WaitReady(ctx, s.client, timeout("wait-nodes-ready"), nodes.Workers...); err != nil {
		return err
	}
	// Every feature's lab gets a volume of its own; released ones are not reused.
	if err := fakenodes.CreateVolumes(ctx, s.client, "e2e", 50, true); err != nil {
		return err
	}
	s.time("local cluster up, kind's workers faked by kwok", start)

	start = time.Now()
	if _, err := apply.Apply(ctx, s.client, manifests.CRD()); err != nil {
		return err
	}
	bin := s.path("bin/labkit-controller")
	if err := localproc.Build(ctx, s.root, "./cmd/labkit-controller", bin); err != nil {
		return err
	}
	if err := os.MkdirAll(s.artifacts, 0o755); err != nil {
		return err
	}
	if s.ctrlLog, err = os.Create(filepath.Join(s.artifacts, "labkit-controller.log")); err != nil {
		return err
	}
	s.ctrl, err = localproc.Start(ctx, bin, []string{"--health-probe-bind-address=0"}, []string{"KUBECONFIG=" + c.Kubeconfig}, s.ctrlLog)
	if err != nil {
		return err
	}
	s.time("controller built and started on the host", start)
	return nil
}

// kubeconfig is the path of the cluster's kubeconfig, for tools that read one.
func (s *suite) kubeconfig() string {
	if s.local != nil {
		return s.local.Kubeconfig
	}
	return s.cluster.Kubeconfig
}

// connect makes the suite's client.
func (s *suite) connect(cfg *rest.Config) error {
	s.cfg = cfg
	var err error
	s.client, err = stack.NewClient(cfg)
	return err
}

// serveGit serves the GitOps repository where the cluster reaches the host, seeds it, and, where Argo
// CD runs, points a root Application (app of apps) at it.
func (s *suite) serveGit(ctx context.Context) error {
	host := "127.0.0.1"
	if s.provider == stack.ProviderKind {
		gw, err := kindcluster.GatewayAddress(ctx)
		if err != nil {
			return err
		}
		host = gw
	}
	g, err := stack.ServeGitOps(ctx, s.client, host, s.provider == stack.ProviderKind, s.log)
	s.git, s.publisher = g.Server, g.Publisher
	return err
}

func (s *suite) tearDown(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	var errs []error
	if s.git != nil {
		errs = append(errs, s.git.Close())
	}
	interrupted := false
	select {
	case <-s.interrupted:
		interrupted = true
	default:
	}
	if s.local != nil {
		errs = append(errs, s.stopLocal())
	}
	switch c := s.cluster; {
	case c == nil:
	case s.failed && !interrupted:
		dir := filepath.Join(s.artifacts, "kind-logs")
		errs = append(errs, c.ExportLogs(dir))
		if c.Created && *deleteOnFailure {
			errs = append(errs, c.Down())
		} else {
			fmt.Fprintf(os.Stderr, "a test failed: cluster %s kept for a look (KUBECONFIG=%s), kind's logs in %s\n", c.Name, c.Kubeconfig, dir)
		}
	case c.Created && !*keep:
		// A run that made the cluster removes it, also when interrupted; a reused one stays.
		errs = append(errs, c.Down())
	}
	s.printTimings()
	return ctx, errors.Join(errs...)
}

// stopLocal stops the controller and the Docker-free cluster: local processes cannot outlive the run.
func (s *suite) stopLocal() error {
	var errs []error
	if s.ctrl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		errs = append(errs, s.ctrl.Stop(ctx), s.ctrlLog.Close())
	}
	errs = append(errs, s.local.Stop())
	if s.failed && s.ctrlLog != nil {
		fmt.Fprintf(os.Stderr, "a test failed: the controller's log is %s\n", s.ctrlLog.Name())
	}
	return errors.Join(errs...)
}

// printTimings prints how long each phase and feature took, and keeps it in artifacts/e2e-timings.txt.
func (s *suite) printTimings() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	b.WriteString("phase timings:\n")
	for _, t := range s.timings {
		fmt.Fprintf(&b, "  %-70s %6.1fs\n", t.what, t.took.Seconds())
	}
	fmt.Fprint(os.Stderr, "\n"+b.String())
	if err := os.MkdirAll(s.artifacts, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(s.artifacts, "e2e-timings.txt"), []byte(b.String()), 0o644)
	}
}

type featureStartKey struct{}

func (s *suite) beforeFeature(ctx context.Context, _ *envconf.Config, _ *testing.T, _ features.Feature) (context.Context, error) {
	return context.WithValue(ctx, featureStartKey{}, time.Now()), nil
}

// afterFeature times the feature and, when it failed, writes evidence to artifacts/<test>/.
func (s *suite) afterFeature(ctx context.Context, _ *envconf.Config, t *testing.T, f features.Feature) (context.Context, error) {
	if start, ok := ctx.Value(featureStartKey{}).(time.Time); ok {
		s.time("feature: "+f.Name(), start)
	}
	if !t.Failed() {
		return ctx, nil
	}
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
	namespaces := []string{"argocd", stack.ControllerNamespace}
	if ns, ok := ctx.Value(namespaceKey{}).(string); ok {
		namespaces = append(namespaces, ns)
	}
	dir := filepath.Join(s.artifacts, strings.ReplaceAll(t.Name(), "/", "_"))
	err := evidence.Collect(context.WithoutCancel(ctx), s.cfg, dir,
		evidence.WithNamespaces(namespaces...),
		evidence.WithKinds(
			labkitv1alpha1.GroupVersion.WithKind("JupyterLab"),
			appsv1.SchemeGroupVersion.WithKind("Deployment"),
			corev1.SchemeGroupVersion.WithKind("Pod"),
			corev1.SchemeGroupVersion.WithKind("Service"),
			corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"),
			schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"},
		),
		evidence.WithPodLogs(stack.ControllerNamespace, stack.ControllerSelector))
	t.Logf("evidence in %s (%v)", dir, err)
	return ctx, nil
}

// prefixWriter writes each chunk of a tool's output to stderr with a prefix.
type prefixWriter string

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			fmt.Fprint(os.Stderr, string(p)+line)
		}
	}
	if !strings.HasSuffix(string(b), "\n") {
		fmt.Fprintln(os.Stderr)
	}
	return len(b), nil
}
