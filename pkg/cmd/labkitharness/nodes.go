package labkitharness

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/kindcluster"
)

type nodesFlagpole struct {
	config  string
	pools   []string
	timeout time.Duration
}

// newNodesCommand is `nodes add|delete`: the kind config's fake node pools, driven by kwok.
func newNodesCommand(name *string, log logr.Logger, out io.Writer) *cobra.Command {
	flags := &nodesFlagpole{}
	nodes := &cobra.Command{Use: "nodes", Short: "Add or delete the fake GPU nodes (kwok) that the kind config declares"}
	nodes.PersistentFlags().StringVar(&flags.config, "config", "kind-config.yaml", "kind config whose "+fakenodes.PoolsKind+" document declares the pools")
	nodes.PersistentFlags().StringSliceVar(&flags.pools, "pool", nil, "pool to add or delete (repeat or comma-separate); default all")
	// pools resolves the flags into the cluster and the pools to work on.
	pools := func() (*kindcluster.Cluster, []fakenodes.Pool, error) {
		cfg, err := fakenodes.LoadFile(flags.config, *name)
		if err != nil {
			return nil, nil, err
		}
		selected, err := cfg.SelectPools(flags.pools...)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", flags.config, err)
		}
		c, err := kindcluster.Get(*name, kindcluster.WithLogger(log))
		return c, selected, err
	}
	add := &cobra.Command{
		Use:   "add",
		Short: "Install kwok (image preloaded from the local Docker), create the pools' nodes, wait until they are Ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, selected, err := pools()
			if err != nil {
				return err
			}
			start := time.Now()
			// kwok's image from the local Docker: no registry need be reachable.
			if _, err := c.LoadImages(cmd.Context(), fakenodes.KwokImage); err != nil {
				return err
			}
			cfg, err := c.RESTConfig()
			if err != nil {
				return err
			}
			if err := fakenodes.Add(cmd.Context(), cfg, flags.timeout, selected...); err != nil {
				return fmt.Errorf("cluster %q: %w", c.Name, err)
			}
			fmt.Fprintf(out, "%d fake nodes Ready in cluster %s (%s) in %s\n", nodeCount(selected), c.Name, names(selected), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	add.Flags().DurationVar(&flags.timeout, "timeout", 3*time.Minute, "how long to wait for kwok to be Available, and then for the nodes to be Ready")
	del := &cobra.Command{
		Use:   "delete",
		Short: "Delete the pools' nodes (the pods bound to them go with the pod garbage collector); kwok stays",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, selected, err := pools()
			if err != nil {
				return err
			}
			cfg, err := c.RESTConfig()
			if err != nil {
				return err
			}
			cl, err := fakenodes.BulkClient(cfg)
			if err != nil {
				return err
			}
			if err := fakenodes.Delete(cmd.Context(), cl, selected...); err != nil {
				return fmt.Errorf("cluster %q: %w", c.Name, err)
			}
			fmt.Fprintf(out, "%d fake nodes deleted from cluster %s (%s)\n", nodeCount(selected), c.Name, names(selected))
			return nil
		},
	}
	nodes.AddCommand(add, del)
	return nodes
}

func names(pools []fakenodes.Pool) string {
	s := make([]string, len(pools))
	for i, p := range pools {
		s[i] = p.Name
	}
	return strings.Join(s, ", ")
}

func nodeCount(pools []fakenodes.Pool) int {
	n, _ := fakenodes.Size(pools...)
	return n
}
