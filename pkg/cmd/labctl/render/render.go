// Package render is `labctl render`: a lab's files on stdout, nothing written anywhere.
package render

import (
	"errors"
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
		Short: "Print the JupyterLab and Argo CD Application a request makes; nothing is committed or pushed",
		Args:  shared.AtMostOneArg("NAME", "the lab to render"),
		RunE: func(cmd *cobra.Command, args []string) error {
			profile, err := g.LoadProfile()
			if err != nil {
				return err
			}
			_, _, target, err := flags.repo.Target(profile)
			if err != nil {
				return err
			}
			var noRepo error
			if target.RepoURL == "" {
				noRepo = errors.New("no repository for the Application's repoURL (where Argo CD reads the lab from): " +
					"give --repo-url URL or --repo URL, or save one with `labctl profile save --repo URL`")
			}
			lab, err := flags.request.Lab(cmd.Context(), g, shared.FirstArg(args), streams.In, noRepo)
			if err != nil {
				return err
			}
			files, err := generator.Render(lab, target, "")
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
	flags.request.Complete(cmd, g)
	flags.repo.Bind(cmd.Flags())
	flags.repo.BindLayout(cmd.Flags())
	// render pushes nothing: the repository only goes into the Application.
	cmd.Flags().Lookup("repo").Usage = "the GitOps repository, for the Application's repoURL (render pushes nothing)"
	cmd.Flags().Lookup("branch").Usage = "the branch Argo CD follows, for the Application's targetRevision (default main)"
	return cmd
}
