// Package delete is `labctl delete`: remove a lab's files from the GitOps repository.
package delete

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
)

type flagpole struct {
	namespace string
	repo      shared.RepoFlags
	dryRun    bool
}

// NewCommand returns `labctl delete`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:               "delete NAME",
		Short:             "Remove a lab from Git; Argo CD then deletes it and everything made for it",
		Args:              shared.ExactlyOneArg("NAME", "the lab to remove, e.g. `labctl delete ada-a100`"),
		ValidArgsFunction: g.CompleteLabs(&flags.repo),
		RunE: func(cmd *cobra.Command, args []string) error {
			profile, err := g.LoadProfile()
			if err != nil {
				return err
			}
			pub, err := flags.repo.Publisher(g)
			if err != nil {
				return err
			}
			ns := flags.namespace
			if ns == "" {
				ns = generator.Request{}.WithDefaults(profile.Request()).WithDefaults(generator.Defaults).Namespace
			}
			res, diff, err := pub.Delete(cmd.Context(), ns, args[0], flags.dryRun)
			if err != nil {
				return err
			}
			if flags.dryRun {
				fmt.Fprint(streams.Out, diff)
				return nil
			}
			fmt.Fprintf(streams.Out, "lab %s/%s removed in %s on branch %s\n", ns, args[0], res.Commit, pub.Repo.Branch())
			return nil
		},
	}
	cmd.Flags().StringVarP(&flags.namespace, "namespace", "n", "", "namespace of the lab (default: the profile's, else "+generator.Defaults.Namespace+")")
	flags.repo.Bind(cmd.Flags())
	cmd.Flags().BoolVar(&flags.dryRun, "dry-run", false, "print the diff the commit would make and push nothing")
	return cmd
}
