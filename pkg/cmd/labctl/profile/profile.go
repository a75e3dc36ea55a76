// Package profile is `labctl profile`: save and show a person's defaults.
package profile

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/gitops"
)

// NewCommand returns `labctl profile`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Save or show your defaults (never a password or token)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSave(g, streams), newShow(g, streams))
	return cmd
}

func newSave(g *shared.Globals, streams shared.Streams) *cobra.Command {
	given := &generator.Profile{}
	cmd := &cobra.Command{
		Use:     "save",
		Short:   "Save defaults for create, render, list and delete; flags not given keep their saved value",
		Example: "  labctl profile save --owner ada --gpu A100:1 --repo git@github.com:lab/gitops.git --branch team-a",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			saved, err := g.LoadProfile()
			if err != nil {
				return err
			}
			cmd.Flags().Visit(func(f *pflag.Flag) { // a flag given empty clears the saved value
				for _, pf := range generator.ProfileFields {
					if pf.Flag == f.Name {
						*pf.Profile(&saved) = *pf.Profile(given)
					}
				}
				if f.Name == "environment" {
					saved.Environment = given.Environment
				}
			})
			if saved.Repo != "" { // a path is saved absolute: labctl may run anywhere later
				if saved.Repo, err = gitops.AbsRemote(saved.Repo); err != nil {
					return err
				}
			}
			if err := saved.Validate(); err != nil {
				return err
			}
			if err := saved.Save(g.Profile); err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "profile saved to %s\n", g.Profile)
			return nil
		},
	}
	for _, f := range generator.ProfileFields {
		cmd.Flags().StringVar(f.Profile(given), f.Flag, "", f.Usage)
	}
	cmd.Flags().BoolVar(&given.Environment, "environment", false, "each branch is an environment of its own (--environment=false: not)")
	return cmd
}

func newShow(g *shared.Globals, streams shared.Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print the saved profile",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			p, err := g.LoadProfile()
			if err != nil {
				return err
			}
			data, err := yaml.Marshal(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "# %s\n%s", g.Profile, data)
			return nil
		},
	}
}
