// Package list is `labctl list`: the labs in the GitOps repository, with their phase in the cluster.
package list

import (
	"cmp"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/labstatus"
)

type flagpole struct {
	repo shared.RepoFlags
}

// NewCommand returns `labctl list`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the labs on the branch: owner, size, expiry, the commit that last changed each and, when the cluster answers, phase and URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src := g.Sources(flags.repo)
			if src.Git == nil {
				return src.GitErr
			}
			snap, err := src.Git.Snapshot(cmd.Context(), true)
			if err != nil {
				return err
			}
			var namespaces []string
			for _, e := range snap.Labs {
				namespaces = append(namespaces, e.Lab.Namespace)
			}
			running, unseen := labstatus.ClusterLabs(cmd.Context(), src, namespaces...)
			w := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
			header := "NAMESPACE\tNAME\tOWNER\tGPU\tCPU\tMEMORY\tSTORAGE\tEXPIRES"
			if unseen == nil {
				header += "\tPHASE\tURL"
			}
			fmt.Fprintln(w, header+"\tCOMMIT")
			now := time.Now()
			for _, e := range snap.Labs {
				l := e.Lab
				gpu := "-"
				if l.GPUCount() > 0 {
					gpu = fmt.Sprintf("%d× %s", l.GPUCount(), l.Spec.GPU.Product)
				}
				r := l.Spec.Resources
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", l.Namespace, l.Name, l.Spec.Owner, gpu, r.CPU.String(), r.Memory.String(),
					l.Spec.Storage.Size.String(), expires(l, now))
				if unseen == nil {
					phase, url := "absent", "-"
					if c := running[client.ObjectKeyFromObject(l)]; c != nil {
						phase, url = c.PhaseText(), cmp.Or(c.URL, "-")
					}
					fmt.Fprintf(w, "\t%s\t%s", phase, url)
				}
				commit := "-" // the commit that last changed the lab on the branch
				if c := e.LastChange; c != nil {
					commit = shared.Short(c.ID)
				}
				fmt.Fprintf(w, "\t%s\n", commit)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if unseen != nil {
				fmt.Fprintf(streams.ErrOut, "no PHASE and URL columns: %v\n", unseen)
			}
			return nil
		},
	}
	flags.repo.Bind(cmd.Flags())
	return cmd
}

// expires is when the lab expires, to the minute in UTC, or "-".
func expires(l *labkitv1alpha1.JupyterLab, now time.Time) string {
	e := l.Spec.ExpiresAt
	if e == nil {
		return "-"
	}
	s := e.UTC().Format("2006-01-02 15:04 UTC")
	if !now.Before(e.Time) {
		s += " (expired)"
	}
	return s
}
