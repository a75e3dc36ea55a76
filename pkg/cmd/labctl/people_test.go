package labctl_test

// Tests of what labctl says to people who know nothing of Kubernetes: each defect found by trying it
// as a new user would gets a test here that failed before it was fixed.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl"
	"github.com/labkit-dev/labkit/pkg/internal/gittest"
)

func TestAMistypedBranchIsAnErrorExceptForCreate(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	lab := []string{"--owner", "ada", "--token-secret", "ada-token", "--skip-catalog", "--repo", bare}
	if _, err := run(t, "", append([]string{"create", "ada"}, lab...)...); err != nil {
		t.Fatal(err)
	}
	before := gittest.Refs(t, bare)
	for _, args := range [][]string{
		{"delete", "ada", "--branch", "mian", "--repo", bare},
		{"stop", "ada", "--branch", "mian", "--repo", bare},
		{"list", "--branch", "nosuch", "--repo", bare},
		{"status", "ada", "--branch", "nosuch", "--repo", bare},
	} {
		_, _, err := runErr(t, append(args, noCluster(t)...)...)
		if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "its branches: main") {
			t.Errorf("labctl %s: %v; want an error naming the branches there are", strings.Join(args[:3], " "), err)
		}
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("the refused commands changed the remote:\n%s\nwant\n%s", after, before)
	}

	_, stderr, err := runErr(t, append([]string{"create", "grace", "--branch", "feature/x", "--dry-run"}, lab...)...)
	if err != nil || !strings.Contains(stderr, "branch feature/x does not exist yet: the commit would create it from main") {
		t.Errorf("create --dry-run on a new branch: %v, stderr %q", err, stderr)
	}
	out, stderr, err := runErr(t, append([]string{"create", "grace", "--branch", "feature/x"}, lab...)...)
	if err != nil || !strings.Contains(stderr, "branch feature/x does not exist yet: creating it from main") || !strings.Contains(out, "to branch feature/x") {
		t.Errorf("create on a new branch: %v, stdout %q, stderr %q", err, out, stderr)
	}
}

// Defect: profile save accepted values create refuses, and create then refused them without saying
// they came from the profile.
func TestProfileSaveRefusesWhatCreateWouldAndCreateSaysAValueCameFromTheProfile(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	profile := filepath.Join(t.TempDir(), "profile.yaml")
	exec := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
		cmd.SetArgs(append(args, "--profile", profile))
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	_, err := exec("profile", "save", "--owner", "Ada_Lovelace", "--memory", "32GB", "--gpu", "H100:99")
	for _, want := range []string{"nothing saved", `--owner "Ada_Lovelace" may hold only lower-case letters`, "--memory 32GB: write 32Gi", `gpu "H100:99": count "99" must be a whole number from 0 to 16`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("profile save of bad values: %v; want it to say %q", err, want)
		}
	}
	if _, statErr := os.Stat(profile); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("a refused profile was written: %v", statErr)
	}

	// A value saved by hand, or by an older labctl, is refused when create takes it, naming the profile.
	if err := os.WriteFile(profile, []byte("owner: ada\nmemory: \"32\"\nrepo: "+bare+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = exec("create", "ada", "--token-secret", "t", "--skip-catalog")
	for _, want := range []string{"your profile " + profile + " holds values labctl refuses", "--memory 32 has no unit", "labctl profile save"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("create with a bad saved value: %v; want it to say %q", err, want)
		}
	}
	// A flag in its place is used, and the saved value is not in the way.
	if _, err := exec("create", "ada", "--token-secret", "t", "--skip-catalog", "--memory", "4Gi"); err != nil {
		t.Errorf("create overriding the bad saved value: %v", err)
	}
}

