// Package status is `labctl status`: one view of a lab joining Git, Argo CD and the cluster.
package status

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/labstatus"
)

type flagpole struct {
	repo      shared.RepoFlags
	namespace string
	output    string
}

// NewCommand returns `labctl status`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show where a lab is: its commit on the branch, Argo CD's sync of it, and how it runs (all labs without NAME)",
		Long: "labctl status joins what the Git branch holds (the commit that last changed the lab), what Argo CD did\n" +
			"with it (sync and health, at which commit), and the lab in the cluster (phase, node, GPUs, conditions,\n" +
			"URL). Without cluster access it shows the Git part and says what it could not see.",
		Example: `  labctl status ada-a100
  labctl status -o json`,
		Args:              shared.AtMostOneArg("NAME", "the lab to show (none: every lab)"),
		ValidArgsFunction: g.CompleteLabs(&flags.repo),
		RunE: func(cmd *cobra.Command, args []string) error {
			src := g.Sources(flags.repo)
			if len(args) == 0 {
				list, err := labstatus.List(cmd.Context(), src)
				if err != nil {
					return err
				}
				return write(streams.Out, flags.output, list, func() error { return labstatus.WriteTable(streams.Out, list) })
			}
			ns, err := g.Namespace(flags.namespace)
			if err != nil {
				return err
			}
			st, err := labstatus.Get(cmd.Context(), src, ns, args[0])
			if err != nil {
				return err
			}
			return write(streams.Out, flags.output, st, func() error { return labstatus.WriteText(streams.Out, st) })
		},
	}
	flags.repo.Bind(cmd.Flags())
	cmd.Flags().StringVarP(&flags.namespace, "namespace", "n", "", "namespace of the lab (default: the profile's, else "+generator.Defaults.Namespace+")")
	cmd.Flags().StringVarP(&flags.output, "output", "o", "text", "output format: text, json or yaml")
	return cmd
}

func write(w io.Writer, format string, v any, text func() error) error {
	switch format {
	case "text", "":
		return text()
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return fmt.Errorf("output format %q is not one of text, json, yaml", format)
}
