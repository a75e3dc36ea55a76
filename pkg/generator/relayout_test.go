package generator

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/internal/gittest"
)

func named(t *testing.T, namespace, name string) *labkitv1alpha1.JupyterLab {
	return build(t, func(r *Request) { r.Namespace, r.Name = namespace, name })
}

func filesOn(t *testing.T, bare, branch string) []string {
	t.Helper()
	return strings.Fields(gittest.Git(t, bare, "ls-tree", "-r", "--name-only", branch))
}

func appOn(t *testing.T, bare, branch, file string) *argocd.Application {
	t.Helper()
	app := &argocd.Application{}
	if err := yaml.UnmarshalStrict([]byte(gittest.Git(t, bare, "show", branch+":"+file)), app); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return app
}

func TestTheNamespaceLayoutWritesOneApplicationForAllTheNamespacesLabs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bare := gittest.Remote(t)
	p := publisher(t, bare, "main")
	p.Target.Layout = LayoutNamespace
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{named(t, "team-a", "one"), named(t, "team-a", "two"), named(t, "team-b", "three")}, false); err != nil {
		t.Fatal(err)
	}
	// Later labs follow the branch, with or without --layout.
	p.Target.Layout = ""
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{named(t, "team-a", "four")}, false); err != nil {
		t.Fatal(err)
	}
	want := []string{"apps/team-a.yaml", "apps/team-b.yaml", "labs/team-a/four/jupyterlab.yaml", "labs/team-a/one/jupyterlab.yaml",
		"labs/team-a/two/jupyterlab.yaml", "labs/team-b/three/jupyterlab.yaml"}
	if got := filesOn(t, bare, "main"); !slices.Equal(got, want) {
		t.Fatalf("files on main:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	app := appOn(t, bare, "main", "apps/team-a.yaml")
	if app.Name != "ns-team-a" || app.Spec.Source.Path != "labs/team-a" || app.Spec.Source.Directory == nil || !app.Spec.Source.Directory.Recurse ||
		app.Spec.Destination.Namespace != "team-a" || !slices.Contains(app.Finalizers, argocd.ResourcesFinalizer) {
		t.Errorf("namespace Application = %+v; want ns-team-a syncing labs/team-a recursively into team-a, with the resources finalizer", app)
	}
	// A sync applies only the labs that changed, not every lab of the namespace again.
	if p := app.Spec.SyncPolicy; p == nil || !slices.Equal(p.SyncOptions, []string{"CreateNamespace=true", "ApplyOutOfSyncOnly=true"}) {
		t.Errorf("namespace Application's sync policy = %+v; want it to create the namespace and apply only what is out of sync", p)
	}
	if name, err := p.ApplicationOf(ctx, "team-a", "four"); err != nil || name != "ns-team-a" {
		t.Errorf("ApplicationOf(team-a/four) = %q, %v; want ns-team-a", name, err)
	}

	// A lab layout asked for where the namespace has the other is refused, naming both and the way out.
	p.Target.Layout = LayoutLab
	tip := gittest.Git(t, bare, "rev-parse", "main")
	_, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{named(t, "team-a", "five")}, false)
	if err == nil || !strings.Contains(err.Error(), "namespace team-a on this branch has one Application for the whole namespace") ||
		!strings.Contains(err.Error(), "labctl layout lab") {
		t.Errorf("create with --layout lab in a namespace-layout namespace: %v", err)
	}
	if gittest.Git(t, bare, "rev-parse", "main") != tip {
		t.Error("the refused create moved main")
	}

	// Deleting a lab leaves the namespace's Application until its last lab goes.
	p.Target.Layout = ""
	if _, _, err := p.Delete(ctx, "team-b", "three", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Delete(ctx, "team-a", "one", false); err != nil {
		t.Fatal(err)
	}
	got := filesOn(t, bare, "main")
	if slices.Contains(got, "apps/team-b.yaml") || !slices.Contains(got, "apps/team-a.yaml") {
		t.Errorf("after deleting team-b's only lab and one of team-a's, files are %v; want team-b's Application gone, team-a's kept", got)
	}
}

func TestRelayoutSwitchesInTwoStepsAndNeverRemovesAnApplicationThatDeletesItsLabs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bare := gittest.Remote(t)
	p := publisher(t, bare, "main")
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{named(t, "team-a", "one"), named(t, "team-a", "two"), named(t, "team-b", "three")}, false); err != nil {
		t.Fatal(err)
	}
	labsBefore := gittest.Git(t, bare, "ls-tree", "-r", "main", "labs")

	var asked []string
	notYet := func(_ context.Context, apps []string) error {
		asked = apps
		return errors.New("lab-team-a-one still has the finalizer")
	}
	applied := func(_ context.Context, apps []string) error { asked = apps; return nil }

	// Step 1: the finalizers go, the Applications stay.
	step, err := p.Relayout(ctx, LayoutNamespace, nil, notYet, false)
	if err != nil {
		t.Fatal(err)
	}
	if step.Step != 1 || !slices.Equal(step.Namespaces, []string{"team-a", "team-b"}) || len(asked) != 0 {
		t.Fatalf("first call = step %d of %v (asked the cluster about %v); want step 1 of team-a, team-b without asking", step.Step, step.Namespaces, asked)
	}
	for _, f := range []string{"apps/team-a/one.yaml", "apps/team-a/two.yaml", "apps/team-b/three.yaml"} {
		if app := appOn(t, bare, "main", f); len(app.Finalizers) != 0 || app.Spec.Source.Path == "" {
			t.Errorf("after step 1, %s = %+v; want it whole, without finalizers", f, app)
		}
	}

	// Step 2 waits for the cluster: refused, nothing committed.
	tip := gittest.Git(t, bare, "rev-parse", "main")
	if _, err := p.Relayout(ctx, LayoutNamespace, nil, notYet, false); !errors.Is(err, ErrNotApplied) || !strings.Contains(err.Error(), "still has the finalizer") {
		t.Errorf("step 2 before Argo CD applied step 1: %v; want ErrNotApplied with the cluster's reason", err)
	}
	if gittest.Git(t, bare, "rev-parse", "main") != tip {
		t.Error("a refused step 2 moved main")
	}
	if !slices.Equal(asked, []string{"lab-team-a-one", "lab-team-a-two", "lab-team-b-three"}) {
		t.Errorf("step 2 asked the cluster about %v; want the three lab Applications", asked)
	}

	// Step 2: the old Applications' files go, the namespaces' come; the labs' files are untouched.
	step, err = p.Relayout(ctx, LayoutNamespace, nil, applied, false)
	if err != nil {
		t.Fatal(err)
	}
	if step.Step != 2 || !slices.Equal(step.Coming, []string{"ns-team-a", "ns-team-b"}) {
		t.Errorf("second call = step %d coming %v; want step 2 with ns-team-a, ns-team-b", step.Step, step.Coming)
	}
	want := []string{"apps/team-a.yaml", "apps/team-b.yaml", "labs/team-a/one/jupyterlab.yaml", "labs/team-a/two/jupyterlab.yaml", "labs/team-b/three/jupyterlab.yaml"}
	if got := filesOn(t, bare, "main"); !slices.Equal(got, want) {
		t.Errorf("files after step 2: %v; want %v", got, want)
	}
	if got := gittest.Git(t, bare, "ls-tree", "-r", "main", "labs"); got != labsBefore {
		t.Errorf("the labs' files changed:\n%s\nwere:\n%s", got, labsBefore)
	}
	if _, err := p.Relayout(ctx, LayoutNamespace, nil, applied, false); !errors.Is(err, ErrUnchanged) {
		t.Errorf("a third call: %v; want ErrUnchanged", err)
	}

	// And back, for one namespace only.
	if step, err = p.Relayout(ctx, LayoutLab, []string{"team-a"}, notYet, false); err != nil || step.Step != 1 {
		t.Fatalf("back to lab layout: %+v, %v; want step 1", step, err)
	}
	if app := appOn(t, bare, "main", "apps/team-a.yaml"); len(app.Finalizers) != 0 {
		t.Errorf("team-a's Application keeps finalizers %v after step 1", app.Finalizers)
	}
	if app := appOn(t, bare, "main", "apps/team-b.yaml"); !slices.Contains(app.Finalizers, argocd.ResourcesFinalizer) {
		t.Error("team-b's Application lost its finalizer; only team-a was named")
	}
	if step, err = p.Relayout(ctx, LayoutLab, []string{"team-a"}, applied, false); err != nil || step.Step != 2 {
		t.Fatalf("back to lab layout, step 2: %+v, %v", step, err)
	}
	want = []string{"apps/team-a/one.yaml", "apps/team-a/two.yaml", "apps/team-b.yaml", "labs/team-a/one/jupyterlab.yaml",
		"labs/team-a/two/jupyterlab.yaml", "labs/team-b/three/jupyterlab.yaml"}
	if got := filesOn(t, bare, "main"); !slices.Equal(got, want) {
		t.Errorf("files after switching team-a back: %v; want %v", got, want)
	}
	if app := appOn(t, bare, "main", "apps/team-a/one.yaml"); !slices.Contains(app.Finalizers, argocd.ResourcesFinalizer) || app.Name != "lab-team-a-one" {
		t.Errorf("the new lab Application = %+v; want lab-team-a-one with the resources finalizer", app)
	}

	if _, err := p.Relayout(ctx, LayoutLab, []string{"team-c"}, applied, false); err == nil ||
		!strings.Contains(err.Error(), `namespace "team-c" has no labs`) || !strings.Contains(err.Error(), "team-a, team-b") {
		t.Errorf("switching a namespace without labs: %v; want it named, with those that have labs", err)
	}
}

func TestTheNamespaceLayoutOnAnEnvironmentBranch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bare := gittest.Remote(t)
	p := publisher(t, bare, "staging")
	p.Target.Environment, p.Target.Layout = EnvironmentOf("staging"), LayoutNamespace
	if _, _, err := p.Create(ctx, []*labkitv1alpha1.JupyterLab{named(t, "team-a", "one")}, false); err != nil {
		t.Fatal(err)
	}
	app := appOn(t, bare, "staging", "apps/staging/team-a.yaml")
	if app.Name != "ns-staging-team-a" || app.Spec.Source.Path != "labs/team-a" || app.Spec.Source.TargetRevision != "staging" {
		t.Errorf("the environment's namespace Application = %+v", app)
	}
	labs, err := p.List(ctx)
	if err != nil || len(labs) != 1 || labs[0].Name != "one" {
		t.Errorf("List on the environment = %v, %v; want its one lab", labs, err)
	}
}
