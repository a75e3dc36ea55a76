//go:build e2e

package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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
	"sigs.k8s.io/e2e-framework/pkg/types"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/harness/evidence"
	"github.com/labkit-dev/labkit/pkg/harness/gitserver"
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
	provider  stack.Provider
	cluster   stack.Cluster
	cfg       *rest.Config
	client    client.Client
	git       *gitserver.Server
	publisher *generator.Publisher

	// slots bounds how many features run at once: testParallel's run side by side, one per slot.
	slots chan struct{}

	mu       sync.Mutex
	failed   bool
	timings  []timing
	cpuMarks []cpuMark // where each part of the run began, in order
	sideBy   sync.Once // marks the first of testParallel's features
}

// cpuMark is the machine's CPU when a part of the run began.
type cpuMark struct {
	what string
	cpu  machineCPU
}

// markCPU notes that the part what begins now; it does nothing where the machine's CPU cannot be read.
func (s *suite) markCPU(what string) {
	m, ok := readMachineCPU()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cpuMarks = append(s.cpuMarks, cpuMark{what, m})
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
	s.markCPU("setup")
	s.log = logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil))
	root, err := filepath.Abs(s.root)
	if err != nil {
		return ctx, err
	}
	s.root = root
	c, err := s.provider.Up(ctx, stack.Options{Root: s.root, Name: stack.ClusterName, Kubeconfig: kubeconfigFlag(cfg),
		HostAddress: *hostAddress, ArgoCDManifest: *argoManifest, Artifacts: s.artifacts,
		Log: s.log, Output: prefixWriter("skaffold: "), Step: s.time})
	if c != nil {
		s.cluster = c // taken down by tearDown, also when a later step failed
		cfg.WithKubeconfigFile(c.Kubeconfig())
	}
	if err != nil {
		return ctx, err
	}
	s.cfg, s.client = c.RESTConfig(), c.Client()
	start := time.Now()
	if err := s.serveGit(ctx); err != nil {
		return ctx, err
	}
	s.time("Git server (and root Application synced)", start)
	s.markCPU("features that run alone")
	return context.WithValue(ctx, suiteKey{}, s), nil
}

// serveGit serves the GitOps repository where the cluster reaches the host, seeds it, and, where Argo
// CD runs, points a root Application (app of apps) at it.
func (s *suite) serveGit(ctx context.Context) error {
	host, err := s.cluster.HostAddress(ctx)
	if err != nil {
		return err
	}
	g, err := stack.ServeGitOps(ctx, s.client, host, s.cluster.ArgoCD(), s.log)
	s.git, s.publisher = g.Server, g.Publisher
	return err
}

func (s *suite) tearDown(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	s.markCPU("teardown")
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
	if c := s.cluster; c != nil {
		// A run removes the cluster it made, also when interrupted; one that failed keeps it for a look.
		keep := *keep
		if s.failed && !interrupted {
			keep = !*deleteOnFailure
			if x, ok := c.(stack.LogExporter); ok {
				dir := filepath.Join(s.artifacts, "kind-logs")
				errs = append(errs, x.ExportLogs(dir))
				fmt.Fprintf(os.Stderr, "a test failed: the nodes' logs are in %s\n", dir)
			}
			if keep {
				fmt.Fprintf(os.Stderr, "a test failed: the cluster is kept for a look where it can be (KUBECONFIG=%s)\n", c.Kubeconfig())
			}
		}
		errs = append(errs, c.Down(context.WithoutCancel(ctx), keep))
	}
	s.markCPU("end")
	s.printTimings()
	return ctx, errors.Join(errs...)
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
	// The machine's CPU in each part: a part near 100% was bound by the cores, not by waiting.
	if marks := s.cpuMarks; len(marks) > 1 {
		b.WriteString("machine CPU (this machine runs the cluster too):\n")
		for i := range len(marks) - 1 {
			fmt.Fprintf(&b, "  %-26s %s\n", marks[i].what+":", cpuSpan(marks[i].cpu, marks[i+1].cpu))
		}
		fmt.Fprintf(&b, "  %-26s %s\n", "whole run:", cpuSpan(marks[0].cpu, marks[len(marks)-1].cpu))
	}
	fmt.Fprint(os.Stderr, "\n"+b.String())
	if err := os.MkdirAll(s.artifacts, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(s.artifacts, "e2e-timings.txt"), []byte(b.String()), 0o644)
	}
}

