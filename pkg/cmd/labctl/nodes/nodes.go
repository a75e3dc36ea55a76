// Package nodes is `labctl nodes`: what the cluster's nodes offer.
package nodes

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/catalog"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
)

type flagpole struct {
	catalog string
	output  string
}

// NewCommand returns `labctl nodes`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "Show what each node offers: GPU model, free GPUs, CPU and memory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := g.Catalog(cmd.Context(), flags.catalog)
			if err != nil {
				return err
			}
			return write(streams, cat, flags.output)
		},
	}
	cmd.Flags().StringVar(&flags.catalog, "catalog", "", "catalog file to show instead of the cluster")
	cmd.Flags().StringVarP(&flags.output, "output", "o", "table", "output format: table, yaml or json")
	return cmd
}

func write(streams shared.Streams, cat *catalog.Catalog, output string) error {
	switch output {
	case "table":
		return catalog.WriteTable(streams.Out, cat)
	case "yaml":
		data, err := cat.Marshal()
		if err != nil {
			return err
		}
		_, err = streams.Out.Write(data)
		return err
	case "json":
		enc := json.NewEncoder(streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(cat)
	}
	return fmt.Errorf("output format %q is not one of table, yaml, json", output)
}
