// Package manifests is `labctl manifests`: the labkit install manifests.
package manifests

import (
	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/manifests"
)

type flagpole struct {
	image           string
	watchNamespaces []string
}

// NewCommand returns `labctl manifests`.
func NewCommand(streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "manifests",
		Short: "Print the install manifests: CRD, RBAC and the controller Deployment",
		Example: "  labctl manifests --image ghcr.io/labkit-dev/labkit-controller:v0.1.0 | kubectl apply -f -\n" +
			"  labctl manifests --watch-namespaces team-a,team-b | kubectl apply -f -   # labs in these namespaces only",
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			out, err := manifests.Install(manifests.WithImage(flags.image), manifests.WithWatchNamespaces(flags.watchNamespaces...))
			if err != nil {
				return err
			}
			_, err = streams.Out.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&flags.image, "image", "", "controller image (default "+manifests.DefaultImage+", which skaffold replaces)")
	cmd.Flags().StringSliceVar(&flags.watchNamespaces, "watch-namespaces", nil,
		"reconcile labs in these namespaces only: bind the controller's ClusterRole in each by a RoleBinding instead of cluster-wide, "+
			"and run the controller with --watch-namespaces; the namespaces must exist before the manifests are applied")
	return cmd
}