// Defect: a relative --repo failed with git's "does not appear to be a git repository"; a relative
// path saved in the profile must still mean the same repository when labctl runs elsewhere.
func TestARelativeRepoIsRelativeToTheCurrentDirectory(t *testing.T) {
	bare := gittest.Remote(t)
	t.Chdir(filepath.Dir(bare))
	rel := filepath.Base(bare)
	if _, err := run(t, "", "create", "ada", "--owner", "ada", "--token-secret", "t", "--skip-catalog", "--repo", rel); err != nil {
		t.Fatalf("create --repo %s: %v", rel, err)
	}
	if files := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "main"); !strings.Contains(files, "labs/jupyter/ada/jupyterlab.yaml") {
		t.Errorf("the lab is not on main of %s:\n%s", bare, files)
	}
	if app := gittest.Git(t, bare, "show", "main:apps/jupyter/ada.yaml"); !strings.Contains(app, "repoURL: "+bare) {
		t.Errorf("the Application names the relative path, not the repository:\n%s", app)
	}
	profile := filepath.Join(t.TempDir(), "profile.yaml")
	cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	cmd.SetArgs([]string{"profile", "save", "--repo", rel, "--profile", profile})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(profile); err != nil || !strings.Contains(string(data), "repo: "+bare) {
		t.Errorf("saved profile %q, %v; want repo: %s", data, err, bare)
	}
}

// Defect: without a cluster the first error was client-go's "no configuration has been provided, try
// setting KUBERNETES_MASTER", and each run told of one missing input only.
func TestARequestMissingSeveralInputsSaysAllOfThemInOwnWords(t *testing.T) {
	// Not parallel: a machine with no kubeconfig at all is made with the environment.
	home := t.TempDir()
	// A $KUBECONFIG naming no file is as no kubeconfig at all: client-go's loading rules then look nowhere else.
	t.Setenv("KUBECONFIG", filepath.Join(home, "absent"))
	var out bytes.Buffer
	cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	cmd.SetArgs([]string{"create", "ada", "--profile", filepath.Join(home, "none.yaml")})
	err := cmd.ExecuteContext(context.Background())
	for _, want := range []string{
		"no cluster to check the request against", "--kubeconfig FILE, $KUBECONFIG or ~/.kube/config", "--catalog FILE",
		"--owner (the person the lab belongs to) is required",
		"the lab needs a login",
		"no Git repository: pass --repo URL",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("create with nothing but a name: %v; want it to say %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "KUBERNETES_MASTER") {
		t.Errorf("the error is client-go's, not labctl's: %v", err)
	}
}

// Defect: render without --repo printed an Application with repoURL: "", and its help said it pushes.
func TestRenderNeedsTheRepositoryForTheApplication(t *testing.T) {
	t.Parallel()
	_, err := run(t, "", "render", "ada", "--owner", "ada", "--token-secret", "t", "--skip-catalog")
	if err == nil || !strings.Contains(err.Error(), "no repository for the Application's repoURL") {
		t.Errorf("render without --repo: %v", err)
	}
	out, err := run(t, "", "render", "--help")
	if err != nil || strings.Contains(out, "push to") || !strings.Contains(out, "render pushes nothing") {
		t.Errorf("render --help (%v):\n%s", err, out)
	}
}

// Defect: `unknown flag: --gpus` suggested nothing, and `accepts 1 arg(s), received 0` named no argument.
func TestAMisspeltFlagOrAMissingArgumentSaysWhatWasMeant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"create", "ada", "--gpus", "A100:1"}, "labctl create has no flag --gpus: did you mean --gpu? (see labctl create --help)"},
		{[]string{"create", "ada", "--memroy=32Gi"}, "did you mean --memory?"},
		{[]string{"list", "--brnach", "main"}, "labctl list has no flag --brnach: did you mean --branch?"},
		{[]string{"create", "ada", "--colour"}, "labctl create has no flag --colour (see labctl create --help)"},
		{[]string{"delete"}, "labctl delete needs NAME, the lab to remove, e.g. `labctl delete ada-a100`"},
		{[]string{"create", "ada", "bob"}, "labctl create takes at most one NAME, the lab to create; got 2: ada bob"},
		{[]string{"status", "a", "b"}, "labctl status takes at most one NAME"},
	}
	for _, tt := range tests {
		_, err := run(t, "", tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("labctl %s: %v; want %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}

func TestShellCompletionOffersCommandsLabsAndGPUModels(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	if _, err := run(t, "", "create", "ada-t4", "--owner", "ada", "--token-secret", "t", "--gpu", "T4:1", "--catalog", catalogFile, "--repo", bare); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "st"}, []string{"start\t", "status\t", "stop\t"}},
		{[]string{"__complete", "stop", "--repo", bare, "ada"}, []string{"ada-t4\tjupyter, 1× Tesla-T4"}},
		{[]string{"__complete", "create", "x", "--catalog", catalogFile, "--gpu", ""}, []string{"none\t", "Tesla-T4:1\t", "NVIDIA-A100-SXM4-40GB:1\t"}},
		{[]string{"__complete", "create", "x", "--mem"}, []string{"--memory\t"}},
		{[]string{"completion", "bash"}, []string{"bash completion V2 for labctl"}},
	}
	for _, tt := range tests {
		// The word being completed is the last argument, so --profile goes before the command's.
		var buf bytes.Buffer
		cmd := newCommand(strings.NewReader(""), &buf)
		cmd.SetArgs(append([]string{tt.args[0], "--profile", filepath.Join(t.TempDir(), "none.yaml")}, tt.args[1:]...))
		err := cmd.ExecuteContext(t.Context())
		out := buf.String()
		for _, w := range tt.want {
			if err != nil || !strings.Contains(out, w) {
				t.Errorf("labctl %s: %v, output lacks %q:\n%s", strings.Join(tt.args, " "), err, w, out)
			}
		}
	}
}

