//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/harness/browser"
	"github.com/labkit-dev/labkit/pkg/labstatus"
	"github.com/labkit-dev/labkit/pkg/stack"
)

func TestReach(t *testing.T) {
	name := "reach"
	reach := features.New("A person asks with labctl create --wait, is told each step and the URL, and opens the lab in a browser through the ingress").
		WithLabel(labelNeeds, needsContainers). // Argo CD, Traefik, Jupyter
		Setup(inNamespace("reach")).
		Assess("labctl create --wait prints the commit, Argo CD's sync, the node and the URL, which answers through the ingress", createAndWait(name)).
		Assess("labctl status joins the branch, Argo CD and the lab, with the URL", statusJoinsAll(name)).
		Assess("in a real browser, through the ingress, the password labctl hashed logs in and a new notebook runs print(6*7) to 42", inBrowser(func(ctx context.Context) string {
			return labURL(ctx)
		})).
		Assess("labctl open --port-forward serves the same page, and the browser is refused a wrong password there", throughOpen(name)).
		Teardown(removeLab()).
		Teardown(deleteNamespace()).
		Feature()

	unfit := features.New("labctl create --wait on a lab no node can take ends with the scheduler's reason and what would fit, not a timeout").
		WithLabel(labelNeeds, needsContainers). // Argo CD
		Setup(inNamespace("unfit")).
		Assess("labctl create --skip-catalog --wait of three T4s fails with the scheduler's reason", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			ctx = withLab(ctx, ns, "three-t4")
			start := time.Now()
			out, err := runLabctl(ctx, t, "pw\n", "create", "three-t4", "-n", ns, "--owner", "ada", "--gpu", "Tesla-T4:3",
				"--cpu", "250m", "--memory", "512Mi", "--storage", "1Gi", "--password-stdin", "--skip-catalog", "--wait",
				"--timeout", timeout("wait-labctl").String())
			took := time.Since(start)
			if !errors.Is(err, labstatus.ErrUnschedulable) {
				t.Fatalf("labctl create --wait = %v after %s, want the lab refused by the scheduler\noutput:\n%s", err, took, out)
			}
			for _, want := range []string{"the scheduler says: 0/4 nodes are available", "Insufficient nvidia.com/gpu", "Tesla-T4",
				"the request stays committed: labctl status three-t4 shows the lab, labctl delete three-t4 withdraws it"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
			if !regexp.MustCompile(`what fits now: at most \d× Tesla-T4 with|no node has a Tesla-T4 free now`).MatchString(err.Error()) {
				t.Errorf("error does not say what fits:\n%v", err)
			}
			t.Logf("refused after %s:\n%s\n%v", took.Round(time.Millisecond), out, err)
			return ctx
		}).
		Teardown(removeLab()).
		Teardown(deleteNamespace()).
		Feature()
	testParallel(t, reach, unfit)
}

// withLab puts the lab labctl is about to create into ctx, so that removeLab withdraws it.
func withLab(ctx context.Context, ns, name string) context.Context {
	l := &labkitv1alpha1.JupyterLab{}
	l.Namespace, l.Name = ns, name
	return context.WithValue(ctx, labKey{}, l)
}

type labURLKey struct{}

func labURL(ctx context.Context) string { return ctx.Value(labURLKey{}).(string) }

// createAndWait runs labctl create --wait as a person would, through labctl's own command tree, with
// the env a classic Notebook UI needs in the stand-in image (real images serve JupyterLab by default).
func createAndWait(name string) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		ns := namespace(ctx)
		ctx = withLab(ctx, ns, name)
		password := randomPassword(t)
		ctx = context.WithValue(ctx, passwordKey{}, password)
		start := time.Now()
		out, err := runLabctl(ctx, t, password+"\n", "create", name, "-n", ns, "--owner", "ada", "--cpu", "500m", "--memory", "1Gi",
			"--storage", "1Gi", "--env", "DOCKER_STACKS_JUPYTER_CMD=notebook", "--password-stdin", "--wait", "--timeout", timeout("wait-labctl").String())
		t.Logf("labctl create --wait took %s:\n%s", time.Since(start).Round(time.Millisecond), out)
		if err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("http://%s.%s.%s:%d/", name, ns, stack.IngressDomain, stack.IngressHostPort)
		app := generator.AppName(ns, name)
		for _, want := range []string{"lab " + ns + "/" + name + " committed as ", "asked Argo CD to read branch main now (application " + stack.RootApp,
			"Argo CD synced application " + app + " at ", "scheduled on node ", "ready: " + url, "open " + url} {
			if !strings.Contains(out, want) {
				t.Errorf("labctl create --wait did not print %q", want)
			}
		}
		if err := labstatus.CheckJupyter(ctx, url); err != nil {
			t.Errorf("the URL labctl printed does not answer: %v", err)
		}
		return context.WithValue(ctx, labURLKey{}, url)
	}
}

func statusJoinsAll(name string) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		out, err := runLabctl(ctx, t, "", "status", name, "-n", namespace(ctx), "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var st labstatus.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("labctl status -o json: %v\n%s", err, out)
		}
		switch {
		case st.Git == nil || !st.Git.OnBranch || st.Git.LastChange == nil:
			t.Errorf("git part %+v", st.Git)
		case st.ArgoCD == nil || st.ArgoCD.Sync != "Synced" || st.ArgoCD.Health != "Healthy" || !includes(ctx, t, st.Git.LastChange.ID, st.ArgoCD.Revision):
			t.Errorf("argo cd part %+v, want Synced and Healthy at the lab's last change %s or later (branch at %s)", st.ArgoCD, st.Git.LastChange.ID, st.Git.Tip)
		case !st.Ready() || st.Lab.URL != labURL(ctx) || st.Lab.Node == "":
			t.Errorf("lab part %+v, want Ready at %s", st.Lab, labURL(ctx))
		case len(st.Unseen) > 0:
			t.Errorf("unseen: %q", st.Unseen)
		}
		return ctx
	}
}

