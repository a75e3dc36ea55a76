package generator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/gitops"
)

// ErrNotApplied: the first commit of a switch of layout is not in effect in the cluster yet, so the
// second would delete labs; nothing is committed.
var ErrNotApplied = errors.New("the first step of the switch is not applied yet")

// Relayouted is what one call of Relayout did.
type Relayouted struct {
	// Step is 1 when the call took Argo CD's resources finalizer off the Applications that are to go,
	// 2 when it replaced them with those of the new layout.
	Step int
	// Namespaces are the namespaces switched, sorted.
	Namespaces []string
	// Going are the Applications that are to go (step 1) or went (step 2), by name.
	Going []string
	// Coming are the Applications that step 2 wrote (none in step 1).
	Coming []string
	// Result is the pushed commit; empty on a dry run.
	gitops.Result
	// Diff is the change in git diff format, on a dry run only.
	Diff string
}

// Relayout switches the namespaces of the branch (those named, or all that have labs) to layout to,
// without deleting or restarting a lab. It takes two calls, one commit each, because removing an
// Application that carries Argo CD's resources finalizer deletes its labs:
//
//  1. The Applications that are to go lose the finalizer; their labs keep running.
//  2. Once Argo CD has applied step 1 in the cluster, which applied must check for the Applications
//     named and refuse with an error otherwise (nothing is then committed), their files are removed
//     and those of the new layout written: Argo CD prunes the old Applications, which now leave their
//     labs alone, and the new ones adopt the same labs, unchanged.
//
// Each call does the next step the branch needs. A branch whose namespaces all have layout to already
// is ErrUnchanged.
func (p *Publisher) Relayout(ctx context.Context, to Layout, namespaces []string, applied func(ctx context.Context, apps []string) error, dryRun bool) (*Relayouted, error) {
	if _, err := ParseLayout("layout", string(to)); err != nil {
		return nil, err
	}
	// Which step is next, read once before the cluster is asked; the commit reads the branch again.
	var plan *relayoutPlan
	err := p.Repo.View(ctx, func(tree *gitops.Tree) error {
		var err error
		plan, err = p.planRelayout(tree, to, namespaces)
		return err
	})
	if err != nil {
		return nil, err
	}
	if plan.step == 2 && !dryRun {
		if err := applied(ctx, plan.going); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotApplied, err)
		}
	}
	out := &Relayouted{Step: plan.step, Namespaces: plan.namespaces, Going: plan.going}
	prepare := func(tree *gitops.Tree) ([]gitops.Change, error) {
		now, err := p.planRelayout(tree, to, namespaces)
		if err != nil {
			return nil, err
		}
		if now.step != plan.step || !slices.Equal(now.namespaces, plan.namespaces) {
			return nil, fmt.Errorf("the branch changed while the layout was being switched (now step %d of namespaces %s): run it again", now.step, strings.Join(now.namespaces, ", "))
		}
		out.Coming = now.coming
		return now.changes, nil
	}
	message := fmt.Sprintf("Prepare %s for %s: their Applications no longer delete their labs when removed\n\n"+
		"Step 1 of 2 of switching the layout; step 2 replaces the Applications once Argo CD has applied this.",
		plural("namespace", plan.namespaces), to.describe())
	if plan.step == 2 {
		message = fmt.Sprintf("Switch %s to %s\n\nStep 2 of 2 of switching the layout: no lab is deleted, Argo CD's new Applications adopt them.",
			plural("namespace", plan.namespaces), to.describe())
	}
	out.Result, out.Diff, err = p.run(ctx, message, prepare, dryRun)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// relayoutPlan is the next step of a switch to a layout, on one tree of the branch.
type relayoutPlan struct {
	step       int
	namespaces []string
	going      []string
	coming     []string
	changes    []gitops.Change
}

