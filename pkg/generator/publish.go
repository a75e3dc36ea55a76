package generator

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/internal/kobj"
)

// Why a create, delete or update was refused.
var (
	ErrLabExists   = errors.New("lab already exists")
	ErrLabNotFound = errors.New("lab not found")
	// ErrUnchanged: the lab is already as the update would make it (stopped, expiring then); nothing is
	// committed.
	ErrUnchanged = errors.New("the lab is already so")
	// ErrExpired: the lab's expiry has passed, so it cannot start before it is given more time (Extend).
	ErrExpired = errors.New("lab expired")
	// ErrNoBranch: the branch does not exist on the remote. Only Create starts a branch, so that a
	// mistyped --branch is an error rather than a new branch.
	ErrNoBranch = errors.New("no such branch")
)

// noBranch is the ErrNoBranch of tree's remote, naming the branches there are.
func (p *Publisher) noBranch(tree *gitops.Tree) error {
	branches := tree.Branches()
	if len(branches) == 0 {
		return refuse(ErrNoBranch, "the repository %s has no branches yet, so no branch %q: labctl create makes the first", p.Repo.Remote(), p.Repo.Branch())
	}
	return refuse(ErrNoBranch, "branch %q does not exist in %s; its branches: %s (only labctl create starts a new branch)",
		p.Repo.Branch(), p.Repo.Remote(), strings.Join(branches, ", "))
}

// refusal is an error that reads as a sentence of its own and is its sentinel for errors.Is.
type refusal struct {
	sentinel error
	msg      string
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.sentinel }

