// Package render is `labctl render`: a lab's files on stdout, nothing written anywhere.
package render

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
)

type flagpole struct {
	request shared.RequestFlags
	repo    shared.RepoFlags
}

// NewCommand returns `labctl render`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "render [NAME]",
		Short: "Print the JupyterLab and Argo CD Application a request makes, without committing them",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lab, err := flags.request.Lab(cmd.Context(), g, shared.FirstArg(args), streams.In)
			if err != nil {
				return err
			}
			profile, err := g.LoadProfile()
			if err != nil {
				return err
			}
			_, target := flags.repo.Target(profile)
			files, err := generator.Render(lab, target)
			if err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintf(streams.Out, "---\n# %s\n%s", f.Path, f.Content)
			}
			return nil
		},
	}
	flags.request.Bind(cmd.Flags())
	flags.repo.Bind(cmd.Flags())
	return cmd
}