// test runs the features one after another, before any of testParallel's: for features that change
// what every other feature relies on (the controller, by skaffold) or look at the whole repository.
func test(t *testing.T, fs ...features.Feature) {
	t.Helper()
	testenv.Test(t, withEvidence(fs, false)...)
}

// testParallel runs the features side by side with each other and with those of the other tests that
// call it, as many at once as -features-at-once allows, after every test's features that run alone.
// Each feature has a namespace of its own; a feature that waits for its commit must accept a later
// one (argocd.AtOrAfterRevision), since the others push to the branch too.
func testParallel(t *testing.T, fs ...features.Feature) {
	t.Helper()
	t.Parallel()
	testenv.TestInParallel(t, withEvidence(fs, true)...)
}

// withEvidence gives each feature a first teardown that, when the feature failed, writes evidence to
// artifacts/<test>/ and its digest to the test's output. It runs before the feature's own teardowns,
// which delete its labs and namespace: the hooks after a feature would find them gone. sideBySide
// says the features are testParallel's.
func withEvidence(fs []features.Feature, sideBySide bool) []features.Feature {
	wrapped := make([]features.Feature, len(fs))
	for i, f := range fs {
		steps := slices.Clone(f.Steps())
		first := slices.IndexFunc(steps, func(st types.Step) bool { return st.Level() == types.LevelTeardown })
		if first < 0 {
			first = len(steps)
		}
		steps = slices.Insert(steps, first, types.Step(evidenceStep{}))
		wrapped[i] = withSteps{f, slices.Insert(steps, 0, types.Step(slotStep{f.Name(), sideBySide}))}
	}
	return wrapped
}

// withSteps is a feature with other steps.
type withSteps struct {
	features.Feature
	steps []types.Step
}

func (f withSteps) Steps() []types.Step { return f.steps }

// slotStep is the setup withEvidence puts first: it waits for one of the suite's slots, and frees it
// when the feature ends, also when a step ended it early (t.Fatal skips the steps after it and the
// hooks after the feature). It also times the feature from then, and notes a failure, so the cluster
// is kept for a look.
type slotStep struct {
	feature    string
	sideBySide bool // one of testParallel's
}

func (slotStep) Name() string       { return "a slot among the features running at once" }
func (slotStep) Level() types.Level { return types.LevelSetup }
func (st slotStep) Func() types.StepFunc {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		s := from(ctx)
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			t.Fatalf("feature %q never got to run: %v", st.feature, ctx.Err())
		}
		if st.sideBySide {
			s.sideBy.Do(func() { s.markCPU("features side by side") })
		}
		start := time.Now()
		t.Cleanup(func() {
			<-s.slots
			s.time("feature: "+st.feature, start)
			if t.Failed() {
				s.mu.Lock()
				s.failed = true
				s.mu.Unlock()
			}
		})
		return ctx
	}
}

// evidenceStep is the teardown withEvidence puts first.
type evidenceStep struct{}

func (evidenceStep) Name() string         { return "evidence of a failure" }
func (evidenceStep) Level() types.Level   { return types.LevelTeardown }
func (evidenceStep) Func() types.StepFunc { return collectEvidence }

// collectEvidence writes evidence of a failed feature: the events, the labs, their children and pods
// and their logs in its namespace, Argo CD's and the controller's.
func collectEvidence(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
	if !t.Failed() {
		return ctx
	}
	s := from(ctx)
	namespaces := []string{"argocd", stack.ControllerNamespace}
	ns, hasNamespace := ctx.Value(namespaceKey{}).(string)
	if hasNamespace {
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
	if hasNamespace {
		logDigest(context.WithoutCancel(ctx), t, s.client, dir, ns)
	}
	return ctx
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

// kubeconfigFlag is the --kubeconfig given: e2e-framework's, or controller-runtime's, which registers
// a flag of that name first (e2e-framework then leaves its own unset).
func kubeconfigFlag(cfg *envconf.Config) string {
	if f := flag.Lookup("kubeconfig"); f != nil && cfg.KubeconfigFile() == "" {
		return f.Value.String()
	}
	return cfg.KubeconfigFile()
}
