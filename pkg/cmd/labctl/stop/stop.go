// Package stop is `labctl stop`: scale a lab to zero through Git, keeping its volume, files and URL.
package stop

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
)

type flagpole struct {
	shared.ChangeFlags
}

// NewCommand returns `labctl stop`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop a lab through Git: its pod goes and its GPUs are free for others; its volume, files and URL stay",
		Example: `  labctl stop ada-a100
  labctl stop ada-a100 --wait      # until its pod is gone and its GPUs are free
  labctl start ada-a100            # runs it again, on the same volume`,
		Args: shared.ExactlyOneArg("NAME", "the lab to stop, e.g. `labctl stop ada-a100`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, pub, err := flags.Open(g)
			if err != nil {
				return err
			}
			res, err := pub.Stop(cmd.Context(), ns, args[0], flags.DryRun)
			if err != nil {
				return err
			}
			if flags.DryRun {
				fmt.Fprint(streams.Out, res.Diff)
				return nil
			}
			lab := res.After
			fmt.Fprintf(streams.Out, "lab %s/%s stopped: committed %s to branch %s; Argo CD scales it to zero and frees its %s\n",
				ns, lab.Name, shared.Short(res.Commit), pub.Repo.Branch(), shared.Holds(lab))
			if !flags.Wait.Wait {
				return nil
			}
			freed := "free: " + shared.Holds(lab)
			if lab.GPUCount() > 0 {
				freed = "GPUs free: " + shared.Holds(lab)
			}
			return g.WaitStopped(cmd.Context(), streams, flags.Repo, flags.Wait, pub.Target, ns, lab.Name, freed)
		},
	}
	flags.Bind(cmd, g, "until the lab's pod is gone and its GPUs are free")
	return cmd
}
