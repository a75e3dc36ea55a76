package labkitharness

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/harness/goimage"
)

type imageFlagpole struct {
	pkg, base, gcflags string
	strip              bool
}

// newImageCommand is `image build`: skaffold's custom build of the controller in make dev and make debug
// (skaffold.yaml, profile host-build), from skaffold's environment ($IMAGE, $PUSH_IMAGE, $BUILD_CONTEXT).
func newImageCommand(out io.Writer) *cobra.Command {
	flags := &imageFlagpole{}
	image := &cobra.Command{Use: "image", Short: "Container images of labkit's Go programs"}
	build := &cobra.Command{
		Use:   "build",
		Short: "Compile a Go program on this machine and build an image of the binary alone (a skaffold custom build)",
		Long: "Compile the Go main package --package on this machine (Go's build cache makes a small edit's rebuild take seconds)\n" +
			"and build the image $IMAGE of that binary on --base. When $PUSH_IMAGE is true, the image is written straight to\n" +
			"$IMAGE's registry, without Docker: the binary as one layer on the base, which the first push copies there from\n" +
			"the local Docker daemon (as <registry>/labkit-base/<base>); otherwise it is built in the Docker daemon.\n" +
			"skaffold sets both; $BUILD_CONTEXT is the module (default: the current directory).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if flags.strip && flags.gcflags != "" {
				return fmt.Errorf("--strip with --gcflags %q: a binary built for a debugger must keep its symbols; leave --strip out", flags.gcflags)
			}
			push := false
			if v := os.Getenv("PUSH_IMAGE"); v != "" {
				var err error
				if push, err = strconv.ParseBool(v); err != nil {
					return fmt.Errorf("$PUSH_IMAGE=%q: want true or false", v)
				}
			}
			dir := os.Getenv("BUILD_CONTEXT")
			if dir == "" {
				dir = "."
			}
			return goimage.Build(cmd.Context(), dir, flags.pkg, os.Getenv("IMAGE"),
				goimage.WithBase(flags.base), goimage.WithPush(push), goimage.WithStrip(flags.strip),
				goimage.WithGCFlags(flags.gcflags), goimage.WithOutput(out))
		},
	}
	build.Flags().StringVar(&flags.pkg, "package", "./cmd/labkit-controller", "the Go main package to build, in the module")
	build.Flags().StringVar(&flags.base, "base", goimage.DefaultBase, "the image to put the binary on")
	build.Flags().BoolVar(&flags.strip, "strip", false, "leave the symbol table and debug information out (smaller, nothing for Delve to read)")
	build.Flags().StringVar(&flags.gcflags, "gcflags", os.Getenv("SKAFFOLD_GO_GCFLAGS"), `the compiler's flags, e.g. "all=-N -l" for Delve (default $SKAFFOLD_GO_GCFLAGS)`)
	image.AddCommand(build)
	return image
}
