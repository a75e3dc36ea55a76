package labkitharness_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/cmd/labkitharness"
)

// A binary for a debugger must keep its symbols: refused before anything is compiled.
func TestImageBuildRefusesStripWithGCFlags(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	cmd := labkitharness.NewCommand(&out, &errOut)
	cmd.SetArgs([]string{"image", "build", "--strip", "--gcflags", "all=-N -l"})
	err := cmd.ExecuteContext(context.Background())
	const want = `--strip with --gcflags "all=-N -l": a binary built for a debugger must keep its symbols; leave --strip out`
	if err == nil || err.Error() != want {
		t.Errorf("image build --strip --gcflags: got %v, want the error %q", err, want)
	}
	if out.Len() > 0 {
		t.Errorf("printed %q, want nothing", out.String())
	}
}

// $PUSH_IMAGE is skaffold's true or false; anything else is named.
func TestImageBuildRefusesABadPushImage(t *testing.T) {
	t.Setenv("PUSH_IMAGE", "maybe")
	t.Setenv("IMAGE", "localhost:5001/labkit-controller:dev")
	var out, errOut bytes.Buffer
	cmd := labkitharness.NewCommand(&out, &errOut)
	cmd.SetArgs([]string{"image", "build"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), `$PUSH_IMAGE="maybe": want true or false`) {
		t.Errorf("image build with PUSH_IMAGE=maybe: got %v, want an error naming it and saying true or false", err)
	}
}

// A push to a name without a registry is refused before anything is compiled: Docker Hub is not
// what a dev loop means.
func TestImageBuildRefusesToPushWithoutARegistry(t *testing.T) {
	t.Setenv("PUSH_IMAGE", "true")
	t.Setenv("IMAGE", "labkit-controller:dev")
	var out, errOut bytes.Buffer
	cmd := labkitharness.NewCommand(&out, &errOut)
	cmd.SetArgs([]string{"image", "build"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "push image labkit-controller:dev: its name has no registry to push it to") {
		t.Errorf("image build of labkit-controller:dev with push: got %v, want an error saying it has no registry", err)
	}
}
