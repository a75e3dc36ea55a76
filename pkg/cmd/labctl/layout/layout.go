// Package layout is `labctl layout`: switch a branch between one Argo CD Application per lab and one
// per namespace, without deleting or restarting a lab.
package layout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/labstatus"
)

type flagpole struct {
	repo       shared.RepoFlags
	namespaces []string
	dryRun     bool
	timeout    time.Duration
}

// NewCommand returns `labctl layout`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "layout lab|namespace",
		Short: "Switch the branch to one Argo CD Application per lab, or one per namespace; no lab is deleted or restarted",
		Long: `Switch how Argo CD gets the labs of the branch (docs/gitops-layout.md):
  lab        one Application per lab: each lab's sync shown and controlled on its own
  namespace  one Application per namespace: much faster for hundreds of labs

It takes two commits. The first makes the Applications that are to go leave their labs alone when
removed; once Argo CD has synced it (labctl waits for that, through your kubeconfig), the second
replaces them. A lab keeps its volume and its pod throughout. Without a cluster to look at, labctl
pushes the first commit and stops: run the same command again once Argo CD has synced it.`,
		Example: `  labctl layout namespace              # every namespace with labs on the branch
  labctl layout lab -n team-a          # one namespace back to one Application per lab`,
		Args: shared.ExactlyOneArg("LAYOUT", `"lab" or "namespace"`),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return []cobra.Completion{string(generator.LayoutLab), string(generator.LayoutNamespace)}, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := generator.ParseLayout("layout", args[0])
			if err != nil {
				return err
			}
			pub, err := flags.repo.Publisher(g)
			if err != nil {
				return err
			}
			return flags.run(cmd.Context(), g, streams, pub, to)
		},
	}
	flags.repo.Bind(cmd.Flags())
	cmd.Flags().StringArrayVarP(&flags.namespaces, "namespace", "n", nil, "switch only this namespace (repeat for more; default: every namespace with labs on the branch)")
	cmd.Flags().BoolVar(&flags.dryRun, "dry-run", false, "print the diff of the next commit and push nothing")
	cmd.Flags().DurationVar(&flags.timeout, "timeout", 10*time.Minute, "how long to wait for Argo CD to sync each commit")
	return cmd
}

func (f *flagpole) run(ctx context.Context, g *shared.Globals, streams shared.Streams, pub *generator.Publisher, to generator.Layout) error {
	say := func(line string) { fmt.Fprintln(streams.Out, line) }
	src := g.Sources(f.repo)
	// applied is the check before step 2: Argo CD has taken the finalizer off the live Applications.
	applied := func(ctx context.Context, apps []string) error {
		if src.Cluster == nil {
			return fmt.Errorf("labctl cannot see the cluster to check that Argo CD synced step 1 (%v); without that check step 2 could delete labs", src.ClusterErr)
		}
		f.nudge(ctx, src, pub, say)
		ctx, cancel := context.WithTimeout(ctx, f.timeout)
		defer cancel()
		return labstatus.WaitReleased(ctx, src, apps, labstatus.WithProgress(say))
	}
	for {
		step, err := pub.Relayout(ctx, to, f.namespaces, applied, f.dryRun)
		if errors.Is(err, generator.ErrUnchanged) {
			say(err.Error())
			return nil
		}
		if err != nil {
			if errors.Is(err, generator.ErrNotApplied) {
				return fmt.Errorf("%w\nstep 1 is pushed and harmless: run `labctl layout %s` again once Argo CD has synced it", err, to)
			}
			return err
		}
		if f.dryRun {
			say(fmt.Sprintf("step %d of 2 would switch %s:", step.Step, strings.Join(step.Namespaces, ", ")))
			fmt.Fprint(streams.Out, step.Diff)
			return nil
		}
		if step.Step == 1 {
			say(fmt.Sprintf("step 1 of 2 pushed as %s to branch %s: %s of %s no longer delete their labs when removed",
				step.Commit, pub.Repo.Branch(), applications(len(step.Going)), strings.Join(step.Namespaces, ", ")))
			if src.Cluster == nil {
				say(fmt.Sprintf("labctl cannot see the cluster (%v): run `labctl layout %s` again once Argo CD has synced this commit", src.ClusterErr, to))
				return nil
			}
			continue // step 2 waits for Argo CD to apply step 1
		}
		say(fmt.Sprintf("step 2 of 2 pushed as %s to branch %s: %s now have %s in place of %d",
			step.Commit, pub.Repo.Branch(), strings.Join(step.Namespaces, ", "), applications(len(step.Coming)), len(step.Going)))
		f.nudge(ctx, src, pub, say)
		ctx, cancel := context.WithTimeout(ctx, f.timeout)
		defer cancel()
		if err := labstatus.WaitSwitched(ctx, src, step.Going, step.Coming, step.Commit, labstatus.WithProgress(say)); err != nil {
			return fmt.Errorf("%w\nthe switch stays committed, and no lab is deleted by it: `kubectl get applications -n %s` shows what Argo CD has", err, pub.Target.ArgoNamespace)
		}
		say(fmt.Sprintf("switched: Argo CD synced %s; every lab kept running", strings.Join(step.Coming, ", ")))
		return nil
	}
}

// nudge asks Argo CD to read the branch now; where it cannot, Argo CD reads it at its next poll.
func (f *flagpole) nudge(ctx context.Context, src labstatus.Sources, pub *generator.Publisher, say func(string)) {
	if apps, err := labstatus.NudgeRoot(ctx, src, pub.Target); err != nil {
		say(fmt.Sprintf("could not ask Argo CD to read branch %s now (%v); it will at its next poll", pub.Target.Revision, err))
	} else {
		say(fmt.Sprintf("asked Argo CD to read branch %s now (application %s)", pub.Target.Revision, strings.Join(apps, ", ")))
	}
}

// applications is "1 Application" or "n Applications".
func applications(n int) string {
	if n == 1 {
		return "1 Application"
	}
	return fmt.Sprintf("%d Applications", n)
}
