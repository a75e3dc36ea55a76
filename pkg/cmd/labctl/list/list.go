// Package list is `labctl list`: the labs in the GitOps repository.
package list

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
)

type flagpole struct {
	repo shared.RepoFlags
}

// NewCommand returns `labctl list`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the labs on the branch",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, err := flags.repo.Publisher(g)
			if err != nil {
				return err
			}
			labs, err := pub.List(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAMESPACE\tNAME\tOWNER\tGPU\tCPU\tMEMORY\tSTORAGE")
			for _, l := range labs {
				gpu := "-"
				if l.GPUCount() > 0 {
					gpu = fmt.Sprintf("%d× %s", l.GPUCount(), l.Spec.GPU.Product)
				}
				r := l.Spec.Resources
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Namespace, l.Name, l.Spec.Owner, gpu, r.CPU.String(), r.Memory.String(), l.Spec.Storage.Size.String())
			}
			return w.Flush()
		},
	}
	flags.repo.Bind(cmd.Flags())
	return cmd
}
