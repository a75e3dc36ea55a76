// Package rootapp is `labctl root-app`: the root Application that makes Argo CD follow a branch.
package rootapp

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
)

// NewCommand returns `labctl root-app`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	repo := &shared.RepoFlags{}
	cmd := &cobra.Command{
		Use:   "root-app",
		Short: "Print the root Application that makes Argo CD follow the branch (apply it once per branch Argo CD follows)",
		Example: `  labctl root-app --repo-url https://git.example.org/lab/gitops.git | kubectl apply -f -
  labctl root-app --branch staging --environment | kubectl apply -f -   # one more environment`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			profile, err := g.LoadProfile()
			if err != nil {
				return err
			}
			_, _, target, err := repo.Target(profile)
			if err != nil {
				return err
			}
			if target.RepoURL == "" {
				return errors.New("no repository for the root Application's repoURL (where Argo CD reads the labs from): " +
					"give --repo-url URL or --repo URL, or save one with `labctl profile save --repo URL`")
			}
			data, err := generator.RenderRootApplication(generator.RootAppName(target), target)
			if err != nil {
				return err
			}
			fmt.Fprint(streams.Out, string(data))
			return nil
		},
	}
	repo.Bind(cmd.Flags())
	return cmd
}
