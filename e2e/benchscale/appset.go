package main

import (
	"context"
	"fmt"
	"path"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	labargocd "github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// The ApplicationSet pass measures the other way the issue names of handing many labs to Argo CD:
// an ApplicationSet whose Git files generator makes one Application per lab file, the Applications
// of the lab layout (same names, same spec), made by Argo CD's applicationset controller from the
// branch instead of by the root Application from files in apps/. labctl does not write this layout:
// the pass is here to show what it would give (docs/gitops-layout.md says what was chosen and why).
//
// Its labs go to a branch of their own, appSetBranch, which no root Application follows, so the
// Application files labctl writes beside them there are never applied; the ApplicationSet reads only
// the labs' files.
const (
	appSetBranch = "scale-applicationset"
	// appSetRefresh asks the applicationset controller to read Git now rather than at its next poll
	// (every 3 minutes): what a Git webhook sets, and what the nudge here sets.
	appSetRefresh = "argocd.argoproj.io/application-set-refresh"
)

// appSetGVK is Argo CD's ApplicationSet.
var appSetGVK = labargocd.GroupVersion.WithKind("ApplicationSet")

// applicationSet is the ApplicationSet of ns's labs on branch revision of repoURL: for each file
// labs/<ns>/<name>/jupyterlab.yaml, the Application generator.Application makes for that lab in
// the lab layout, its name, labels and path filled in from the file.
func applicationSet(ns string, t generator.Target) (*unstructured.Unstructured, error) {
	const name = "{{.path.basename}}" // the lab's folder, which is its name
	lab := &labkitv1alpha1.JupyterLab{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	app := generator.Application(lab, t)
	app.Labels = map[string]string{labkitv1alpha1.LabLabel: name} // and no owner: a lab file need not name one
	tmpl, err := runtime.DefaultUnstructuredConverter.ToUnstructured(app)
	if err != nil {
		return nil, fmt.Errorf("application template of namespace %s: %w", ns, err)
	}
	meta, _ := tmpl["metadata"].(map[string]any)
	delete(meta, "namespace") // the ApplicationSet's own
	delete(meta, "creationTimestamp")
	delete(tmpl, "apiVersion")
	delete(tmpl, "kind")
	delete(tmpl, "status")
	u := appSetObject(appSetName(ns))
	u.Object["spec"] = map[string]any{
		"goTemplate":        true,
		"goTemplateOptions": []any{"missingkey=error"},
		"generators": []any{map[string]any{"git": map[string]any{
			"repoURL":  t.RepoURL,
			"revision": t.Revision,
			"files":    []any{map[string]any{"path": path.Join(generator.LabsDir, ns, "*", "jupyterlab.yaml")}},
		}}},
		"template": tmpl,
	}
	return u, nil
}

func appSetName(ns string) string { return "labs-" + ns }

// appSetObject is the ApplicationSet name in Argo CD's namespace, to get, patch or delete.
func appSetObject(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(appSetGVK)
	u.SetNamespace(stack.ArgoCDNamespace)
	u.SetName(name)
	return u
}

// throughApplicationSet fills the GPUs through an ApplicationSet (see appSetBranch): one commit of
// every lab to its branch, the ApplicationSet refreshed, until all are Ready; then one lab more with
// the refresh nudge and one without; then it removes them all by deleting the ApplicationSet, whose
// Applications delete their labs.
func throughApplicationSet(ctx context.Context, r *report, c client.WithWatch, ctrl *controller, base *generator.Publisher,
	pools []fakenodes.Pool, ns string) error {
	repo, err := gitops.New(base.Repo.Remote(), appSetBranch, gitops.WithAuthor("labkit bench-scale", "bench@labkit.dev"))
	if err != nil {
		return err
	}
	pub := generator.Publisher{Repo: repo, Target: base.Target}
	pub.Target.Revision, pub.Target.Layout = appSetBranch, generator.LayoutLab
	set, err := applicationSet(ns, pub.Target)
	if err != nil {
		return err
	}
	r.add("(c) through GitOps, an ApplicationSet", "namespace %s: one commit to branch %s, ApplicationSet %s (Git files generator, an Application per lab)", ns, appSetBranch, set.GetName())
	labs, err := planLabs(ctx, c, pools, ns, fakenodes.VolumeClass)
	if err != nil {
		return err
	}
	// The ApplicationSet is made first, on a branch with no labs yet, as it would be in use. (Made
	// right after the commit of the labs, and not refreshed, its 100 labs of a first try were Ready
	// only 209.7 s later.)
	if _, err := repo.Commit(ctx, "Start the branch of ApplicationSet "+set.GetName(), func(*gitops.Tree) ([]gitops.Change, error) {
		return []gitops.Change{{Path: path.Join(generator.LabsDir, ns, "README.md"),
			Content: []byte("The labs of namespace " + ns + ": ApplicationSet " + set.GetName() + " makes an Argo CD Application of each.\n")}}, nil
	}); err != nil {
		return err
	}
	// Made refreshed, as a webhook for the branch's first push would leave it: else the repo server
	// answers from the branches of the repository it last listed, without this one ("unable to
	// resolve 'scale-applicationset' to a commit SHA: revision not found", seen on kind), and the
	// applicationset controller retries with a growing backoff.
	set.SetAnnotations(map[string]string{appSetRefresh: "true"})
	if err := c.Create(ctx, set); err != nil {
		return err
	}
	if err := waitAppSetUpToDate(ctx, c, set.GetName()); err != nil {
		return err
	}
	// The commit is then seen at once, as the layouts' commits are (their root Application refreshed):
	// the refresh a Git webhook would ask for.
	commit := func(ctx context.Context, c client.Client, labs []lab) error {
		start := time.Now()
		if _, _, err := pub.Create(ctx, labs, false); err != nil {
			return err
		}
		r.add(fmt.Sprintf("one commit of %d labs pushed", len(labs)), "%.1f s", time.Since(start).Seconds())
		return refreshAppSet(ctx, c, set.GetName())
	}
	if err := createAndMeasure(ctx, r, c, ctrl, labs, "by the ApplicationSet's Applications", commit); err != nil {
		return err
	}
	nudge := func(ctx context.Context, _ string) error { return refreshAppSet(ctx, c, set.GetName()) }
	if err := oneMoreThroughGit(ctx, r, c, &pub, ns, len(labs), nudge, ""); err != nil {
		return err
	}
	if err := oneMoreThroughGit(ctx, r, c, &pub, ns, len(labs)+1, nil, "the applicationset controller polls Git every 3m0s"); err != nil {
		return err
	}
	start := time.Now()
	if err := removeAppSet(ctx, c, ns); err != nil {
		return err
	}
	if err := deleteNamespace(ctx, c, ns); err != nil {
		return err
	}
	r.add("those labs removed by deleting the ApplicationSet, its Applications and the namespace gone", "%.1f s", time.Since(start).Seconds())
	return nil
}

// waitAppSetUpToDate waits until the applicationset controller says the ApplicationSet's Applications
// are as its generator and template make them (condition ResourcesUpToDate).
func waitAppSetUpToDate(ctx context.Context, c client.Client, name string) error {
	u := appSetObject(name)
	return stack.Waits.Until(ctx, "wait-app-synced", func(ctx context.Context) (string, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return "", err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		var says []string
		for _, x := range conds {
			m, _ := x.(map[string]any)
			if m["type"] == "ResourcesUpToDate" && m["status"] == "True" {
				return "", nil
			}
			says = append(says, fmt.Sprintf("%v=%v (%v)", m["type"], m["status"], m["message"]))
		}
		return fmt.Sprintf("applicationset %s not up to date yet; its conditions: %v", name, says), nil
	})
}

// refreshAppSet asks the applicationset controller to read Git now.
func refreshAppSet(ctx context.Context, c client.Writer, name string) error {
	u := appSetObject(name)
	patch := []byte(`{"metadata":{"annotations":{"` + appSetRefresh + `":"true"}}}`)
	if err := c.Patch(ctx, u, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("refresh applicationset %s: %w", name, err)
	}
	return nil
}

// removeAppSet deletes ns's ApplicationSet in the foreground and waits until it is gone: it goes
// after its Applications, each of which goes after the lab its finalizer deletes.
func removeAppSet(ctx context.Context, c client.Client, ns string) error {
	u := appSetObject(appSetName(ns))
	if err := c.Delete(ctx, u, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil {
		return fmt.Errorf("delete applicationset %s: %w", u.GetName(), err)
	}
	return stack.Waits.Until(ctx, "wait-labs-ready", func(ctx context.Context) (string, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(u), u)
		switch {
		case apierrors.IsNotFound(err):
			return "", nil
		case err != nil:
			return "", err
		}
		apps, err := labargocd.List(ctx, c, stack.ArgoCDNamespace)
		if err != nil {
			return "", err
		}
		left := 0
		for _, a := range apps {
			if a.Spec.Destination.Namespace == ns {
				left++
			}
		}
		return fmt.Sprintf("applicationset %s still there, with %d of its Applications (each deletes its lab first)", u.GetName(), left), nil
	})
}