// includes says whether revision is commit or a later commit of the branch (features push in parallel).
func includes(ctx context.Context, t *testing.T, commit, revision string) bool {
	t.Helper()
	ok, err := from(ctx).publisher.Includes(ctx, commit, revision)
	if err != nil {
		t.Errorf("whether %s includes %s: %v", revision, commit, err)
	}
	return ok
}

// inBrowser opens the lab at the URL url gives in headless Chromium, logs in with the lab's password,
// and runs a cell in a new notebook. Where Chromium is missing it skips, saying so.
func inBrowser(url func(ctx context.Context) string) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		runs42(ctx, t, startBrowser(ctx, t), url(ctx))
		return ctx
	}
}

// needBrowser skips the assessment where Chromium is missing, saying so; an assessment that makes
// something before it needs the browser calls it first, so that a skip leaves nothing half-made.
func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := browser.Find(); errors.Is(err, browser.ErrNoBrowser) {
		t.Skipf("no browser to run this with: %v", err)
	}
}

// startBrowser starts Chromium for one assessment; its screenshots are kept in artifacts/ when it fails.
func startBrowser(ctx context.Context, t *testing.T) *browser.Browser {
	t.Helper()
	needBrowser(t)
	shots := filepath.Join(from(ctx).artifacts, strings.ReplaceAll(t.Name(), "/", "_"), "browser")
	b, err := browser.Start(ctx, browser.WithScreenshots(shots), browser.WithLogger(logr.FromContextOrDiscard(ctx)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		if !t.Failed() {
			_ = os.RemoveAll(shots)
		} else {
			t.Logf("screenshots of each step in %s", shots)
		}
	})
	return b
}

// throughOpen runs labctl open --port-forward until the assessment ends and drives the browser through
// the address it prints.
func throughOpen(name string) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		openCtx, stop := context.WithCancel(ctx)
		lines, done := startLabctl(openCtx, t, "open", name, "-n", namespace(ctx), "--port-forward", "--timeout", timeout("wait-labctl").String())
		defer func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("labctl open ended with %v, want nothing on Ctrl-C", err)
			}
		}()
		forwarded := regexp.MustCompile(`^forwarding (http://127\.0\.0\.1:\d+/) to lab `)
		var local string
		for local == "" {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("labctl open stopped before forwarding: %v", <-done)
				}
				if m := forwarded.FindStringSubmatch(line); m != nil {
					local = m[1]
				}
			case <-time.After(timeout("wait-labctl")):
				t.Fatalf("wait-labctl: labctl open printed no 'forwarding' line within %s", timeout("wait-labctl"))
			}
		}
		b := startBrowser(ctx, t)
		if _, err := b.OpenJupyter(ctx, local, "not-the-password"); !errors.Is(err, browser.ErrLoginRefused) {
			t.Errorf("logging in at %s with a wrong password: %v, want it refused", local, err)
		}
		runs42(ctx, t, b, local)
		return ctx
	}
}

// runs42 logs in at url with the lab's password and runs print(6*7) in a new notebook.
func runs42(ctx context.Context, t *testing.T, b *browser.Browser, url string) {
	t.Helper()
	j, err := b.OpenJupyter(ctx, url, ctx.Value(passwordKey{}).(string))
	if err != nil {
		t.Fatal(err)
	}
	out, err := j.RunInNewNotebook(ctx, "print(6*7)")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "42" {
		t.Errorf("at %s the cell printed %q, want 42", url, out)
	}
	t.Logf("%s UI at %s ran print(6*7): %s", j.UI(), url, strings.TrimSpace(out))
}

// labctlArgs are args with what every labctl run in the suite gets: no profile of the person running
// the tests, the suite's cluster, and, for the commands that read or write the branch, its repository.
func labctlArgs(ctx context.Context, t *testing.T, args []string) []string {
	s := from(ctx)
	out := append(slices.Clone(args), "--profile", filepath.Join(t.TempDir(), "profile.yaml"), "--kubeconfig", s.cluster.Kubeconfig())
	switch args[0] {
	case "create", "status", "list", "delete", "render", "stop", "start", "extend", "layout":
		out = append(out, "--repo", s.publisher.Target.RepoURL)
	}
	return out
}

// runLabctl runs `labctl args...` through labctl's command tree, as the binary does, and returns what it printed.
func runLabctl(ctx context.Context, t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &out})
	cmd.SetArgs(labctlArgs(ctx, t, args))
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// startLabctl runs `labctl args...` until ctx ends, sending each line it prints; done gets its error.
func startLabctl(ctx context.Context, t *testing.T, args ...string) (<-chan string, <-chan error) {
	pr, pw := io.Pipe()
	lines, done := make(chan string, 100), make(chan error, 1)
	cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader(""), Out: pw, ErrOut: pw})
	cmd.SetArgs(labctlArgs(ctx, t, args))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			t.Logf("labctl %s: %s", args[0], sc.Text())
			lines <- sc.Text()
		}
	}()
	go func() {
		err := cmd.ExecuteContext(ctx)
		pw.Close()
		wg.Wait()
		done <- err
	}()
	return lines, done
}
