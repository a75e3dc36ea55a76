package generator

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/gitops"
)

// ErrLabExists and ErrLabNotFound say why a create or delete was refused.
var (
	ErrLabExists   = errors.New("lab already exists")
	ErrLabNotFound = errors.New("lab not found")
)

// Publisher writes labs to a GitOps repository laid out as described on LabsDir and AppsDir.
type Publisher struct {
	Repo   *gitops.Repo
	Target Target
}

// Create commits the files of labs (one commit for all of them) and pushes it. A lab that already
// exists on the branch refuses the whole batch. With dryRun it returns the diff and pushes nothing.
func (p *Publisher) Create(ctx context.Context, labs []*labkitv1alpha1.JupyterLab, dryRun bool) (gitops.Result, string, error) {
	if len(labs) == 0 {
		return gitops.Result{}, "", errors.New("no labs to create")
	}
	var changes []gitops.Change
	for _, lab := range labs {
		files, err := Render(lab, p.Target)
		if err != nil {
			return gitops.Result{}, "", err
		}
		changes = append(changes, files...)
	}
	prepare := func(tree *gitops.Tree) ([]gitops.Change, error) {
		for _, lab := range labs {
			if _, found, err := tree.Read(LabPath(lab.Namespace, lab.Name)); err != nil {
				return nil, err
			} else if found {
				return nil, fmt.Errorf("%w: %s/%s is already on the branch; delete it first or choose another name", ErrLabExists, lab.Namespace, lab.Name)
			}
		}
		return changes, nil
	}
	return p.run(ctx, createMessage(labs), prepare, dryRun)
}

// Delete removes a lab's files, commits and pushes. Argo CD then prunes the lab's Application, whose
// finalizer deletes the lab and so everything the controller made for it.
func (p *Publisher) Delete(ctx context.Context, namespace, name string, dryRun bool) (gitops.Result, string, error) {
	prepare := func(tree *gitops.Tree) ([]gitops.Change, error) {
		if _, found, err := tree.Read(LabPath(namespace, name)); err != nil {
			return nil, err
		} else if !found {
			return nil, fmt.Errorf("%w: no %s/%s on the branch; labs there: %s", ErrLabNotFound, namespace, name, labNames(tree))
		}
		return []gitops.Change{
			{Path: LabDir(namespace, name), Delete: true},
			{Path: AppPath(namespace, name), Delete: true},
		}, nil
	}
	return p.run(ctx, fmt.Sprintf("Delete JupyterLab %s/%s", namespace, name), prepare, dryRun)
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
	// Tip is the branch's commit; Exists is false when the branch does not exist yet (Tip is then the
	// commit it would start from, or "" on an empty repository).
	Tip    string
	Exists bool
	// Labs are sorted by namespace and name.
	Labs []Entry
}

// Entry is one lab on the branch.
type Entry struct {
	Lab *labkitv1alpha1.JupyterLab
	// LastChange is the newest commit that changed the lab's files; set when Snapshot was asked for history.
	LastChange *gitops.Commit
}

// Snapshot reads the labs on the branch; with history, also the commit that last changed each one.
func (p *Publisher) Snapshot(ctx context.Context, history bool) (*Snapshot, error) {
	snap := &Snapshot{}
	err := p.Repo.View(ctx, func(tree *gitops.Tree) error {
		snap.Tip, snap.Exists = tree.Tip(), tree.BranchExists()
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
			e := Entry{Lab: lab}
			if history {
				// The lab's folder or its Application: either may be what changed it.
				c, ok, err := tree.LastChange(path.Dir(f), AppPath(lab.Namespace, lab.Name))
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
