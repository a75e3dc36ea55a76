// Command benchdev is `make bench-dev`: it measures the inner loop of `make dev`, from saving a .go
// file to the new controller code running in the cluster, and prints min, median and max of each part.
// It is a benchmark, not a test: it fails only when something breaks, never on time.
//
// It brings up (or reuses) the kind cluster as make e2e does, runs `skaffold dev` on a copy of the
// project, and edits the controller's version --edits times. For each edit it times, from the save:
// skaffold seeing the change (it prints "Generating tags"), the controller compiled and its image
// built and pushed to the cluster's local registry (skaffold.yaml's host-build profile says each), the
// manifests applied ("Waiting for deployments to stabilize"), the new controller rolled out
// ("Deployments stabilized"), and a ready pod of it logging the new version. The project's own controller is deployed again at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/labkit-dev/labkit/pkg/harness/intervals"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// The parts of one edit, each ending when skaffold or the host-build profile's build (labkit-harness image
// build) prints its line, or, for the last, when the new pod logs the new version.
var parts = []struct {
	name string
	re   *regexp.Regexp
}{
	{"change seen", regexp.MustCompile(`Generating tags`)},
	{"compiled (go build on this machine)", regexp.MustCompile(`compiled \./cmd/labkit-controller`)},
	{"image built", regexp.MustCompile(`built image `)},
	{"image pushed to the local registry", regexp.MustCompile(`pushed image `)},
	{"manifests applied", regexp.MustCompile(`Waiting for deployments to stabilize`)},
	{"rolled out", regexp.MustCompile(`Deployments stabilized|Watching for changes`)},
}

const lastPart = "new code running"

func main() {
	root := flag.String("root", ".", "the project: kind-config.yaml, skaffold.yaml, cmd/ and pkg/")
	edits := flag.Int("edits", 5, "how many edits to time")
	keep := flag.Bool("keep-cluster", false, "keep the cluster after the run where the run made it (one it reused is always kept), for make dev or make e2e to reuse")
	debug := flag.Bool("debug", false, "time make debug's loop instead: the command to Delve stopped in Reconcile, and each edit to Delve stopped there again")
	waits := intervals.AddFlags(flag.CommandLine)
	flag.Parse()
	var err error
	if stack.Waits, err = waits.Apply(stack.Waits); err != nil {
		fmt.Fprintln(os.Stderr, "bench-dev:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *root, *edits, *debug, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench-dev:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, root string, edits int, debug, keep bool) (err error) {
	if edits < 1 {
		return fmt.Errorf("--edits %d: want at least 1", edits)
	}
	if root, err = filepath.Abs(root); err != nil {
		return err
	}
	log := logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil))
	p, err := stack.LookupProvider(stack.ProviderKind)
	if err != nil {
		return err
	}
	c, err := p.Up(ctx, stack.Options{Root: root, Name: stack.ClusterName, Log: log, Output: os.Stderr,
		Step: func(what string, start time.Time) {
			fmt.Fprintf(os.Stderr, "bench-dev: %s: %.1f s\n", what, time.Since(start).Seconds())
		}})
	if c != nil {
		defer func() { err = errors.Join(err, c.Down(context.WithoutCancel(ctx), keep)) }() // a reused cluster is always kept
	}
	if err != nil {
		return err
	}

	work, err := os.MkdirTemp("", "labkit-bench-dev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := stack.CopyProject(root, work); err != nil {
		return err
	}
	verb, args := "dev", []string{"--cleanup=false"} // stopping must not delete the CRD, and with it every lab
	if debug {
		// --auto-build --auto-deploy, as make debug: skaffold debug, unlike dev, otherwise leaves an edit alone.
		verb, args = "debug", append(args, "--port-forward", "--auto-build", "--auto-deploy")
	}
	started := time.Now()
	session, err := c.Skaffold().In(work).Start(ctx, verb, args...)
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, session.Stop(context.WithoutCancel(ctx)))
		// The project's own controller again, as make e2e expects it.
		err = errors.Join(err, c.Skaffold().Run(context.WithoutCancel(ctx)))
	}()
	if debug {
		took, err := runDebug(ctx, c, session, root, work, edits, started)
		if err != nil {
			return err
		}
		reportDebug(os.Stdout, edits, took)
		return nil
	}
	if _, err := session.WaitFor(ctx, "wait-dev-started", stack.Waits.Timeout("wait-dev-started"), 0, regexp.MustCompile(`Watching for changes`)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench-dev: skaffold dev deployed and watching: %.1f s\n", time.Since(started).Seconds())

	took := map[string][]time.Duration{}
	for i := range edits {
		marker := fmt.Sprintf("bench-dev-%d-%d", time.Now().Unix(), i)
		offset := len(session.Output())
		saved := time.Now()
		if err := stack.SetVersion(work, marker); err != nil {
			return err
		}
		for _, part := range parts {
			if _, err := session.WaitFor(ctx, "wait-new-pod", stack.Waits.Timeout("wait-new-pod"), offset, part.re); err != nil {
				return err
			}
			took[part.name] = append(took[part.name], time.Since(saved))
			// The next part is looked for after the line that ended this one.
			if at := part.re.FindStringIndex(session.Output()[offset:]); at != nil {
				offset += at[1]
			}
		}
		pod, err := stack.WaitForControllerVersion(ctx, c.RESTConfig(), marker)
		if err != nil {
			return err
		}
		took[lastPart] = append(took[lastPart], time.Since(saved))
		fmt.Fprintf(os.Stderr, "bench-dev: edit %d: pod %s runs version %s after %.1f s\n", i+1, pod, marker, time.Since(saved).Seconds())
	}
	names := []string{}
	for _, p := range parts {
		names = append(names, p.name)
	}
	stack.Spread(os.Stdout, fmt.Sprintf("labkit inner loop (make dev): save a .go file -> the new controller running in kind, %d edits", edits),
		"FROM THE SAVE TO", append(names, lastPart), took)
	return nil
}

// reportDebug prints the debug loop's figures: the first stop once, then each edit's.
func reportDebug(w io.Writer, edits int, took map[string][]time.Duration) {
	stack.Spread(w, "labkit debug loop (make debug): the command -> a Delve client stopped in Reconcile, once",
		"FROM THE COMMAND TO", []string{"first " + debugForwarded, "first " + debugStopped}, took)
	stack.Spread(w, fmt.Sprintf("after each of %d edits (skaffold debug rebuilds and redeploys)", edits),
		"FROM THE SAVE TO", []string{debugForwarded, debugStopped}, took)
}
