package labctl_test

// Tests of what labctl says to people who know nothing of Kubernetes: each defect found by trying it
// as a new user would gets a test here that failed before it was fixed.

import (
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/internal/gittest"
)

func TestAMistypedBranchIsAnErrorExceptForCreate(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	lab := []string{"--owner", "ada", "--token-secret", "ada-token", "--skip-catalog", "--repo", bare}
	if _, err := run(t, "", append([]string{"create", "ada"}, lab...)...); err != nil {
		t.Fatal(err)
	}
	before := gittest.Refs(t, bare)
	for _, args := range [][]string{
		{"delete", "ada", "--branch", "mian", "--repo", bare},
		{"stop", "ada", "--branch", "mian", "--repo", bare},
		{"list", "--branch", "nosuch", "--repo", bare},
		{"status", "ada", "--branch", "nosuch", "--repo", bare},
	} {
		_, _, err := runErr(t, append(args, noCluster(t)...)...)
		if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "its branches: main") {
			t.Errorf("labctl %s: %v; want an error naming the branches there are", strings.Join(args[:3], " "), err)
		}
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("the refused commands changed the remote:\n%s\nwant\n%s", after, before)
	}

	_, stderr, err := runErr(t, append([]string{"create", "grace", "--branch", "feature/x", "--dry-run"}, lab...)...)
	if err != nil || !strings.Contains(stderr, "branch feature/x does not exist yet: the commit would create it from main") {
		t.Errorf("create --dry-run on a new branch: %v, stderr %q", err, stderr)
	}
	out, stderr, err := runErr(t, append([]string{"create", "grace", "--branch", "feature/x"}, lab...)...)
	if err != nil || !strings.Contains(stderr, "branch feature/x does not exist yet: creating it from main") || !strings.Contains(out, "to branch feature/x") {
		t.Errorf("create on a new branch: %v, stdout %q, stderr %q", err, out, stderr)
	}
}
