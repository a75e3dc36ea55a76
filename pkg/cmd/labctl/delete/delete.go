// Package delete is `labctl delete`: remove a lab's files from the GitOps repository.
package delete

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
)

type flagpole struct {
	shared.ChangeFlags
}

// NewCommand returns `labctl delete`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a lab from Git; Argo CD then deletes it and everything made for it",
		Args:  shared.ExactlyOneArg("NAME", "the lab to remove, e.g. `labctl delete ada-a100`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, pub, err := flags.Open(g)
			if err != nil {
				return err
			}
			res, diff, err := pub.Delete(cmd.Context(), ns, args[0], flags.DryRun)
			if err != nil {
				return err
			}
			if flags.DryRun {
				fmt.Fprint(streams.Out, diff)
				return nil
			}
			fmt.Fprintf(streams.Out, "lab %s/%s removed in %s on branch %s\n", ns, args[0], res.Commit, pub.Repo.Branch())
			return nil
		},
	}
	flags.Bind(cmd, g, "")
	return cmd
}
