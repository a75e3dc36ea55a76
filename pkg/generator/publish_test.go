package generator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/internal/gittest"
	"github.com/labkit-dev/labkit/pkg/internal/kobj"
)

func publisher(t *testing.T, bare, branch string) *Publisher {
	t.Helper()
	repo, err := gitops.New(bare, branch, gitops.WithEnv(gittest.Env...), gitops.WithWorkDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return &Publisher{Repo: repo, Target: Target{RepoURL: "http://git.example/labs.git", Revision: branch}}
}

// published is a new remote whose main branch holds the lab build(t, nil) makes, and its publisher.
func published(t *testing.T) (string, *Publisher) {
	t.Helper()
	bare := gittest.Remote(t)
	p := publisher(t, bare, "main")
	if _, _, err := p.Create(context.Background(), []*labkitv1alpha1.JupyterLab{build(t, nil)}, false); err != nil {
		t.Fatal(err)
	}
	return bare, p
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
	bare, p := published(t)
	ctx := context.Background()
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
		// Built here, not in the goroutine: the helpers call t.Fatal, which only the test's own goroutine may.
		lab := build(t, func(r *Request) { r.Name = fmt.Sprintf("lab-%d", i) })
		pub := publisher(t, bare, "main")
		wg.Go(func() {
			_, _, errs[i] = pub.Create(context.Background(), []*labkitv1alpha1.JupyterLab{lab}, false)
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

// labOnBranch is the lab's file on branch main of bare, parsed.
func labOnBranch(t *testing.T, bare, name string) *labkitv1alpha1.JupyterLab {
	t.Helper()
	data := gittest.Git(t, bare, "show", "main:"+LabPath("jupyter", name))
	lab := &labkitv1alpha1.JupyterLab{}
	if err := yaml.UnmarshalStrict([]byte(data), lab); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return lab
}

// changedFiles are the files the branch's last commit changed.
func changedFiles(t *testing.T, bare string) []string {
	t.Helper()
	return strings.Fields(gittest.Git(t, bare, "diff-tree", "--no-commit-id", "--name-only", "-r", "main"))
}

func TestStopStartAndExtendChangeOnlyTheLabsFile(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	p := publisher(t, bare, "main")
	ctx := context.Background()
	created := build(t, func(r *Request) { r.For = "14d" })
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{created}, false); err != nil {
		t.Fatal(err)
	}
	app := gittest.Git(t, bare, "show", "main:"+AppPath("jupyter", "ada-a100"))

	res, err := p.Stop(ctx, "jupyter", "ada-a100", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(gittest.Git(t, bare, "rev-parse", "main")); got != res.Commit || res.Attempts != 1 {
		t.Errorf("main is at %s after %d attempts, want the pushed commit %s", got, res.Attempts, res.Commit)
	}
	if got := changedFiles(t, bare); len(got) != 1 || got[0] != LabPath("jupyter", "ada-a100") {
		t.Errorf("stop changed %v, want the lab's file only", got)
	}
	// The file is as Create renders it, with the one line more.
	want, err := kobj.YAML(res.After)
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, bare, "show", "main:"+LabPath("jupyter", "ada-a100")); got != string(want) {
		t.Errorf("stopped lab's file:\n%s\nwant:\n%s", got, want)
	}
	if diff := gittest.Git(t, bare, "diff", "main~1", "main"); strings.Count(diff, "\n+ ") != 1 || strings.Count(diff, "\n- ") != 0 ||
		!strings.Contains(diff, "\n+  stopped: true\n") {
		t.Errorf("stop's diff is not the one line stopped: true:\n%s", diff)
	}
	if msg := gittest.Git(t, bare, "log", "-1", "--format=%s", "main"); msg != "Stop JupyterLab jupyter/ada-a100\n" {
		t.Errorf("commit message = %q", msg)
	}
	if res.Before.Spec.Stopped || !res.After.Spec.Stopped || !labOnBranch(t, bare, "ada-a100").Spec.Stopped {
		t.Errorf("before %v, after %v: want the lab stopped only after", res.Before.Spec.Stopped, res.After.Spec.Stopped)
	}

	started := time.Date(2026, 12, 2, 9, 30, 15, 999, time.UTC)
	if _, err := p.Start(ctx, "jupyter", "ada-a100", started, false); err != nil {
		t.Fatal(err)
	}
	lab := labOnBranch(t, bare, "ada-a100")
	if lab.Spec.Stopped || lab.Spec.StartedAt == nil || !lab.Spec.StartedAt.Time.Equal(started.Truncate(time.Second)) {
		t.Errorf("started lab: stopped %v, startedAt %v; want running, started at %v", lab.Spec.Stopped, lab.Spec.StartedAt, started)
	}

	until := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	if _, err := p.Extend(ctx, "jupyter", "ada-a100", until, false); err != nil {
		t.Fatal(err)
	}
	lab = labOnBranch(t, bare, "ada-a100")
	if lab.Spec.ExpiresAt == nil || !lab.Spec.ExpiresAt.Time.Equal(until) || lab.Spec.StartedAt == nil {
		t.Errorf("extended lab expires at %v, want %v (and keeps its start time %v)", lab.Spec.ExpiresAt, until, lab.Spec.StartedAt)
	}
	if got := changedFiles(t, bare); len(got) != 1 || got[0] != LabPath("jupyter", "ada-a100") {
		t.Errorf("extend changed %v, want the lab's file only", got)
	}
	if got := gittest.Git(t, bare, "show", "main:"+AppPath("jupyter", "ada-a100")); got != app {
		t.Errorf("the Application changed:\n%s\nwas:\n%s", got, app)
	}
}

func TestARefusedUpdatePushesNothingAndSaysWhy(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	p := publisher(t, bare, "main")
	ctx := context.Background()
	// A lab built in 2020 to live a day, in a namespace of its own: it has expired.
	expired, err := Build(request(func(r *Request) { r.Name, r.Namespace, r.For = "old", "team-a", "1d" }), loadCatalog(t),
		BuildAt(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{build(t, nil), expired}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stop(ctx, "jupyter", "ada-a100", false); err != nil {
		t.Fatal(err)
	}
	before := gittest.Refs(t, bare)
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		update   func() (*Updated, error)
		sentinel error
		want     string
	}{
		{"stopping a lab not on the branch names those there",
			func() (*Updated, error) { return p.Stop(ctx, "jupyter", "nobody", false) },
			ErrLabNotFound, "no jupyter/nobody on branch main; labs there: jupyter/ada-a100, team-a/old"},
		{"stopping a stopped lab",
			func() (*Updated, error) { return p.Stop(ctx, "jupyter", "ada-a100", false) },
			ErrUnchanged, "lab jupyter/ada-a100 is already stopped on branch main: nothing to commit; labctl start ada-a100 starts it"},
		{"starting an expired lab says how to give it more time, in its namespace",
			func() (*Updated, error) { return p.Start(ctx, "team-a", "old", time.Now(), false) },
			ErrExpired, "lab old expired at 2020-01-02 00:00:00 UTC: labctl extend old -n team-a --for 7d gives it more time and starts it"},
		{"starting a lab in a namespace it is not in",
			func() (*Updated, error) { return p.Start(ctx, "jupyter", "old", time.Now(), false) },
			ErrLabNotFound, "no jupyter/old on branch main"},
		{"an expiry in the past",
			func() (*Updated, error) {
				return p.Extend(ctx, "team-a", "old", time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), false)
			},
			nil, "extend lab team-a/old until 2019-01-01 00:00:00 UTC: that is in the past"},
		{"a change that fails",
			func() (*Updated, error) {
				return p.Update(ctx, "team-a", "old", "Break", func(*labkitv1alpha1.JupyterLab) error { return errBoom }, false)
			},
			errBoom, "boom"},
		{"a change that changes nothing",
			func() (*Updated, error) {
				return p.Update(ctx, "team-a", "old", "Nothing", func(*labkitv1alpha1.JupyterLab) error { return nil }, false)
			},
			ErrUnchanged, `lab team-a/old is already as "Nothing" would make it: nothing to commit`},
		{"a change that renames the lab",
			func() (*Updated, error) {
				return p.Update(ctx, "team-a", "old", "Rename", func(l *labkitv1alpha1.JupyterLab) error { l.Name = "new"; return nil }, false)
			},
			nil, "would rename it to team-a/new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.update()
			if err == nil {
				t.Fatalf("accepted: %+v", res)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("error is not %v: %v", tt.sentinel, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v\nwant it to say %q", err, tt.want)
			}
		})
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("refused updates changed the remote:\n%s\nwant:\n%s", after, before)
	}
}

func TestExtendMovesTheExpiryOnlyLater(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	p := publisher(t, bare, "main")
	ctx := context.Background()
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{build(t, func(r *Request) { r.For = "14d" })}, false); err != nil {
		t.Fatal(err)
	}
	expires := labOnBranch(t, bare, "ada-a100").Spec.ExpiresAt.Time
	before := gittest.Refs(t, bare)
	_, err := p.Extend(ctx, "jupyter", "ada-a100", expires.Add(-time.Hour), false)
	if err == nil || !strings.Contains(err.Error(), "extend moves the expiry only later; give a later --until or a longer --for") {
		t.Errorf("an earlier expiry: %v", err)
	}
	if _, err := p.Extend(ctx, "jupyter", "ada-a100", expires, false); !errors.Is(err, ErrUnchanged) ||
		!strings.Contains(err.Error(), "already expires at "+FormatTime(expires)) {
		t.Errorf("the same expiry: %v, want ErrUnchanged saying when it expires", err)
	}
	res, err := p.Extend(ctx, "jupyter", "ada-a100", expires.Add(time.Hour), true)
	if err != nil || !strings.Contains(res.Diff, "+  expiresAt: \""+expires.Add(time.Hour).UTC().Format(time.RFC3339)+"\"") {
		t.Errorf("dry run: %v, diff:\n%s", err, res.Diff)
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("refused and dry-run extends changed the remote:\n%s", after)
	}
}

func TestUpdateRetriesOnTopOfAConcurrentPushAndKeepsIt(t *testing.T) {
	t.Parallel()
	bare, p := published(t)
	ctx := context.Background()
	calls := 0
	res, err := p.Update(ctx, "jupyter", "ada-a100", "Set an idle timeout", func(l *labkitv1alpha1.JupyterLab) error {
		calls++
		if calls == 1 {
			// Someone else stops the lab between our read and our push.
			if _, err := publisher(t, bare, "main").Stop(ctx, "jupyter", "ada-a100", false); err != nil {
				t.Errorf("competing stop: %v", err)
			}
		} else if !l.Spec.Stopped {
			t.Errorf("call %d of change does not see the competing stop", calls)
		}
		l.Spec.IdleTimeout = &metav1.Duration{Duration: time.Hour}
		return nil
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || calls != 2 {
		t.Errorf("Update took %d attempts and %d calls of change, want 2 and 2", res.Attempts, calls)
	}
	lab := labOnBranch(t, bare, "ada-a100")
	if !lab.Spec.Stopped || lab.Spec.IdleTimeout == nil || lab.Spec.IdleTimeout.Duration != time.Hour {
		t.Errorf("lab after both: stopped %v, idle timeout %v; want the competing stop kept and ours added", lab.Spec.Stopped, lab.Spec.IdleTimeout)
	}
	if got := gittest.Git(t, bare, "log", "--format=%s", "main"); !strings.HasPrefix(got, "Set an idle timeout\nStop JupyterLab jupyter/ada-a100\n") {
		t.Errorf("history = %q", got)
	}
}

func TestConcurrentStopsOfOneLabCommitOnce(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	ctx := context.Background()
	if _, _, err := publisher(t, bare, "main").Create(ctx, []*labkitv1alpha1.JupyterLab{build(t, nil)}, false); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	updates := make([]*Updated, 3)
	for i := range errs {
		pub := publisher(t, bare, "main") // here: t.Fatal belongs to the test's goroutine
		wg.Go(func() { updates[i], errs[i] = pub.Stop(ctx, "jupyter", "ada-a100", false) })
	}
	wg.Wait()
	// Stops that start from the same tip within one second make the same commit, byte for byte, so
	// more than one may push it and succeed: each then reports the one commit that is on the branch.
	tip := strings.TrimSpace(gittest.Git(t, bare, "rev-parse", "main"))
	stopped := 0
	for i, err := range errs {
		switch {
		case err == nil:
			stopped++
			if updates[i].Commit != tip {
				t.Errorf("a stop reports commit %s, but the branch is at %s", updates[i].Commit, tip)
			}
		case !errors.Is(err, ErrUnchanged):
			t.Errorf("concurrent stop: %v, want success or ErrUnchanged", err)
		}
	}
	if n := strings.Count(gittest.Git(t, bare, "log", "--format=%s", "main"), "Stop JupyterLab"); stopped == 0 || n != 1 {
		t.Errorf("%d stops succeeded and %d were committed, want at least 1 and exactly 1", stopped, n)
	}
}

func TestUpdateRefusesALabFileWithFieldsItDoesNotKnow(t *testing.T) {
	t.Parallel()
	bare, p := published(t)
	ctx := context.Background()
	// A person adds a field by hand that this labctl does not know.
	work := t.TempDir()
	gittest.Git(t, work, "clone", "--quiet", bare, ".")
	file := LabPath("jupyter", "ada-a100")
	data, err := os.ReadFile(filepath.Join(work, file))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, file), strings.Replace(string(data), "spec:\n", "spec:\n  futureField: keep me\n", 1))
	gittest.Git(t, work, "commit", "--quiet", "-am", "Hand edit")
	gittest.Git(t, work, "push", "--quiet", "origin", "HEAD:main")
	before := gittest.Refs(t, bare)
	if _, err := p.Stop(ctx, "jupyter", "ada-a100", false); err == nil || !strings.Contains(err.Error(), "futureField") ||
		!strings.Contains(err.Error(), "change this one by hand") {
		t.Errorf("stop of a lab file with an unknown field: %v, want a refusal naming it", err)
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("the refused stop changed the remote:\n%s", after)
	}
}

// Defect: `labctl delete ada --branch mian` made refs/heads/mian from main and said "removed", and
// list on a missing branch listed main's labs. Only Create starts a branch.
func TestOnlyCreateStartsABranch(t *testing.T) {
	t.Parallel()
	bare, _ := published(t)
	ctx := context.Background()
	before := gittest.Refs(t, bare)
	mian := publisher(t, bare, "mian")
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrNoBranch) || !strings.Contains(err.Error(), `branch "mian" does not exist`) ||
			!strings.Contains(err.Error(), "its branches: main") || !strings.Contains(err.Error(), "only labctl create starts") {
			t.Errorf("%s on a missing branch: %v, want ErrNoBranch naming the branches there are", what, err)
		}
	}
	_, _, err := mian.Delete(ctx, "jupyter", "ada-a100", false)
	check("delete", err)
	_, _, err = mian.Delete(ctx, "jupyter", "ada-a100", true)
	check("delete --dry-run", err)
	_, err = mian.Stop(ctx, "jupyter", "ada-a100", false)
	check("stop", err)
	_, err = mian.Snapshot(ctx, false)
	check("snapshot", err)
	_, err = mian.List(ctx)
	check("list", err)
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("refused changes moved the remote's branches:\n%s\nwant\n%s", after, before)
	}

	// create may: it says where the branch starts, for a dry run too.
	lab := build(t, func(r *Request) { r.Name = "grace" })
	res, _, err := mian.Create(ctx, []*labkitv1alpha1.JupyterLab{lab}, true)
	if err != nil || !res.NewBranch || res.From != "main" {
		t.Errorf("dry-run create on a new branch: %+v, %v; want NewBranch from main", res, err)
	}
	res, _, err = mian.Create(ctx, []*labkitv1alpha1.JupyterLab{lab}, false)
	if err != nil || !res.NewBranch || res.From != "main" {
		t.Errorf("create on a new branch: %+v, %v; want NewBranch from main", res, err)
	}
	res, _, err = mian.Create(ctx, []*labkitv1alpha1.JupyterLab{build(t, func(r *Request) { r.Name = "hopper" })}, false)
	if err != nil || res.NewBranch {
		t.Errorf("create on the branch it made: %+v, %v; want no new branch", res, err)
	}
}

