// Command benchdev is `make bench-dev`: it measures the inner loop of `make dev`, from saving a .go
// file to the new controller code running in the cluster, and prints min, median and max of each part.
// It is a benchmark, not a test: it fails only when something breaks, never on time.
//
// It brings up (or reuses) the kind cluster as make e2e does, runs `skaffold dev` on a copy of the
// project, and edits the controller's version --edits times. For each edit it times, from the save:
// skaffold seeing the change (it prints "Generating tags"), the image built ("Starting deploy"), the
// image loaded into the nodes ("Images loaded in"), the manifests applied ("Waiting for deployments to
// stabilize"), the new controller rolled out ("Deployments stabilized"), and a ready pod of it logging
// the new version. The project's own controller is deployed again at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"

	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// The parts of one edit, each ending when skaffold prints its line (or, for the last, when the new
// pod logs the new version).
var parts = []struct {
	name string
	re   *regexp.Regexp
}{
	{"change seen", regexp.MustCompile(`Generating tags`)},
	{"image built", regexp.MustCompile(`Starting deploy`)},
	{"image in the nodes (kind load)", regexp.MustCompile(`Images loaded in`)},
	{"manifests applied", regexp.MustCompile(`Waiting for deployments to stabilize`)},
	{"rolled out", regexp.MustCompile(`Deployments stabilized|Watching for changes`)},
}

const lastPart = "new code running"

func main() {
	root := flag.String("root", ".", "the project: kind-config.yaml, skaffold.yaml, cmd/ and pkg/")
	edits := flag.Int("edits", 5, "how many edits to time")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *root, *edits); err != nil {
		fmt.Fprintln(os.Stderr, "bench-dev:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, root string, edits int) (err error) {
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
		defer func() { err = errors.Join(err, c.Down(context.WithoutCancel(ctx), true)) }() // kept: make dev and e2e reuse it
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
	dev := skaffold.New(skaffold.WithDir(work), skaffold.WithBinary(filepath.Join(root, "bin", "skaffold")),
		skaffold.WithPath(filepath.Join(root, "bin")), skaffold.WithCluster(c.Kubeconfig(), c.KubeContext()))
	// --cleanup=false: stopping must not delete the CRD, and with it every lab.
	session, err := dev.Start(ctx, "dev", "--cleanup=false")
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, session.Stop(context.WithoutCancel(ctx)))
		// The project's own controller again, as make e2e expects it.
		err = errors.Join(err, c.Skaffold().Run(context.WithoutCancel(ctx)))
	}()
	start := time.Now()
	if _, err := session.WaitFor(ctx, "wait-dev-started", stack.Waits.Timeout("wait-dev-started"), 0, regexp.MustCompile(`Watching for changes`)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench-dev: skaffold dev deployed and watching: %.1f s\n", time.Since(start).Seconds())

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
	report(os.Stdout, edits, took)
	return nil
}

// report prints, for each part, min, median and max of the time from the save to its end.
func report(w *os.File, edits int, took map[string][]time.Duration) {
	fmt.Fprintf(w, "\nlabkit inner loop (make dev): save a .go file -> the new controller running in kind, %d edits\n", edits)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM THE SAVE TO\tMIN\tMEDIAN\tMAX")
	names := []string{}
	for _, p := range parts {
		names = append(names, p.name)
	}
	for _, name := range append(names, lastPart) {
		d := slices.Clone(took[name])
		slices.Sort(d)
		fmt.Fprintf(tw, "%s\t%.1f s\t%.1f s\t%.1f s\n", name, d[0].Seconds(), median(d).Seconds(), d[len(d)-1].Seconds())
	}
	tw.Flush()
}

func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