func TestAProposalBranchNamesTheTrackedBranchAndSaysWhatToMerge(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	lab := []string{"--owner", "alice", "--token-secret", "t", "--skip-catalog", "--repo", bare, "--branch", "feature/alice", "--track", "main"}
	before := gittest.Refs(t, bare)
	if _, _, err := runErr(t, append([]string{"create", "alice", "--wait"}, lab...)...); err == nil || !strings.Contains(err.Error(), "--wait: branch feature/alice is a proposal to merge into main") {
		t.Errorf("create --wait on a proposal: %v", err)
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("the refused --wait committed:\n%s", after)
	}
	_, stderr, err := runErr(t, append([]string{"create", "alice"}, lab...)...)
	if err != nil || !strings.Contains(stderr, "branch feature/alice is a proposal: merge it into main") {
		t.Errorf("create on a proposal branch: %v, stderr %q", err, stderr)
	}
	if app := gittest.Git(t, bare, "show", "feature/alice:apps/jupyter/alice.yaml"); !strings.Contains(app, "targetRevision: main") {
		t.Errorf("the proposal's Application does not follow main:\n%s", app)
	}
}

func TestAnEnvironmentBranchHasItsOwnRootApplication(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	_, stderr, err := runErr(t, "create", "grace", "--owner", "grace", "--token-secret", "t", "--skip-catalog", "--repo", bare, "--branch", "staging", "--environment")
	if err != nil || !strings.Contains(stderr, "it is a new environment, which Argo CD follows once its root Application exists: labctl root-app --branch staging --environment") {
		t.Errorf("create on a new environment: %v, stderr %q", err, stderr)
	}
	if app := gittest.Git(t, bare, "show", "staging:apps/staging/jupyter/grace.yaml"); !strings.Contains(app, "name: lab-staging-jupyter-grace") {
		t.Errorf("the environment's Application:\n%s", app)
	}
	out, err := run(t, "", "root-app", "--repo", bare, "--branch", "staging", "--environment")
	for _, want := range []string{"name: labs-staging", "path: apps/staging", "targetRevision: staging", "repoURL: " + bare} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("root-app = %v, lacks %q:\n%s", err, want, out)
		}
	}
	if _, err := run(t, "", "root-app", "--repo", bare, "--branch", "staging", "--environment", "--track", "main"); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("an environment that is also a proposal: %v", err)
	}
	list, err := run(t, "", append([]string{"list", "--repo", bare, "--branch", "staging", "--environment"}, noCluster(t)...)...)
	if err != nil || !strings.Contains(list, "grace") {
		t.Errorf("list of the environment = %v\n%s", err, list)
	}
}
