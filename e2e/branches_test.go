//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// The two ways of using branches, docs/gitops-layout.md: proposals merged into the branch Argo CD
// follows, and environments with a root Application each.
func TestBranches(t *testing.T) {
	proposal := features.New("A lab proposed on a branch of its own runs once merged into main, and keeps working after its branch is deleted").
		WithLabel(labelNeeds, needsContainers). // Argo CD
		Setup(inNamespace("proposal")).
		Assess("labctl create --branch feature/... --track main commits a proposal naming main and says what to merge where", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			ctx = withLab(ctx, ns, "alice")
			out, err := runLabctl(ctx, t, "pw\n", "create", "alice", "-n", ns, "--owner", "alice", "--cpu", "250m", "--memory", "512Mi",
				"--storage", "1Gi", "--password-stdin", "--skip-catalog", "--branch", "feature/"+ns, "--track", stack.Branch)
			if err != nil || !strings.Contains(out, "branch feature/"+ns+" is a proposal: merge it into main") {
				t.Fatalf("labctl create on a proposal branch: %v\n%s", err, out)
			}
			return ctx
		}).
		Assess("merged into main and its branch deleted, labctl start --wait on main brings the lab up through Argo CD", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			mergeAndDelete(ctx, t, from(ctx).publisher.Target.RepoURL, "feature/"+ns, stack.Branch)
			// start commits to main: waiting for it proves that the lab's Application, created by the
			// merge, follows main rather than the branch that is gone.
			out, err := runLabctl(ctx, t, "", "start", "alice", "-n", ns, "--wait", "--timeout", timeout("wait-labctl").String())
			if err != nil {
				t.Fatalf("labctl start --wait after the merge: %v\n%s", err, out)
			}
			waitForApp(ctx, t, "the merged lab's Application follows main, Synced and Healthy", func(a *argocd.Application) string {
				if a.Spec.Source.TargetRevision != stack.Branch || a.Status.Sync.Status != argocd.SyncStatusSynced || a.Status.Health.Status != argocd.HealthStatusHealthy {
					return fmt.Sprintf("targetRevision %s, %s/%s", a.Spec.Source.TargetRevision, a.Status.Sync.Status, a.Status.Health.Status)
				}
				return ""
			})
			return ctx
		}).
		Teardown(removeLabs("alice")).
		Teardown(deleteNamespace()).
		Feature()

	environments := features.New("Two environment branches coexist on one Argo CD, each with its root Application, and no Application flaps").
		WithLabel(labelNeeds, needsContainers). // Argo CD
		Setup(inNamespace("envs")).
		Assess("a lab committed to each environment, its root Application applied, and labctl start --environment --wait on each", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			for _, e := range envsOf(ns) {
				// The branch first, so that Argo CD finds the revision its root Application names.
				out, err := runLabctl(ctx, t, "pw\n", "create", e.lab, "-n", ns, "--owner", "ada", "--cpu", "250m", "--memory", "512Mi",
					"--storage", "1Gi", "--password-stdin", "--skip-catalog", "--branch", e.branch, "--environment")
				if err != nil || !strings.Contains(out, "it is a new environment") {
					t.Fatalf("labctl create --environment on %s: %v\n%s", e.branch, err, out)
				}
				root, err := runLabctl(ctx, t, "", "root-app", "--branch", e.branch, "--environment", "--repo", from(ctx).publisher.Target.RepoURL)
				if err != nil {
					t.Fatalf("labctl root-app: %v\n%s", err, root)
				}
				if _, err := apply.Apply(ctx, from(ctx).client, []byte(root)); err != nil {
					t.Fatal(err)
				}
			}
			for _, e := range envsOf(ns) {
				out, err := runLabctl(ctx, t, "", "start", e.lab, "-n", ns, "--branch", e.branch, "--environment", "--wait", "--timeout", timeout("wait-labctl").String())
				if err != nil {
					t.Fatalf("labctl start --environment --wait on %s: %v\n%s", e.branch, err, out)
				}
			}
			return ctx
		}).
		Assess("through three reconciliations of each root, each lab's Application is its environment's alone, at its branch, Synced and Healthy", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// Both roots at once: their comparisons come every period or two, whichever is watched.
			ns := namespace(ctx)
			labAppOf := map[string]string{} // a root's name -> its lab's Application
			branchOf := map[string]string{}
			for _, e := range envsOf(ns) {
				target := generator.Target{Revision: e.branch, Environment: generator.EnvironmentOf(e.branch)}
				root := generator.RootAppName(target)
				labAppOf[root], branchOf[root] = target.AppName(ns, e.lab), e.branch
			}
			watchReconciliations(ctx, t, 3, func(root *argocd.Application) {
				checkEnvironmentApp(ctx, t, labAppOf[root.Name], root.Name, branchOf[root.Name])
			}, slices.Collect(maps.Keys(labAppOf))...)
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			for _, e := range envsOf(ns) {
				if out, err := runLabctl(ctx, t, "", "delete", e.lab, "-n", ns, "--branch", e.branch, "--environment"); err != nil {
					t.Errorf("labctl delete on %s: %v\n%s", e.branch, err, out)
				}
				target := generator.Target{Revision: e.branch, Environment: generator.EnvironmentOf(e.branch)}
				if err := argocd.Refresh(ctx, from(ctx).client, stack.ArgoCDNamespace, generator.RootAppName(target)); err != nil {
					t.Error(err)
				}
				goneApp(ctx, t, target.AppName(ns, e.lab))
				root, err := runLabctl(ctx, t, "", "root-app", "--branch", e.branch, "--environment", "--repo", from(ctx).publisher.Target.RepoURL)
				if err == nil {
					err = apply.Delete(ctx, from(ctx).client, []byte(root))
				}
				if err != nil {
					t.Errorf("delete the root Application of %s: %v", e.branch, err)
				}
			}
			return ctx
		}).
		Teardown(deleteNamespace()).
		Feature()
	testParallel(t, proposal, environments)
}

