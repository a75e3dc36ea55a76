// Package extend is `labctl extend`: give a lab more time before it expires, through Git.
package extend

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
)

type flagpole struct {
	forValue, until string
	shared.ChangeFlags
}

// NewCommand returns `labctl extend`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "extend NAME (--for DURATION | --until DATE)",
		Short: "Move a lab's expiry later, through Git; a lab that had expired runs again",
		Long: "labctl extend sets the lab's spec.expiresAt, in one commit, to --for from now or to --until. It only\n" +
			"moves the expiry later. A lab that had expired runs again once Argo CD syncs the commit; one stopped with\n" +
			"labctl stop, or for being idle, stays stopped until labctl start.",
		Example: `  labctl extend ada-a100 --for 7d
  labctl extend ada-a100 --until 2026-12-24 --wait`,
		Args: shared.ExactlyOneArg("NAME", "the lab to give more time, e.g. `labctl extend ada-a100 --for 7d`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if flags.forValue == "" && flags.until == "" {
				return fmt.Errorf("labctl extend needs --for DURATION or --until DATE, e.g. `labctl extend %s --for 7d`", name)
			}
			now := time.Now()
			until, _, err := generator.Expiry(flags.forValue, flags.until, now)
			if err != nil {
				return err
			}
			ns, pub, err := flags.Open(g)
			if err != nil {
				return err
			}
			res, err := pub.Extend(cmd.Context(), ns, name, until, flags.DryRun)
			if err != nil {
				return err
			}
			if flags.DryRun {
				fmt.Fprint(streams.Out, res.Diff)
				return nil
			}
			was, expired := "it had no expiry", false
			if e := res.Before.Spec.ExpiresAt; e != nil {
				was, expired = "was "+generator.FormatTime(e.Time), !now.Before(e.Time)
			}
			then := ""
			switch {
			case res.After.Spec.Stopped:
				then = "; it stays stopped: " + generator.CommandLine("start", ns, name, "") + " starts it"
			case expired:
				then = "; it had expired, so it runs again once Argo CD syncs the commit"
			}
			fmt.Fprintf(streams.Out, "lab %s/%s now expires at %s (%s): committed %s to branch %s%s\n",
				ns, name, generator.FormatTime(until), was, shared.Short(res.Commit), pub.Repo.Branch(), then)
			if !flags.Wait.Wait {
				return nil
			}
			if res.After.Spec.Stopped {
				return nil // it will not run: nothing to wait for
			}
			return g.WaitReady(cmd.Context(), streams, flags.Repo, flags.Wait, pub.Target, ns, name, res.Commit,
				fmt.Sprintf("the new expiry stays committed: %s shows the lab", generator.CommandLine("status", ns, name, "")))
		},
	}
	shared.BindExpiry(cmd.Flags(), &flags.forValue, &flags.until)
	flags.Bind(cmd, g, "until the lab answers, printing each step and then its URL (not for a lab stopped with labctl stop)")
	return cmd
}
