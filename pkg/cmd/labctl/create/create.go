// Package create is `labctl create`: check a request and push it to the GitOps repository.
package create

import (
	"fmt"

	"github.com/spf13/cobra"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
)

type flagpole struct {
	request shared.RequestFlags
	repo    shared.RepoFlags
	dryRun  bool
	wait    shared.WaitFlags
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
		Args: shared.AtMostOneArg("NAME", "the lab to create"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, pubErr := flags.repo.Publisher(g)
			lab, err := flags.request.Lab(cmd.Context(), g, shared.FirstArg(args), streams.In, pubErr)
			if err != nil {
				return err
			}
			res, diff, err := pub.Create(cmd.Context(), []*labkitv1alpha1.JupyterLab{lab}, flags.dryRun)
			if err != nil {
				return err
			}
			if res.NewBranch {
				fmt.Fprintln(streams.ErrOut, newBranchNote(pub.Target.Revision, res.From, flags.dryRun))
			}
			if flags.dryRun {
				fmt.Fprint(streams.Out, diff)
				return nil
			}
			fmt.Fprintf(streams.Out, "lab %s/%s committed as %s to branch %s; Argo CD application %s\n",
				lab.Namespace, lab.Name, res.Commit, pub.Target.Revision, generator.AppName(lab.Namespace, lab.Name))
			if !flags.wait.Wait {
				return nil
			}
			return g.WaitReady(cmd.Context(), streams, flags.repo, flags.wait, pub.Target, lab.Namespace, lab.Name, res.Commit,
				fmt.Sprintf("the request stays committed: labctl status %s shows the lab, labctl delete %s withdraws it", lab.Name, lab.Name))
		},
	}
	flags.request.Bind(cmd.Flags())
	flags.request.Complete(cmd, g)
	flags.repo.Bind(cmd.Flags())
	cmd.Flags().BoolVar(&flags.dryRun, "dry-run", false, "print the diff the commit would make and push nothing")
	flags.wait.Bind(cmd.Flags(), "until the lab answers, printing each step and then its URL")
	return cmd
}

// newBranchNote says that the push starts the branch, so that a mistyped --branch is seen.
func newBranchNote(branch, from string, dryRun bool) string {
	verb := "creating"
	if dryRun {
		verb = "the commit would create"
	}
	if from == "" {
		return fmt.Sprintf("branch %s does not exist yet: %s it as the repository's first branch", branch, verb)
	}
	return fmt.Sprintf("branch %s does not exist yet: %s it from %s", branch, verb, from)
}
