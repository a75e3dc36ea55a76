// Package start is `labctl start`: run a stopped lab again through Git, on the same volume.
package start

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
)

type flagpole struct {
	shared.ChangeFlags
}

// NewCommand returns `labctl start`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "start NAME",
		Short: "Start a lab stopped by labctl stop or for being idle, through Git, on the same volume",
		Long: "labctl start clears the lab's spec.stopped and sets spec.startedAt to now, in one commit: the lab runs\n" +
			"again whether labctl stop or the controller (for being idle) stopped it. An expired lab needs more time\n" +
			"first: labctl extend NAME --for 7d.",
		Example: `  labctl start ada-a100
  labctl start ada-a100 --wait     # until it answers, then its URL`,
		Args: shared.ExactlyOneArg("NAME", "the lab to start, e.g. `labctl start ada-a100`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, pub, err := flags.Open(g)
			if err != nil {
				return err
			}
			res, err := pub.Start(cmd.Context(), ns, args[0], time.Now(), flags.DryRun)
			if err != nil {
				return err
			}
			if flags.DryRun {
				fmt.Fprint(streams.Out, res.Diff)
				return nil
			}
			lab := res.After
			if res.Before.Spec.Stopped {
				fmt.Fprintf(streams.Out, "lab %s/%s started: committed %s to branch %s; once Argo CD syncs it, the lab runs again with its %s, on the same volume\n",
					ns, lab.Name, shared.Short(res.Commit), pub.Repo.Branch(), shared.Holds(lab))
			} else {
				fmt.Fprintf(streams.Out, "lab %s/%s was not stopped in Git: committed %s to branch %s with a new start time, which starts it again if the controller stopped it for being idle\n",
					ns, lab.Name, shared.Short(res.Commit), pub.Repo.Branch())
			}
			if !flags.Wait.Wait {
				return nil
			}
			return g.WaitReady(cmd.Context(), streams, flags.Repo, flags.Wait, pub.Target, ns, lab.Name, res.Commit,
				fmt.Sprintf("the start stays committed: %s shows the lab, %s stops it again",
					generator.CommandLine("status", ns, lab.Name, ""), generator.CommandLine("stop", ns, lab.Name, "")))
		},
	}
	flags.Bind(cmd, g, "until the lab answers, printing each step and then its URL")
	return cmd
}
