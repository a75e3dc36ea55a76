package generator

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/gitops"
)

// gitEnv keeps the machine's git configuration out of the tests.
var gitEnv = []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), gitEnv...)
	cmd.Env = append(cmd.Env, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// remote makes a bare repository whose main branch has a README, as a GitOps repository starts.
func remote(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bare := filepath.Join(dir, "remote.git")
	git(t, dir, "init", "--quiet", "--bare", "--initial-branch=main", bare)
	work := filepath.Join(dir, "work")
	git(t, dir, "clone", "--quiet", bare, work)
	git(t, work, "commit", "--quiet", "--allow-empty", "-m", "Start the lab repository")
	git(t, work, "push", "--quiet", "origin", "HEAD:refs/heads/main")
	return bare
}

func publisher(t *testing.T, bare, branch string) *Publisher {
	t.Helper()
	repo, err := gitops.New(bare, branch, gitops.WithEnv(gitEnv...), gitops.WithWorkDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return &Publisher{Repo: repo, Target: Target{RepoURL: "http://git.example/labs.git", Revision: branch}}
}

func build(t *testing.T, mod func(*Request)) *labkitv1alpha1.JupyterLab {
	t.Helper()
	lab, err := Build(request(mod), loadCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

func refs(t *testing.T, bare string) string { return git(t, bare, "show-ref") }

func TestCreatePushesTheLabAndItsApplicationToTheNamedBranch(t *testing.T) {
	t.Parallel()
	bare := remote(t)
	mainBefore := git(t, bare, "rev-parse", "main")
	p := publisher(t, bare, "team-a")
	res, _, err := p.Create(context.Background(), []*labkitv1alpha1.JupyterLab{build(t, nil)}, false)
	if err != nil {
		t.Fatal(err)
	}
	files := git(t, bare, "ls-tree", "-r", "--name-only", "team-a")
	for _, want := range []string{"labs/jupyter/ada-a100/jupyterlab.yaml", "apps/jupyter/ada-a100.yaml"} {
		if !strings.Contains(files, want) {
			t.Errorf("branch team-a lacks %s; has:\n%s", want, files)
		}
	}
	if got := strings.TrimSpace(git(t, bare, "rev-parse", "team-a")); got != res.Commit {
		t.Errorf("team-a is at %s, want the pushed commit %s", got, res.Commit)
	}
	if got := git(t, bare, "rev-parse", "main"); got != mainBefore {
		t.Error("main moved; only team-a was named")
	}
	msg := git(t, bare, "log", "-1", "--format=%B", "team-a")
	if !strings.Contains(msg, "Add JupyterLab jupyter/ada-a100 for ada (1× NVIDIA-A100-SXM4-40GB, 8 CPU, 32Gi memory, 100Gi storage)") {
		t.Errorf("commit message = %q", msg)
	}

	labs, err := p.List(context.Background())
	if err != nil || len(labs) != 1 || labs[0].Name != "ada-a100" || labs[0].Spec.GPU.Product != "NVIDIA-A100-SXM4-40GB" {
		t.Fatalf("List = %v, %v; want the one lab", labs, err)
	}
}

func TestARefusedRequestLeavesTheRepositoryUntouched(t *testing.T) {
	t.Parallel()
	bare := remote(t)
	p := publisher(t, bare, "main")
	ctx := context.Background()
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{build(t, nil)}, false); err != nil {
		t.Fatal(err)
	}
	before := refs(t, bare)
	// A batch whose second lab exists already is refused whole.
	other := build(t, func(r *Request) { r.Name = "other" })
	_, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{other, build(t, nil)}, false)
	if !errors.Is(err, ErrLabExists) || !strings.Contains(err.Error(), "jupyter/ada-a100 is already on the branch") {
		t.Fatalf("error = %v, want ErrLabExists naming the lab", err)
	}
	if _, _, err := p.Delete(ctx, "jupyter", "nobody", false); !errors.Is(err, ErrLabNotFound) || !strings.Contains(err.Error(), "labs there: jupyter/ada-a100") {
		t.Fatalf("delete error = %v, want ErrLabNotFound listing the labs", err)
	}
	if after := refs(t, bare); after != before {
		t.Errorf("refs changed:\n%s\nwant:\n%s", after, before)
	}
}

func TestDryRunShowsTheDiffAndWritesNothing(t *testing.T) {
	t.Parallel()
	bare := remote(t)
	before := refs(t, bare)
	p := publisher(t, bare, "main")
	_, diff, err := p.Create(context.Background(), []*labkitv1alpha1.JupyterLab{build(t, nil)}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+++ b/labs/jupyter/ada-a100/jupyterlab.yaml", "+    product: NVIDIA-A100-SXM4-40GB", "+++ b/apps/jupyter/ada-a100.yaml"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	if after := refs(t, bare); after != before {
		t.Errorf("dry run changed the remote:\n%s", after)
	}
}

func TestDeleteRemovesTheLabsFiles(t *testing.T) {
	t.Parallel()
	bare := remote(t)
	p := publisher(t, bare, "main")
	ctx := context.Background()
	keep := build(t, func(r *Request) { r.Name = "keep" })
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{build(t, nil), keep}, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Delete(ctx, "jupyter", "ada-a100", false); err != nil {
		t.Fatal(err)
	}
	files := git(t, bare, "ls-tree", "-r", "--name-only", "main")
	if strings.Contains(files, "ada-a100") || !strings.Contains(files, "labs/jupyter/keep/jupyterlab.yaml") {
		t.Errorf("files after delete:\n%s", files)
	}
}

func TestConcurrentCreatesAllLand(t *testing.T) {
	t.Parallel()
	bare := remote(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			lab := build(t, func(r *Request) { r.Name = fmt.Sprintf("lab-%d", i) })
			_, _, errs[i] = publisher(t, bare, "main").Create(context.Background(), []*labkitv1alpha1.JupyterLab{lab}, false)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	files := git(t, bare, "ls-tree", "-r", "--name-only", "main")
	for i := range errs {
		if !strings.Contains(files, fmt.Sprintf("labs/jupyter/lab-%d/jupyterlab.yaml", i)) {
			t.Errorf("lab-%d missing after concurrent creates:\n%s", i, files)
		}
	}
}

func TestNoPlaintextPasswordReachesTheRepository(t *testing.T) {
	t.Parallel()
	const password = "s3cret-plaintext-passw0rd"
	h, err := HashPassword([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	bare := remote(t)
	p := publisher(t, bare, "main")
	if _, _, err := p.Create(context.Background(), []*labkitv1alpha1.JupyterLab{build(t, func(r *Request) { r.PasswordHash = h })}, false); err != nil {
		t.Fatal(err)
	}
	history := git(t, bare, "log", "--all", "-p", "--format=%H %B")
	if !strings.Contains(history, h) {
		t.Fatal("the hash is not in the history: the check below would prove nothing")
	}
	if strings.Contains(history, password) {
		t.Error("the plaintext password is in the repository history")
	}
}
