// Package gittest makes real Git repositories for tests: a bare remote and the git command to inspect it.
package gittest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Env keeps the machine's git configuration out of tests; pass it to gitops.WithEnv, or set it in the
// process environment for code that builds its own gitops.Repo.
var Env = []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}

// Git runs git in dir and returns its output, failing the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), Env...)
	cmd.Env = append(cmd.Env, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Remote makes a bare repository whose main branch has one empty commit, as a GitOps repository starts.
func Remote(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	bare := filepath.Join(dir, "remote.git")
	Git(t, dir, "init", "--quiet", "--bare", "--initial-branch=main", bare)
	work := filepath.Join(dir, "work")
	Git(t, dir, "clone", "--quiet", bare, work)
	Git(t, work, "commit", "--quiet", "--allow-empty", "-m", "Start the lab repository")
	Git(t, work, "push", "--quiet", "origin", "HEAD:refs/heads/main")
	return bare
}

// Refs lists every ref of repo with its commit, to compare before and after.
func Refs(t testing.TB, repo string) string { return Git(t, repo, "show-ref") }
