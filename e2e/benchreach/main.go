// Command benchreach is `make bench-reach`: how long `labctl create --wait` takes on kind, from the
// command to the lab's Jupyter server answering through the ingress, over several labs, and where that
// time goes. It is a benchmark, not a test: it fails only when something breaks, never on time.
//
// It uses the e2e cluster (reused when it exists, as make e2e does, else made and deleted after), with
// the controller, Argo CD and Traefik, and a GitOps repository it serves. Each run asks for a CPU lab
// of the cached Jupyter image through labctl's own command tree, then deletes it through Git and
// waits until it is gone, so that every run starts from the same cluster.
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
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl"
	"github.com/labkit-dev/labkit/pkg/harness/assert"
	"github.com/labkit-dev/labkit/pkg/harness/intervals"
	"github.com/labkit-dev/labkit/pkg/harness/kindcluster"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// stack.Waits.Timeout("wait-gone") bounds the wait for a deleted lab to be gone.

// stages are the progress lines of labctl create --wait that the table times, in order.
var stages = []struct{ name, prefix string }{
	{"pushed", "lab "},
	{"argo cd synced", "Argo CD synced application"},
	{"scheduled", "scheduled on node"},
	{"ready", "ready: "},
}

func main() {
	root := flag.String("root", ".", "the project: kind-config.yaml, skaffold.yaml and bin/")
	runs := flag.Int("runs", 5, "how many labs to time")
	keep := flag.Bool("keep-cluster", false, "keep a cluster the run made")
	waits := intervals.AddFlags(flag.CommandLine)
	flag.Parse()
	var err error
	if stack.Waits, err = waits.Apply(stack.Waits); err != nil {
		fmt.Fprintln(os.Stderr, "bench-reach:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *root, *runs, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench-reach:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, root string, runs int, keep bool) (err error) {
	root, err = filepath.Abs(root)
	if err != nil {
		return err
	}
	log := logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	k, err := stack.UpKind(ctx, stack.KindOptions{Root: root, Name: stack.ClusterName, Log: log, Output: os.Stderr,
		Step: func(what string, start time.Time) {
			fmt.Fprintf(os.Stderr, "bench-reach: %s (%.1f s)\n", what, time.Since(start).Seconds())
		}})
	if k != nil && k.Cluster != nil && k.Cluster.Created && !keep {
		defer func() { err = errors.Join(err, k.Cluster.Down()) }()
	}
	if err != nil {
		return err
	}
	gw, err := kindcluster.GatewayAddress(ctx)
	if err != nil {
		return err
	}
	g, err := stack.ServeGitOps(ctx, k.Client, gw, true, log)
	if g != nil && g.Server != nil {
		defer func() { err = errors.Join(err, g.Server.Close()) }()
	}
	if err != nil {
		return err
	}
	kubeconfig := k.Cluster.Kubeconfig
	const ns = "bench-reach"
	var results [][]time.Duration // per run: the stages, then the total
	for i := range runs {
		name := fmt.Sprintf("reach-%d", i+1)
		times, err := timeCreate(ctx, kubeconfig, g.Publisher.Target.RepoURL, ns, name)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		results = append(results, times)
		if _, _, err := g.Publisher.Delete(ctx, ns, name, false); err != nil {
			return err
		}
		lab := &labkitv1alpha1.JupyterLab{}
		lab.Namespace, lab.Name = ns, name
		if err := argocd.Refresh(ctx, k.Client, stack.ArgoCDNamespace, stack.RootApp); err != nil {
			return err
		}
		if err := assert.Gone(ctx, k.Client, lab, assert.WithTimeout("wait-lab-gone", stack.Waits.Timeout("wait-gone"))); err != nil {
			return err
		}
		if err := waitPodsGone(ctx, k.Client, ns, name); err != nil {
			return err
		}
	}
	if err := report(results); err != nil {
		return err
	}
	if err := stopStart(ctx, kubeconfig, g.Publisher.Target.RepoURL, ns, runs); err != nil {
		return err
	}
	_, _, err = g.Publisher.Delete(ctx, ns, "pause", false)
	return err
}

// stopStart times labctl stop --wait (until the pod is gone and the GPU free in the catalog) and
// labctl start --wait (until the lab answers again) of one GPU lab, runs times each.
func stopStart(ctx context.Context, kubeconfig, repo, ns string, runs int) error {
	const name = "pause"
	labctlRun := func(args ...string) (time.Duration, error) {
		w := &stampWriter{start: time.Now()}
		cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader("bench-password\n"), Out: w, ErrOut: w})
		cmd.SetArgs(append(args, "-n", ns, "--repo", repo, "--kubeconfig", kubeconfig, "--wait", "--timeout", "5m",
			"--profile", filepath.Join(os.TempDir(), "bench-reach-no-profile.yaml")))
		err := cmd.ExecuteContext(ctx)
		took := time.Since(w.start)
		if err != nil {
			return 0, fmt.Errorf("labctl %s: %w\n%s", args[0], err, w.text())
		}
		fmt.Fprintf(os.Stderr, "bench-reach: labctl %s %s took %.2f s\n%s", args[0], name, took.Seconds(), w.text())
		return took, nil
	}
	if _, err := labctlRun("create", name, "--owner", "bench", "--gpu", "Tesla-T4:1", "--cpu", "250m", "--memory", "512Mi",
		"--storage", "1Gi", "--password-stdin"); err != nil {
		return err
	}
	var stops, starts []time.Duration
	for range runs {
		d, err := labctlRun("stop", name)
		if err != nil {
			return err
		}
		stops = append(stops, d)
		if d, err = labctlRun("start", name); err != nil {
			return err
		}
		starts = append(starts, d)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\none GPU lab, %d times (seconds)\tmin\tmedian\tmax\t\n", runs)
	for _, row := range []struct {
		what string
		d    []time.Duration
	}{{"labctl stop --wait, to its GPU free in the catalog", stops}, {"labctl start --wait, to Ready and answering", starts}} {
		slices.Sort(row.d)
		fmt.Fprintf(w, "%s\t%s\t\n", row.what, seconds([]time.Duration{row.d[0], row.d[len(row.d)/2], row.d[len(row.d)-1]}))
	}
	return w.Flush()
}

// timeCreate runs labctl create --wait and returns when each stage was printed, from the start, and the total.
func timeCreate(ctx context.Context, kubeconfig, repo, ns, name string) ([]time.Duration, error) {
	w := &stampWriter{start: time.Now()}
	cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader("bench-password\n"), Out: w, ErrOut: w})
	cmd.SetArgs([]string{"create", name, "-n", ns, "--owner", "bench", "--cpu", "250m", "--memory", "512Mi", "--storage", "1Gi",
		"--password-stdin", "--wait", "--timeout", "5m", "--repo", repo, "--kubeconfig", kubeconfig,
		"--profile", filepath.Join(os.TempDir(), "bench-reach-no-profile.yaml")})
	err := cmd.ExecuteContext(ctx)
	total := time.Since(w.start)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, w.text())
	}
	times := make([]time.Duration, 0, len(stages)+1)
	for _, s := range stages {
		times = append(times, w.at(s.prefix))
	}
	fmt.Fprintf(os.Stderr, "bench-reach: %s ready and answering after %.2f s\n%s", name, total.Seconds(), w.text())
	return append(times, total), nil
}

