package labctl

import (
	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/create"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/delete"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/extend"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/layout"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/list"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/manifests"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/nodes"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/open"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/profile"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/render"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/rootapp"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/start"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/status"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/stop"
	"github.com/labkit-dev/labkit/pkg/generator"
)

// Streams are a command's input and outputs.
type Streams = shared.Streams

// NewCommand returns the labctl root command. Errors are returned, not printed: the caller prints them once.
func NewCommand(logger logr.Logger, streams Streams) *cobra.Command {
	g := &shared.Globals{Logger: logger}
	cmd := &cobra.Command{
		Use:   "labctl",
		Short: "Request GPU JupyterLabs, checked against what the cluster offers, through Git and Argo CD",
		Long: "labctl turns a request such as `--gpu A100:1 --cpu 8 --memory 32Gi --storage 100Gi` into a JupyterLab\n" +
			"resource, checks it against what the cluster's nodes offer, and commits it with an Argo CD Application\n" +
			"to a Git repository.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.SetFlagErrorFunc(shared.FlagError)
	f := cmd.PersistentFlags()
	f.StringVar(&g.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&g.Profile, "profile", generator.DefaultProfilePath(), "profile of defaults (labctl profile save)")
	cmd.AddCommand(
		nodes.NewCommand(g, streams),
		create.NewCommand(g, streams),
		render.NewCommand(g, streams),
		list.NewCommand(g, streams),
		delete.NewCommand(g, streams),
		stop.NewCommand(g, streams),
		start.NewCommand(g, streams),
		extend.NewCommand(g, streams),
		manifests.NewCommand(streams),
		profile.NewCommand(g, streams),
		status.NewCommand(g, streams),
		open.NewCommand(g, streams),
		rootapp.NewCommand(g, streams),
		layout.NewCommand(g, streams),
	)
	return cmd
}
