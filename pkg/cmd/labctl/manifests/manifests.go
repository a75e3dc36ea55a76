// Package manifests is `labctl manifests`: the labkit install manifests.
package manifests

import (
	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/manifests"
)

type flagpole struct {
	image string
}

// NewCommand returns `labctl manifests`.
func NewCommand(streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:     "manifests",
		Short:   "Print the install manifests: CRD, RBAC and the controller Deployment",
		Example: "  labctl manifests --image ghcr.io/labkit-dev/labkit-controller:v0.1.0 | kubectl apply -f -",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			out, err := manifests.Install(flags.image)
			if err != nil {
				return err
			}
			_, err = streams.Out.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&flags.image, "image", "", "controller image (default "+manifests.DefaultImage+", which skaffold replaces)")
	return cmd
}