// waitPodsGone waits until the lab's pods are gone, so the next run finds the cluster as this one did.
func waitPodsGone(ctx context.Context, c client.Client, ns, name string) error {
	return stack.Waits.Until(ctx, "wait-gone", func(ctx context.Context) (string, error) {
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{labkitv1alpha1.LabLabel: name}); err != nil {
			return "", err
		}
		if n := len(pods.Items); n > 0 {
			return fmt.Sprintf("lab %s/%s still has %d pods", ns, name, n), nil
		}
		return "", nil
	})
}

func report(results [][]time.Duration) error {
	cols := append(slices.Collect(func(yield func(string) bool) {
		for _, s := range stages {
			if !yield(s.name) {
				return
			}
		}
	}), "answers (total)")
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "labctl create --wait, %d labs (seconds from the command)\t%s\t\n", len(results), strings.Join(cols, "\t"))
	for i, r := range results {
		fmt.Fprintf(w, "run %d\t%s\t\n", i+1, seconds(r))
	}
	for _, agg := range []struct {
		name string
		pick func([]time.Duration) time.Duration
	}{
		{"min", func(d []time.Duration) time.Duration { return d[0] }},
		{"median", func(d []time.Duration) time.Duration { return d[len(d)/2] }},
		{"max", func(d []time.Duration) time.Duration { return d[len(d)-1] }},
	} {
		row := make([]time.Duration, len(cols))
		for c := range cols {
			col := make([]time.Duration, len(results))
			for i, r := range results {
				col[i] = r[c]
			}
			slices.Sort(col)
			row[c] = agg.pick(col)
		}
		fmt.Fprintf(w, "%s\t%s\t\n", agg.name, seconds(row))
	}
	return w.Flush()
}

func seconds(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmt.Sprintf("%.2f", d.Seconds())
	}
	return strings.Join(s, "\t")
}

// stampWriter keeps each line written with when it was written.
type stampWriter struct {
	mu    sync.Mutex
	start time.Time
	lines []string
	when  []time.Duration
	part  string
}

func (w *stampWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part += string(p)
	for {
		line, rest, ok := strings.Cut(w.part, "\n")
		if !ok {
			break
		}
		w.lines, w.when, w.part = append(w.lines, line), append(w.when, time.Since(w.start)), rest
	}
	return len(p), nil
}

// at is when the first line starting with prefix was written.
func (w *stampWriter) at(prefix string) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, l := range w.lines {
		if strings.HasPrefix(l, prefix) {
			return w.when[i]
		}
	}
	return 0
}

func (w *stampWriter) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for i, l := range w.lines {
		fmt.Fprintf(&b, "  %6.2fs  %s\n", w.when[i].Seconds(), l)
	}
	return b.String()
}