func TestAnEmptyRepositorySaysCreateMakesTheFirstBranch(t *testing.T) {
	t.Parallel()
	bare := filepath.Join(t.TempDir(), "empty.git")
	gittest.Git(t, "", "init", "--quiet", "--bare", bare)
	_, err := publisher(t, bare, "main").List(context.Background())
	if !errors.Is(err, ErrNoBranch) || !strings.Contains(err.Error(), "has no branches yet") {
		t.Errorf("list of an empty repository: %v, want ErrNoBranch saying labctl create makes the first", err)
	}
}

// Defect: a lab created on feature/alice named feature/alice in its Application, which then followed a
// branch about to be deleted once merged; and a branch started from main kept main's Application files,
// so two root Applications claimed them. Branches are now proposals (--track) or environments.
func TestBranchesAsProposalsNameTheTrackedBranch(t *testing.T) {
	t.Parallel()
	bare, _ := published(t)
	repo, err := gitops.New(bare, "feature/alice", gitops.WithEnv(gittest.Env...), gitops.WithWorkDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	p := &Publisher{Repo: repo, Target: Target{RepoURL: "http://git.example/labs.git", Revision: "main"}}
	if _, _, err := p.Create(context.Background(), []*labkitv1alpha1.JupyterLab{build(t, func(r *Request) { r.Name = "alice" })}, false); err != nil {
		t.Fatal(err)
	}
	app := gittest.Git(t, bare, "show", "feature/alice:apps/jupyter/alice.yaml")
	if !strings.Contains(app, "targetRevision: main") || !strings.Contains(app, "name: lab-jupyter-alice") {
		t.Errorf("the proposal's Application must follow main, the branch it is merged into:\n%s", app)
	}
}

func TestBranchesAsEnvironmentsCoexist(t *testing.T) {
	t.Parallel()
	bare, _ := published(t) // main holds jupyter/ada-a100
	ctx := context.Background()
	env := func(branch string) *Publisher {
		repo, err := gitops.New(bare, branch, gitops.WithEnv(gittest.Env...), gitops.WithWorkDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		return &Publisher{Repo: repo, Target: Target{RepoURL: "http://git.example/labs.git", Revision: branch, Environment: EnvironmentOf(branch)}}
	}
	staging, team := env("staging"), env("team/b")
	for _, p := range []*Publisher{staging, team} {
		if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{build(t, func(r *Request) { r.Name, r.Namespace = "grace", "env-"+p.Target.Environment })}, false); err != nil {
			t.Fatal(err)
		}
	}
	// Each branch's root Application syncs its own folder, whose Applications carry the environment's name.
	rootA, rootB := RootApplication(RootAppName(staging.Target), staging.Target), RootApplication(RootAppName(team.Target), team.Target)
	if rootA.Name != "labs-staging" || rootA.Spec.Source.Path != "apps/staging" || rootA.Spec.Source.TargetRevision != "staging" ||
		rootB.Name != "labs-team-b" || rootB.Spec.Source.Path != "apps/team-b" || rootB.Spec.Source.TargetRevision != "team/b" {
		t.Errorf("root Applications: %s %s@%s and %s %s@%s", rootA.Name, rootA.Spec.Source.Path, rootA.Spec.Source.TargetRevision,
			rootB.Name, rootB.Spec.Source.Path, rootB.Spec.Source.TargetRevision)
	}
	appNames := func(branch, dir string) []string {
		var names []string
		for f := range strings.Lines(gittest.Git(t, bare, "ls-tree", "-r", "--name-only", branch, dir)) {
			data := gittest.Git(t, bare, "show", branch+":"+strings.TrimSpace(f))
			for l := range strings.Lines(data) {
				if n, ok := strings.CutPrefix(strings.TrimSpace(l), "name: lab-"); ok {
					names = append(names, "lab-"+n)
				}
			}
		}
		return names
	}
	a, b, m := appNames("staging", "apps/staging"), appNames("team/b", "apps/team-b"), appNames("main", "apps/jupyter")
	if len(a) != 1 || a[0] != "lab-staging-env-staging-grace" || len(b) != 1 || b[0] != "lab-team-b-env-team-b-grace" || len(m) != 1 || m[0] != "lab-jupyter-ada-a100" {
		t.Errorf("Applications each root syncs: staging %q, team/b %q, main %q; want one each, no name shared", a, b, m)
	}
	// The environment's folder outlives its last lab, so that its root Application can prune it.
	if _, _, err := staging.Delete(ctx, "env-staging", "grace", false); err != nil {
		t.Fatal(err)
	}
	if files := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "staging", "apps/staging"); strings.TrimSpace(files) != "apps/staging/README.md" {
		t.Errorf("apps/staging after its last lab is deleted: %q, want the README that keeps the folder", files)
	}
	if _, _, err := staging.Create(ctx, []*labkitv1alpha1.JupyterLab{build(t, func(r *Request) { r.Name, r.Namespace = "grace", "env-staging" })}, false); err != nil {
		t.Fatal(err)
	}
	// The branch keeps main's files, but its labs are those of its environment.
	snap, err := staging.Snapshot(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Labs) != 1 || snap.Labs[0].Lab.Name != "grace" {
		t.Errorf("labs of the staging environment: %d, want grace only (not main's ada-a100)", len(snap.Labs))
	}
}
