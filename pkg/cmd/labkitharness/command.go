package labkitharness

import (
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/kindcluster"
	"github.com/labkit-dev/labkit/pkg/stack"
)

type flagpole struct {
	name         string
	config       string
	images       []string
	registryPort int32
}

// NewCommand returns the labkit-harness root command; errors are returned for the caller to print.
func NewCommand(out, errOut io.Writer) *cobra.Command {
	flags := &flagpole{}
	log := logr.FromSlogHandler(slog.NewTextHandler(errOut, nil))
	root := &cobra.Command{
		Use:           "labkit-harness",
		Short:         "The kind cluster with fake GPU nodes that labkit's e2e suite, make dev and make debug use, and make demo",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&flags.name, "name", stack.ClusterName, "cluster name")
	cluster := &cobra.Command{Use: "cluster", Short: "Create, show or delete the cluster"}
	up := &cobra.Command{
		Use:   "up",
		Short: "Create the cluster from the kind config (or reuse it), advertise its fake GPUs, preload images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := []kindcluster.Option{kindcluster.WithConfigFile(flags.config), kindcluster.WithLogger(log)}
			if flags.registryPort != 0 {
				opts = append(opts, kindcluster.WithLocalRegistry(flags.registryPort))
			}
			c, err := kindcluster.Up(cmd.Context(), flags.name, opts...)
			if err != nil {
				return err
			}
			cfg, err := c.RESTConfig()
			if err != nil {
				return err
			}
			cl, err := stack.NewClient(cfg)
			if err != nil {
				return err
			}
			if err := fakenodes.AdvertiseGPUs(cmd.Context(), cl); err != nil {
				return err
			}
			absent, err := c.LoadImages(cmd.Context(), flags.images...)
			if err != nil {
				return err
			}
			for _, img := range absent {
				log.Info("Image not in the local Docker, nodes will pull it", "image", img)
			}
			fmt.Fprintf(out, "cluster %s is up; kubeconfig %s, context %s\n", c.Name, c.Kubeconfig, c.KubeContext())
			return nil
		},
	}
	up.Flags().StringVar(&flags.config, "config", "kind-config.yaml", "kind config of the cluster")
	up.Flags().StringSliceVar(&flags.images, "image", stack.Images, "images to preload from the local Docker")
	up.Flags().Int32Var(&flags.registryPort, "registry-port", stack.RegistryHostPort,
		"give the cluster a local registry at localhost:PORT, where make dev pushes its rebuilds (0: none)")
	down := &cobra.Command{
		Use:   "down",
		Short: "Delete the cluster",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			c, err := kindcluster.Get(flags.name, kindcluster.WithLogger(log))
			if err != nil {
				return err
			}
			return c.Down()
		},
	}
	kubeconfig := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the path of the cluster's kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			c, err := kindcluster.Get(flags.name, kindcluster.WithLogger(logr.Discard()))
			if err != nil {
				return err
			}
			fmt.Fprintln(out, c.Kubeconfig)
			return nil
		},
	}
	registry := &cobra.Command{
		Use:   "registry",
		Short: "Print where the cluster's local registry is (for skaffold --default-repo), as the cluster records it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := kindcluster.Get(flags.name, kindcluster.WithLogger(logr.Discard()))
			if err != nil {
				return err
			}
			host, err := c.LocalRegistry(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(out, host)
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's nodes and their GPUs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := kindcluster.Get(flags.name, kindcluster.WithLogger(logr.Discard()))
			if err != nil {
				return err
			}
			cfg, err := c.RESTConfig()
			if err != nil {
				return err
			}
			cl, err := client.New(cfg, client.Options{})
			if err != nil {
				return err
			}
			nodes := &corev1.NodeList{}
			if err := cl.List(cmd.Context(), nodes); err != nil {
				return err
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "cluster %s, kubeconfig %s\nNODE\tREADY\tGPU\tGPUS\n", c.Name, c.Kubeconfig)
			for _, n := range nodes.Items {
				ready := "False"
				for _, cond := range n.Status.Conditions {
					if cond.Type == corev1.NodeReady {
						ready = string(cond.Status)
					}
				}
				gpus := n.Status.Allocatable[fakenodes.GPUResource]
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", n.Name, ready, n.Labels[labkitv1alpha1.GPUProductLabel], gpus.String())
			}
			return w.Flush()
		},
	}
	cluster.AddCommand(up, down, kubeconfig, registry, status)
	root.AddCommand(cluster, newNodesCommand(&flags.name, log, out), newDemoCommand(log, out), newGitCommand(log, out), newImageCommand(out))
	return root
}
