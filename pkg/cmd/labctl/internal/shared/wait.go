package shared

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/labstatus"
)

// WaitFlags are --wait and --timeout: wait, after the push, for what the commit asked for.
type WaitFlags struct {
	Wait    bool
	Timeout time.Duration
}

// Bind adds --wait, whose help ends with until (what it waits for), and --timeout.
func (w *WaitFlags) Bind(f *pflag.FlagSet, until string) {
	f.BoolVar(&w.Wait, "wait", false, "after the push, ask Argo CD to sync now and wait "+until)
	f.DurationVar(&w.Timeout, "timeout", 10*time.Minute, "with --wait: how long to wait")
}

// Check refuses --wait on a proposal branch, before anything is committed: Argo CD follows the branch
// it is to be merged into, so nothing happens until it is.
func (w *WaitFlags) Check(pub *generator.Publisher) error {
	if w.Wait && pub != nil && pub.Repo.Branch() != pub.Target.Revision {
		return fmt.Errorf("--wait: branch %s is a proposal to merge into %s (--track %s), and Argo CD acts on it only once it is merged: "+
			"leave out --wait, merge it, then `labctl status --branch %s` shows the lab", pub.Repo.Branch(), pub.Target.Revision, pub.Target.Revision, pub.Target.Revision)
	}
	return nil
}

// ProposalNote says what to merge where, when the branch is a proposal ("" when it is not).
func ProposalNote(pub *generator.Publisher) string {
	if pub.Repo.Branch() == pub.Target.Revision {
		return ""
	}
	return fmt.Sprintf("branch %s is a proposal: merge it into %s (a pull request), and Argo CD, which follows %s, acts on it; "+
		"the Applications name %s, so they keep working once %s is deleted", pub.Repo.Branch(), pub.Target.Revision, pub.Target.Revision, pub.Target.Revision, pub.Repo.Branch())
}

// WaitReady nudges Argo CD and waits until the lab the commit asked for answers, printing each step and
// then its URL. stays ends the error of a failed wait: what stays committed, and how to see or undo it.
func (g *Globals) WaitReady(ctx context.Context, streams Streams, repo RepoFlags, w WaitFlags, target generator.Target, namespace, name, commit, stays string) error {
	src, say, err := g.nudge(ctx, streams, repo, target, namespace, name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	st, err := labstatus.Wait(ctx, src, namespace, name, labstatus.WithCommit(commit), labstatus.WithProgress(say),
		labstatus.WithAnswerCheck(labstatus.CheckJupyter))
	if err != nil {
		return fmt.Errorf("%w\n%s", err, stays)
	}
	say("open " + st.Lab.URL)
	return nil
}

// WaitStopped nudges Argo CD and waits until the lab runs no pod, printing each step, and then what it
// freed.
func (g *Globals) WaitStopped(ctx context.Context, streams Streams, repo RepoFlags, w WaitFlags, target generator.Target, namespace, name, freed string) error {
	src, say, err := g.nudge(ctx, streams, repo, target, namespace, name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	if err := labstatus.WaitStopped(ctx, src, namespace, name, labstatus.WithProgress(say)); err != nil {
		return fmt.Errorf("%w\nthe stop stays committed: %s shows the lab", err, generator.CommandLine("status", namespace, name, ""))
	}
	say(freed)
	return nil
}

// nudge asks Argo CD to read the branch now, saying whether it could, and returns the sources to wait
// with and the function that prints a step.
func (g *Globals) nudge(ctx context.Context, streams Streams, repo RepoFlags, target generator.Target, namespace, name string) (labstatus.Sources, func(string), error) {
	src := g.Sources(repo)
	if src.Cluster == nil {
		return src, nil, fmt.Errorf("the change is committed, but labctl cannot wait for it: %w", src.ClusterErr)
	}
	say := func(line string) { fmt.Fprintln(streams.Out, line) }
	if apps, err := labstatus.Nudge(ctx, src, target, namespace, name); err != nil {
		say(fmt.Sprintf("could not ask Argo CD to read branch %s now (%v); it will at its next poll", target.Revision, err))
	} else {
		say(fmt.Sprintf("asked Argo CD to read branch %s now (application %s)", target.Revision, strings.Join(apps, ", ")))
	}
	return src, say, nil
}
