package generator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/internal/gittest"
)

func publisher(t *testing.T, bare, branch string) *Publisher {
	t.Helper()
	repo, err := gitops.New(bare, branch, gitops.WithEnv(gittest.Env...), gitops.WithWorkDir(t.TempDir()))
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

func TestCreatePushesTheLabAndItsApplicationToTheNamedBranch(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	mainBefore := gittest.Git(t, bare, "rev-parse", "main")
	p := publisher(t, bare, "team-a")
	res, _, err := p.Create(context.Background(), []*labkitv1alpha1.JupyterLab{build(t, nil)}, false)
	if err != nil {
		t.Fatal(err)
	}
	files := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "team-a")
	for _, want := range []string{"labs/jupyter/ada-a100/jupyterlab.yaml", "apps/jupyter/ada-a100.yaml"} {
		if !strings.Contains(files, want) {
			t.Errorf("branch team-a lacks %s; has:\n%s", want, files)
		}
	}
	if got := strings.TrimSpace(gittest.Git(t, bare, "rev-parse", "team-a")); got != res.Commit {
		t.Errorf("team-a is at %s, want the pushed commit %s", got, res.Commit)
	}
	if got := gittest.Git(t, bare, "rev-parse", "main"); got != mainBefore {
		t.Error("main moved; only team-a was named")
	}
	msg := gittest.Git(t, bare, "log", "-1", "--format=%B", "team-a")
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
	bare := gittest.Remote(t)
	p := publisher(t, bare, "main")
	ctx := context.Background()
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{build(t, nil)}, false); err != nil {
		t.Fatal(err)
	}
	before := gittest.Refs(t, bare)
	// A batch whose second lab exists already is refused whole.
	other := build(t, func(r *Request) { r.Name = "other" })
	_, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{other, build(t, nil)}, false)
	if !errors.Is(err, ErrLabExists) || !strings.Contains(err.Error(), "jupyter/ada-a100 is already on the branch") {
		t.Fatalf("error = %v, want ErrLabExists naming the lab", err)
	}
	if _, _, err := p.Delete(ctx, "jupyter", "nobody", false); !errors.Is(err, ErrLabNotFound) || !strings.Contains(err.Error(), "labs there: jupyter/ada-a100") {
		t.Fatalf("delete error = %v, want ErrLabNotFound listing the labs", err)
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("refs changed:\n%s\nwant:\n%s", after, before)
	}
}

func TestDryRunShowsTheDiffAndWritesNothing(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	before := gittest.Refs(t, bare)
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
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("dry run changed the remote:\n%s", after)
	}
}

func TestDeleteRemovesTheLabsFiles(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	p := publisher(t, bare, "main")
	ctx := context.Background()
	keep := build(t, func(r *Request) { r.Name = "keep" })
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{build(t, nil), keep}, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Delete(ctx, "jupyter", "ada-a100", false); err != nil {
		t.Fatal(err)
	}
	files := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "main")
	if strings.Contains(files, "ada-a100") || !strings.Contains(files, "labs/jupyter/keep/jupyterlab.yaml") {
		t.Errorf("files after delete:\n%s", files)
	}
}

func TestConcurrentCreatesAllLand(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
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
	files := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "main")
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
	bare := gittest.Remote(t)
	p := publisher(t, bare, "main")
	if _, _, err := p.Create(context.Background(), []*labkitv1alpha1.JupyterLab{build(t, func(r *Request) { r.PasswordHash = h })}, false); err != nil {
		t.Fatal(err)
	}
	history := gittest.Git(t, bare, "log", "--all", "-p", "--format=%H %B")
	if !strings.Contains(history, h) {
		t.Fatal("the hash is not in the history: the check below would prove nothing")
	}
	if strings.Contains(history, password) {
		t.Error("the plaintext password is in the repository history")
	}
}