func (p *Publisher) planRelayout(tree *gitops.Tree, to Layout, only []string) (*relayoutPlan, error) {
	if !tree.BranchExists() {
		return nil, p.noBranch(tree)
	}
	byNS := labFilesByNamespace(tree)
	for ns := range byNS { // only the namespaces with an Application of this branch
		if _, ok := p.Target.LayoutOf(tree, ns); !ok {
			delete(byNS, ns)
		}
	}
	if len(byNS) == 0 {
		return nil, refuse(ErrUnchanged, "branch %s has no labs, so there is nothing to switch; `labctl create --layout %s` gives a new namespace that layout", p.Repo.Branch(), to)
	}
	if len(only) == 0 {
		for ns := range byNS {
			only = append(only, ns)
		}
	}
	slices.Sort(only)
	only = slices.Compact(only)
	plan := &relayoutPlan{step: 2}
	var withFinalizer []gitops.Change
	for _, ns := range only {
		if _, ok := byNS[ns]; !ok {
			have := make([]string, 0, len(byNS))
			for n := range byNS {
				have = append(have, n)
			}
			slices.Sort(have)
			return nil, fmt.Errorf("namespace %q has no labs on branch %s, so it has no layout to switch; namespaces with labs: %s",
				ns, p.Repo.Branch(), cmp.Or(strings.Join(have, ", "), "none"))
		}
		if l, _ := p.Target.LayoutOf(tree, ns); l == to {
			continue
		}
		plan.namespaces = append(plan.namespaces, ns)
		for _, f := range p.appFiles(tree, ns) {
			data, _, err := tree.Read(f)
			if err != nil {
				return nil, err
			}
			name, stripped, had, err := withoutFinalizer(data)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w; labctl switches only Applications it can read, so change this one by hand", f, err)
			}
			plan.going = append(plan.going, name)
			if had {
				withFinalizer = append(withFinalizer, gitops.Change{Path: f, Content: stripped})
			}
			plan.changes = append(plan.changes, gitops.Change{Path: f, Delete: true})
		}
		// The new Applications: the namespace's, or one per lab.
		for i, f := range byNS[ns] {
			data, _, err := tree.Read(f)
			if err != nil {
				return nil, err
			}
			lab := &labkitv1alpha1.JupyterLab{}
			if err := yaml.Unmarshal(data, lab); err != nil {
				return nil, fmt.Errorf("read %s: %w", f, err)
			}
			if to == LayoutNamespace && i > 0 {
				continue
			}
			app, err := renderApp(lab, p.Target, to)
			if err != nil {
				return nil, err
			}
			plan.changes = append(plan.changes, app)
			if to == LayoutNamespace {
				plan.coming = append(plan.coming, p.Target.NamespaceAppName(ns))
			} else {
				plan.coming = append(plan.coming, p.Target.AppName(lab.Namespace, lab.Name))
			}
		}
	}
	if len(plan.namespaces) == 0 {
		return nil, refuse(ErrUnchanged, "every namespace with labs on branch %s has %s already (layout %q): nothing to switch", p.Repo.Branch(), to.describe(), to)
	}
	if len(withFinalizer) > 0 {
		plan.step, plan.changes, plan.coming = 1, withFinalizer, nil
	}
	return plan, nil
}

// appFiles are the Application files of namespace on the branch, in whichever layout it has.
func (p *Publisher) appFiles(tree *gitops.Tree, namespace string) []string {
	if l, _ := p.Target.LayoutOf(tree, namespace); l == LayoutNamespace {
		return []string{p.Target.NamespaceAppPath(namespace)}
	}
	var files []string
	for _, f := range tree.List(path.Join(p.Target.AppsDir(), namespace)) {
		if path.Ext(f) == ".yaml" {
			files = append(files, f)
		}
	}
	return files
}

// withoutFinalizer is the Application manifest data without Argo CD's resources finalizer, every other
// field kept as it is, its name, and whether it had the finalizer.
func withoutFinalizer(data []byte) (name string, out []byte, had bool, err error) {
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return "", nil, false, err
	}
	if obj["kind"] != "Application" {
		return "", nil, false, fmt.Errorf("it is a %v, not an Argo CD Application", obj["kind"])
	}
	meta, _ := obj["metadata"].(map[string]any)
	name, _ = meta["name"].(string)
	if name == "" {
		return "", nil, false, errors.New("the Application has no name")
	}
	finalizers, _ := meta["finalizers"].([]any)
	kept := finalizers[:0:0]
	for _, f := range finalizers {
		if f == argocd.ResourcesFinalizer {
			had = true
			continue
		}
		kept = append(kept, f)
	}
	if !had {
		return name, data, false, nil
	}
	if len(kept) == 0 {
		delete(meta, "finalizers")
	} else {
		meta["finalizers"] = kept
	}
	out, err = yaml.Marshal(obj)
	return name, out, true, err
}

func plural(noun string, names []string) string {
	if len(names) == 1 {
		return noun + " " + names[0]
	}
	return noun + "s " + strings.Join(names, ", ")
}

// ApplicationOf is the name of the Argo CD Application that syncs the lab on the branch: its own, or
// its namespace's (LayoutNamespace).
func (p *Publisher) ApplicationOf(ctx context.Context, namespace, name string) (string, error) {
	app := p.Target.AppName(namespace, name)
	err := p.Repo.View(ctx, func(tree *gitops.Tree) error {
		if l, _ := p.Target.LayoutOf(tree, namespace); l == LayoutNamespace {
			app = p.Target.NamespaceAppName(namespace)
		}
		return nil
	})
	return app, err
}