func refuse(sentinel error, format string, args ...any) error {
	return &refusal{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
}

// Publisher writes labs to a GitOps repository laid out as described on LabsDir and AppsDir.
type Publisher struct {
	Repo   *gitops.Repo
	Target Target
}

// Create commits the files of labs (one commit for all of them) and pushes it. A lab that already
// exists on the branch refuses the whole batch. A branch that does not exist yet is started from the
// remote's default branch, and the Result says so (NewBranch, From). With dryRun it returns the diff
// and pushes nothing, and the Result says only whether the push would start the branch.
func (p *Publisher) Create(ctx context.Context, labs []*labkitv1alpha1.JupyterLab, dryRun bool) (gitops.Result, string, error) {
	if len(labs) == 0 {
		return gitops.Result{}, "", errors.New("no labs to create")
	}
	var newBranch bool
	var from string
	prepare := func(tree *gitops.Tree) ([]gitops.Change, error) {
		newBranch, from = !tree.BranchExists(), tree.StartsFrom()
		var changes []gitops.Change
		layouts := map[string]Layout{}
		for _, lab := range labs {
			if _, found, err := tree.Read(LabPath(lab.Namespace, lab.Name)); err != nil {
				return nil, err
			} else if found {
				return nil, fmt.Errorf("%w: %s/%s is already on the branch; delete it first or choose another name", ErrLabExists, lab.Namespace, lab.Name)
			}
			l, seen := layouts[lab.Namespace]
			if !seen {
				var err error
				if l, err = p.Target.layoutFor(tree, lab.Namespace); err != nil {
					return nil, err
				}
				layouts[lab.Namespace] = l
			}
			file, err := renderLab(lab)
			if err != nil {
				return nil, err
			}
			changes = append(changes, file)
			// A namespace's Application is written once, with its first lab.
			if l == LayoutNamespace && (seen || tree.Has(p.Target.NamespaceAppPath(lab.Namespace))) {
				continue
			}
			app, err := renderApp(lab, p.Target, l)
			if err != nil {
				return nil, err
			}
			changes = append(changes, app)
		}
		// An environment's folder must outlive its last lab: its root Application syncs it, and Argo
		// CD prunes what a folder no longer holds, but refuses a folder that is gone.
		if keep := path.Join(p.Target.AppsDir(), "README.md"); p.Target.Environment != "" && !tree.Has(keep) {
			changes = append(changes, gitops.Change{Path: keep, Content: []byte(fmt.Sprintf(
				"The Argo CD Applications of environment %s (branch %s): one per lab, or one per namespace; its root Application %s syncs this folder.\n",
				p.Target.Environment, p.Target.Revision, RootAppName(p.Target)))})
		}
		return changes, nil
	}
	res, diff, err := p.run(ctx, createMessage(labs), prepare, dryRun)
	if err == nil && dryRun {
		res.NewBranch, res.From = newBranch, from // what the push would do
	}
	return res, diff, err
}

// Delete removes a lab's files, commits and pushes. Argo CD then prunes the lab's Application, whose
// finalizer deletes the lab and so everything the controller made for it; in LayoutNamespace, the
// namespace's Application prunes the lab, and goes itself with the namespace's last lab (Argo CD
// refuses an Application whose folder is gone).
func (p *Publisher) Delete(ctx context.Context, namespace, name string, dryRun bool) (gitops.Result, string, error) {
	prepare := func(tree *gitops.Tree) ([]gitops.Change, error) {
		if !tree.BranchExists() {
			return nil, p.noBranch(tree)
		}
		if _, found, err := tree.Read(LabPath(namespace, name)); err != nil {
			return nil, err
		} else if !found {
			return nil, fmt.Errorf("%w: no %s/%s on the branch; labs there: %s", ErrLabNotFound, namespace, name, labNames(tree))
		}
		changes := []gitops.Change{
			{Path: LabDir(namespace, name), Delete: true},
			{Path: p.Target.AppPath(namespace, name), Delete: true},
		}
		if l, _ := p.Target.LayoutOf(tree, namespace); l == LayoutNamespace && len(labFilesByNamespace(tree)[namespace]) == 1 {
			changes = append(changes, gitops.Change{Path: p.Target.NamespaceAppPath(namespace), Delete: true})
		}
		return changes, nil
	}
	return p.run(ctx, fmt.Sprintf("Delete JupyterLab %s/%s", namespace, name), prepare, dryRun)
}

// Updated is what Update committed.
type Updated struct {
	// Result is the pushed commit; empty on a dry run.
	gitops.Result
	// Diff is the change in git diff format, on a dry run only.
	Diff string
	// Before is the lab as the branch held it, After as the commit leaves it.
	Before, After *labkitv1alpha1.JupyterLab
}

// Update reads a lab's file on the branch, applies change to it, writes it back and commits and pushes
// it with message, only if the branch did not move meanwhile; if it did, Update reads the lab again and
// applies change again on the new tip, so change must check what it needs every time it is called. An
// error from change refuses the update and pushes nothing. A lab not on the branch is ErrLabNotFound,
// naming those there; a change that leaves the lab as it is, ErrUnchanged. The file is rendered as
// Create renders it, so a file labctl wrote changes in the changed lines only. With dryRun it returns
// the diff and pushes nothing.
func (p *Publisher) Update(ctx context.Context, namespace, name, message string, change func(*labkitv1alpha1.JupyterLab) error, dryRun bool) (*Updated, error) {
	u := &Updated{}
	file := LabPath(namespace, name)
	prepare := func(tree *gitops.Tree) ([]gitops.Change, error) {
		if !tree.BranchExists() {
			return nil, p.noBranch(tree)
		}
		data, found, err := tree.Read(file)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("%w: no %s/%s on branch %s; labs there: %s", ErrLabNotFound, namespace, name, p.Repo.Branch(), labNames(tree))
		}
		before := &labkitv1alpha1.JupyterLab{}
		// Strict: a field labctl does not know would be lost when it writes the file back.
		if err := yaml.UnmarshalStrict(data, before); err != nil {
			return nil, fmt.Errorf("read %s: %w; labctl changes only lab files it can read whole, so change this one by hand", file, err)
		}
		after := before.DeepCopy()
		if err := change(after); err != nil {
			return nil, err
		}
		if after.Name != before.Name || after.Namespace != before.Namespace {
			return nil, fmt.Errorf("update of lab %s/%s would rename it to %s/%s: a lab keeps its name; create a new one instead", namespace, name, after.Namespace, after.Name)
		}
		if equality.Semantic.DeepEqual(before, after) {
			return nil, refuse(ErrUnchanged, "lab %s/%s is already as %q would make it: nothing to commit", namespace, name, message)
		}
		content, err := kobj.YAML(after)
		if err != nil {
			return nil, fmt.Errorf("render lab %s/%s: %w", namespace, name, err)
		}
		u.Before, u.After = before, after
		return []gitops.Change{{Path: file, Content: content}}, nil
	}
	var err error
	u.Result, u.Diff, err = p.run(ctx, message, prepare, dryRun)
	if errors.Is(err, gitops.ErrNoChanges) {
		return nil, refuse(ErrUnchanged, "lab %s/%s is already as %q would make it: nothing to commit", namespace, name, message)
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Stop sets the lab's spec.stopped: once Argo CD syncs the commit, the controller scales it to zero, so
// its pod goes and its GPUs are free; its volume, files and URL stay. A lab stopped already is
// ErrUnchanged.
func (p *Publisher) Stop(ctx context.Context, namespace, name string, dryRun bool) (*Updated, error) {
	return p.Update(ctx, namespace, name, fmt.Sprintf("Stop JupyterLab %s/%s", namespace, name), func(l *labkitv1alpha1.JupyterLab) error {
		if l.Spec.Stopped {
			return refuse(ErrUnchanged, "lab %s/%s is already stopped on branch %s: nothing to commit; %s starts it", namespace, name, p.Repo.Branch(), CommandLine("start", namespace, name, ""))
		}
		l.Spec.Stopped = true
		return nil
	}, dryRun)
}

// Start clears the lab's spec.stopped and sets spec.startedAt to now, which also starts a lab the
// controller stopped for being idle. A lab whose expiry is not after now is ErrExpired: Extend gives it
// more time, and so starts it.
func (p *Publisher) Start(ctx context.Context, namespace, name string, now time.Time, dryRun bool) (*Updated, error) {
	startedAt := metav1.NewTime(now.UTC().Truncate(time.Second))
	return p.Update(ctx, namespace, name, fmt.Sprintf("Start JupyterLab %s/%s", namespace, name), func(l *labkitv1alpha1.JupyterLab) error {
		if exp := l.Spec.ExpiresAt; exp != nil && !now.Before(exp.Time) {
			extend := CommandLine("extend", namespace, name, "--for 7d")
			if l.Spec.Stopped { // extending leaves it stopped
				return refuse(ErrExpired, "lab %s expired at %s: %s gives it more time, then %s starts it", name, FormatTime(exp.Time), extend, CommandLine("start", namespace, name, ""))
			}
			return refuse(ErrExpired, "lab %s expired at %s: %s gives it more time and starts it", name, FormatTime(exp.Time), extend)
		}
		if !l.Spec.Stopped && l.Spec.StartedAt != nil && l.Spec.StartedAt.Equal(&startedAt) {
			return refuse(ErrUnchanged, "lab %s/%s was started at %s already: nothing to commit", namespace, name, FormatTime(startedAt.Time))
		}
		l.Spec.Stopped = false
		l.Spec.StartedAt = startedAt.DeepCopy()
		return nil
	}, dryRun)
}

// Extend moves the lab's expiry later, to until; a lab that had expired then runs again (unless it is
// stopped, see Start). An expiry that is not later than the lab's is refused, as is one in the past.
func (p *Publisher) Extend(ctx context.Context, namespace, name string, until time.Time, dryRun bool) (*Updated, error) {
	until = until.UTC().Truncate(time.Second)
	if now := time.Now(); !until.After(now) {
		return nil, fmt.Errorf("extend lab %s/%s until %s: that is in the past (it is %s now); give a later time", namespace, name, FormatTime(until), FormatTime(now))
	}
	message := fmt.Sprintf("Extend JupyterLab %s/%s until %s", namespace, name, FormatTime(until))
	return p.Update(ctx, namespace, name, message, func(l *labkitv1alpha1.JupyterLab) error {
		switch exp := l.Spec.ExpiresAt; {
		case exp == nil:
		case exp.Time.Equal(until):
			return refuse(ErrUnchanged, "lab %s/%s already expires at %s: nothing to commit", namespace, name, FormatTime(until))
		case until.Before(exp.Time):
			return fmt.Errorf("lab %s/%s expires at %s, later than %s: extend moves the expiry only later; give a later --until or a longer --for",
				namespace, name, FormatTime(exp.Time), FormatTime(until))
		}
		l.Spec.ExpiresAt = &metav1.Time{Time: until}
		return nil
	}, dryRun)
}

// CommandLine is the labctl command line that does verb to a lab, e.g. "labctl start ada" or
// "labctl extend ada -n team-a --for 7d": the namespace is named unless it is the default one.
func CommandLine(verb, namespace, name, args string) string {
	c := "labctl " + verb + " " + name
	if namespace != Defaults.Namespace {
		c += " -n " + namespace
	}
	if args != "" {
		c += " " + args
	}
	return c
}

func (p *Publisher) run(ctx context.Context, message string, prepare gitops.PrepareFunc, dryRun bool) (gitops.Result, string, error) {
	if dryRun {
		diff, err := p.Repo.DryRun(ctx, prepare)
		return gitops.Result{}, diff, err
	}
	res, err := p.Repo.Commit(ctx, message, prepare)
	return res, "", err
}

// List returns the labs on the branch, sorted by namespace and name.
func (p *Publisher) List(ctx context.Context) ([]*labkitv1alpha1.JupyterLab, error) {
	snap, err := p.Snapshot(ctx, false)
	if err != nil {
		return nil, err
	}
	labs := make([]*labkitv1alpha1.JupyterLab, len(snap.Labs))
	for i, e := range snap.Labs {
		labs[i] = e.Lab
	}
	return labs, nil
}

// Snapshot is the branch as it is at one commit.
type Snapshot struct {
	// Tip is the branch's commit.
	Tip string
	// Labs are sorted by namespace and name.
	Labs []Entry
}

// Entry is one lab on the branch.
type Entry struct {
	Lab *labkitv1alpha1.JupyterLab
	// LastChange is the newest commit that changed the lab's files; set when Snapshot was asked for history.
	LastChange *gitops.Commit
}

// Snapshot reads the labs on the branch; with history, also the commit that last changed each one. A
// branch that does not exist is ErrNoBranch, naming those that do.
func (p *Publisher) Snapshot(ctx context.Context, history bool) (*Snapshot, error) {
	snap := &Snapshot{}
	err := p.Repo.View(ctx, func(tree *gitops.Tree) error {
		if !tree.BranchExists() {
			return p.noBranch(tree)
		}
		snap.Tip = tree.Tip()
		for _, f := range tree.List(LabsDir) {
			if path.Base(f) != labFile {
				continue
			}
			data, _, err := tree.Read(f)
			if err != nil {
				return err
			}
			lab := &labkitv1alpha1.JupyterLab{}
			if err := yaml.Unmarshal(data, lab); err != nil {
				return fmt.Errorf("read %s: %w", f, err)
			}
			// An environment's labs are those with an Application of the environment, their own or
			// their namespace's: a branch started from another keeps that one's files, which no
			// Application of this one syncs.
			if p.Target.Environment != "" && !tree.Has(p.Target.AppPath(lab.Namespace, lab.Name)) &&
				!tree.Has(p.Target.NamespaceAppPath(lab.Namespace)) {
				continue
			}
			e := Entry{Lab: lab}
			if history {
				// The lab's folder or its Application: either may be what changed it.
				c, ok, err := tree.LastChange(path.Dir(f), p.Target.AppPath(lab.Namespace, lab.Name))
				if err != nil {
					return err
				}
				if ok {
					e.LastChange = &c
				}
			}
			snap.Labs = append(snap.Labs, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(snap.Labs, func(i, j int) bool {
		a, b := snap.Labs[i].Lab, snap.Labs[j].Lab
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return snap, nil
}

// labFilesByNamespace are the lab files on the branch (labs/<namespace>/<name>/jupyterlab.yaml), by
// namespace.
func labFilesByNamespace(tree *gitops.Tree) map[string][]string {
	byNS := map[string][]string{}
	for _, f := range tree.List(LabsDir) {
		if path.Base(f) == labFile && path.Dir(path.Dir(path.Dir(f))) == LabsDir {
			ns := path.Base(path.Dir(path.Dir(f)))
			byNS[ns] = append(byNS[ns], f)
		}
	}
	return byNS
}

func labNames(tree *gitops.Tree) string {
	var names []string
	for _, f := range tree.List(LabsDir) {
		if path.Base(f) == labFile {
			names = append(names, strings.TrimPrefix(path.Dir(f), LabsDir+"/"))
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// createMessage says what a commit adds: "Add JupyterLab labs/ada-a100 for ada (1× NVIDIA-A100-SXM4-40GB, 8 CPU, 32Gi, 100Gi)".
func createMessage(labs []*labkitv1alpha1.JupyterLab) string {
	describe := func(l *labkitv1alpha1.JupyterLab) string {
		gpu := "no GPU"
		if l.GPUCount() > 0 {
			gpu = fmt.Sprintf("%d× %s", l.GPUCount(), l.Spec.GPU.Product)
		}
		r := l.Spec.Resources
		return fmt.Sprintf("%s/%s for %s (%s, %s CPU, %s memory, %s storage)",
			l.Namespace, l.Name, l.Spec.Owner, gpu, r.CPU.String(), r.Memory.String(), l.Spec.Storage.Size.String())
	}
	if len(labs) == 1 {
		return "Add JupyterLab " + describe(labs[0])
	}
	lines := make([]string, len(labs))
	for i, l := range labs {
		lines[i] = "- " + describe(l)
	}
	return fmt.Sprintf("Add %d JupyterLabs\n\n%s", len(labs), strings.Join(lines, "\n"))
}

// Includes says whether revision, a commit of the branch such as the one Argo CD synced an Application
// at, is commit or comes after it. It reads the branch as it is now.
func (p *Publisher) Includes(ctx context.Context, commit, revision string) (bool, error) {
	if commit == revision && commit != "" {
		return true, nil
	}
	var ok bool
	err := p.Repo.View(ctx, func(tree *gitops.Tree) error {
		var err error
		ok, err = tree.Includes(commit, revision)
		return err
	})
	return ok, err
}