type environment struct{ branch, lab string }

// envsOf are the feature's two environments: branches named after its namespace, one with a '/'.
func envsOf(ns string) []environment {
	return []environment{{"stage-" + ns, "stage"}, {"team/" + ns, "team"}}
}

// checkEnvironmentApp checks that the lab Application app is tracked by root alone and follows branch.
func checkEnvironmentApp(ctx context.Context, t *testing.T, app, root, branch string) {
	t.Helper()
	a, err := argocd.Get(ctx, from(ctx).client, stack.ArgoCDNamespace, app)
	if err != nil {
		t.Errorf("application %s: %v", app, err)
		return
	}
	// Argo CD marks what an Application manages with its name; two roots claiming one child would
	// rewrite the mark in turn.
	if id := a.Annotations["argocd.argoproj.io/tracking-id"]; !strings.HasPrefix(id, root+":") {
		t.Errorf("application %s is tracked as %q, want by %s alone", app, id, root)
	}
	if a.Spec.Source.TargetRevision != branch || a.Status.Sync.Status != argocd.SyncStatusSynced || a.Status.Health.Status != argocd.HealthStatusHealthy {
		t.Errorf("application %s: targetRevision %s, %s/%s; want %s, Synced/Healthy", app, a.Spec.Source.TargetRevision,
			a.Status.Sync.Status, a.Status.Health.Status, branch)
	}
}

// mergeAndDelete merges branch into into on the remote, as a pull request would, and deletes branch.
// The other features push to into meanwhile: when one did between the fetch and the push, or during
// the push, the push is refused, and the merge is made again on top of what the other one brought, as
// a person would after a pull.
func mergeAndDelete(ctx context.Context, t *testing.T, remote, branch, into string) {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		cmd.Env = append(cmd.Environ(), "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@labkit.dev", "GIT_COMMITTER_NAME=e2e",
			"GIT_COMMITTER_EMAIL=e2e@labkit.dev", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	git := func(args ...string) {
		t.Helper()
		if out, err := run(args...); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("clone", "--quiet", "--branch", into, remote, ".")
	git("fetch", "--quiet", "origin", branch+":refs/proposal")
	const attempts = 5 // each push races only the other features' few commits
	for attempt := 1; ; attempt++ {
		git("merge", "--quiet", "--no-ff", "--no-edit", "refs/proposal")
		out, err := run("push", "--quiet", "origin", into)
		if err == nil {
			break
		}
		// Refused by git ("[rejected] ... (fetch first)") or, when the other push came while this one
		// was being received, by the server ("cannot lock ref ... but expected ...").
		if lost := strings.Contains(out, "[rejected]") || strings.Contains(out, "cannot lock ref"); attempt == attempts || !lost {
			t.Fatalf("git push origin %s (attempt %d of %d): %v\n%s", into, attempt, attempts, err, out)
		}
		t.Logf("git push origin %s refused, %s moved on: merging again on top of it", into, into)
		git("fetch", "--quiet", "origin", into)
		git("reset", "--quiet", "--hard", "FETCH_HEAD")
	}
	git("push", "--quiet", "origin", "--delete", branch)
}
