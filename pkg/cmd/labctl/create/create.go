// Package create is `labctl create`: check a request and push it to the GitOps repository.
package create

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/labstatus"
)

type flagpole struct {
	request shared.RequestFlags
	repo    shared.RepoFlags
	dryRun  bool
	wait    bool
	timeout time.Duration
}

// NewCommand returns `labctl create`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Check a lab request against the cluster and commit it, with its Argo CD Application, to Git",
		Example: `  printf '%s' "$PASSWORD" | labctl create ada-a100 --owner ada --gpu A100:1 --cpu 8 --memory 32Gi \
      --storage 100Gi --password-stdin --repo git@github.com:lab/gitops.git --branch team-a
  labctl create -f ada.yaml --token-secret ada-token --dry-run`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lab, err := flags.request.Lab(cmd.Context(), g, shared.FirstArg(args), streams.In)
			if err != nil {
				return err
			}
			pub, err := flags.repo.Publisher(g)
			if err != nil {
				return err
			}
			res, diff, err := pub.Create(cmd.Context(), []*labkitv1alpha1.JupyterLab{lab}, flags.dryRun)
			if err != nil {
				return err
			}
			if flags.dryRun {
				fmt.Fprint(streams.Out, diff)
				return nil
			}
			fmt.Fprintf(streams.Out, "lab %s/%s committed as %s to branch %s; Argo CD application %s\n",
				lab.Namespace, lab.Name, res.Commit, pub.Target.Revision, generator.AppName(lab.Namespace, lab.Name))
			if !flags.wait {
				return nil
			}
			return waitFor(cmd.Context(), g, streams, flags, pub.Target, lab.Namespace, lab.Name, res.Commit)
		},
	}
	flags.request.Bind(cmd.Flags())
	flags.repo.Bind(cmd.Flags())
	cmd.Flags().BoolVar(&flags.dryRun, "dry-run", false, "print the diff the commit would make and push nothing")
	cmd.Flags().BoolVar(&flags.wait, "wait", false, "after the push, ask Argo CD to sync now and wait until the lab answers, printing each step and then its URL")
	cmd.Flags().DurationVar(&flags.timeout, "timeout", 10*time.Minute, "with --wait: how long to wait")
	return cmd
}

// waitFor nudges Argo CD and waits for the lab the commit asked for, printing each step.
func waitFor(ctx context.Context, g *shared.Globals, streams shared.Streams, flags *flagpole, target generator.Target, namespace, name, commit string) error {
	src := g.Sources(flags.repo)
	if src.Cluster == nil {
		return fmt.Errorf("the lab is committed, but labctl cannot wait for it: %w", src.ClusterErr)
	}
	say := func(line string) { fmt.Fprintln(streams.Out, line) }
	if apps, err := labstatus.Nudge(ctx, src, target, namespace, name); err != nil {
		say(fmt.Sprintf("could not ask Argo CD to read branch %s now (%v); it will at its next poll", target.Revision, err))
	} else {
		say(fmt.Sprintf("asked Argo CD to read branch %s now (application %s)", target.Revision, strings.Join(apps, ", ")))
	}
	ctx, cancel := context.WithTimeout(ctx, flags.timeout)
	defer cancel()
	st, err := labstatus.Wait(ctx, src, namespace, name, labstatus.WithCommit(commit), labstatus.WithProgress(say),
		labstatus.WithAnswerCheck(labstatus.CheckJupyter))
	if err != nil {
		return fmt.Errorf("%w\nthe request stays committed: labctl status %s shows the lab, labctl delete %s withdraws it", err, name, name)
	}
	say("open " + st.Lab.URL)
	return nil
}
