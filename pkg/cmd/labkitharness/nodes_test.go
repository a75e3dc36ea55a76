package labkitharness_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/labkit-dev/labkit/pkg/cmd/labkitharness"
)

// An unknown pool is refused before any cluster is looked for, so this needs no Docker.
func TestNodesRefusesAnUnknownPoolAndListsTheDeclaredOnes(t *testing.T) {
	t.Parallel()
	for _, verb := range []string{"add", "delete"} {
		t.Run(verb, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			cmd := labkitharness.NewCommand(&out, &errOut)
			cmd.SetArgs([]string{"nodes", verb, "--config", "../../../kind-config.yaml", "--pool", "fake-h100,fake-t4"})
			err := cmd.ExecuteContext(context.Background())
			const want = `../../../kind-config.yaml: no fake node pool "fake-t4"; declared: fake-h100, fake-a100, fake-cpu`
			if err == nil || err.Error() != want {
				t.Errorf("nodes %s --pool fake-h100,fake-t4 = %v, want the error %q", verb, err, want)
			}
			if out.Len() > 0 {
				t.Errorf("printed %q, want nothing", out.String())
			}
		})
	}
}
