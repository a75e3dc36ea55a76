//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/labkit-dev/labkit/pkg/harness/intervals"
	"github.com/labkit-dev/labkit/pkg/stack"
)

var (
	keep            = flag.Bool("keep", false, "keep the cluster after the run (a cluster the run reused is always kept)")
	deleteOnFailure = flag.Bool("delete-on-failure", false, "delete the cluster the run made even when a test failed; by default it is kept, with kind's logs exported")
	artifactsDir    = flag.String("artifacts", "../artifacts", "where failing tests leave their evidence")
	projectRoot     = flag.String("root", "..", "the project: kind-config.yaml, skaffold.yaml and fixture/")
	argoManifest    = flag.String("argocd-manifest", "", "Argo CD install manifest, a file or an http(s) URL, instead of the pinned argo-cd module's core-install.yaml")
	intervalFlags   = intervals.AddFlags(flag.CommandLine) // stretch stack.Waits
	providerFlag    = flag.String("provider", stack.ProviderAuto, "where to run: "+stack.ProviderHelp())
	// Five at once by default: with four the machine was 55-63% busy in that part of a warm run; each
	// one more asks for more of the 2 CPUs of kind's one node without GPUs, where the CPU-only labs
	// go (1.33 and 1.48 of them asked for at the peak in two warm runs with five, sampled).
	featuresAtOnce = flag.Int("features-at-once", 5, "how many features run side by side (those that restart the controller always run alone); 1 runs them one after another")
	hostAddress    = flag.String("host-address", "", "with --provider=kubeconfig: the address at which the cluster's pods reach this machine, where the suite serves its Git repository")
)

var testenv env.Environment

// TestMain owns the environment: the kind cluster with fake GPUs, the controller through skaffold,
// Argo CD, and a Git server it syncs from. Setup fails fast; Finish always runs, on Ctrl-C too.
func TestMain(m *testing.M) {
	cfg, err := envconf.NewFromFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if stack.Waits, err = intervalFlags.Apply(stack.Waits); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	name, err := stack.ChooseProvider(ctx, "e2e", *providerFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	provider, err := stack.LookupProvider(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	skip := cfg.SkipLabels()
	if skip == nil {
		skip = map[string][]string{}
	}
	if !provider.Containers {
		// Fake nodes run no containers: Jupyter, skaffold, Delve and Argo CD cannot run there.
		skip[labelNeeds] = append(skip[labelNeeds], needsContainers)
		fmt.Fprintf(os.Stderr, "e2e: skipping the features labelled %s=%s (real containers: Jupyter over HTTP, skaffold, Delve, Argo CD)\n", labelNeeds, needsContainers)
	}
	if !provider.Skaffold {
		skip[labelNeeds] = append(skip[labelNeeds], needsSkaffold)
		fmt.Fprintf(os.Stderr, "e2e: skipping the features labelled %s=%s (they redeploy the controller with skaffold)\n", labelNeeds, needsSkaffold)
	}
	cfg.WithSkipLabels(skip)
	if *featuresAtOnce < 1 {
		fmt.Fprintf(os.Stderr, "e2e: -features-at-once %d: give 1 (one after another) or more\n", *featuresAtOnce)
		os.Exit(2)
	}
	cfg.WithParallelTestEnabled() // testParallel's features; the -features-at-once slots bound them
	testenv, err = env.NewWithContext(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s := &suite{root: *projectRoot, artifacts: *artifactsDir, provider: provider, interrupted: ctx.Done(),
		slots: make(chan struct{}, *featuresAtOnce)}
	testenv.Setup(s.setUp).Finish(s.tearDown)
	code := testenv.Run(m)
	stop()
	os.Exit(code)
}
