package labctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/catalog"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl"
	"github.com/labkit-dev/labkit/pkg/internal/gittest"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	// labctl builds its own git repositories: keep the machine's git configuration out of them.
	for _, kv := range gittest.Env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	testenv.Main(m, func(e *testenv.Env) { env = e })
}

const catalogFile = "../../generator/testdata/catalog.yaml"

// labctl runs the command tree as `labctl args...` with stdin, and returns stdout.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(append(args, "--profile", filepath.Join(t.TempDir(), "none.yaml")))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCreatePushesALabTheAPIServerAcceptsAndNoPlaintextPassword(t *testing.T) {
	t.Parallel()
	const password = "plaintext-that-must-not-leak"
	bare := gittest.Remote(t)
	out, err := run(t, password+"\n", "create", "ada-a100", "--owner", "ada", "--gpu", "A100-SXM4:1", "--cpu", "8",
		"--memory", "32Gi", "--storage", "100Gi", "--password-stdin", "--catalog", catalogFile,
		"--repo", bare, "--branch", "team-a", "--repo-url", "http://git.lab/gitops.git")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "lab jupyter/ada-a100 committed as") || !strings.Contains(out, "to branch team-a") {
		t.Errorf("output = %q", out)
	}

	data := gittest.Git(t, bare, "show", "team-a:labs/jupyter/ada-a100/jupyterlab.yaml")
	lab := &labkitv1alpha1.JupyterLab{}
	if err := yaml.UnmarshalStrict([]byte(data), lab); err != nil {
		t.Fatalf("pushed lab does not parse: %v\n%s", err, data)
	}
	ns, err := env.Namespace(context.Background(), "labctl")
	if err != nil {
		t.Fatal(err)
	}
	lab.Namespace = ns
	if err := env.Client.Create(context.Background(), lab, client.DryRunAll); err != nil {
		t.Fatalf("the API server refuses the pushed lab: %v\n%s", err, data)
	}
	app := gittest.Git(t, bare, "show", "team-a:apps/jupyter/ada-a100.yaml")
	for _, want := range []string{"repoURL: http://git.lab/gitops.git", "targetRevision: team-a", "path: labs/jupyter/ada-a100"} {
		if !strings.Contains(app, want) {
			t.Errorf("application lacks %q:\n%s", want, app)
		}
	}
	if history := gittest.Git(t, bare, "log", "--all", "-p"); strings.Contains(history, password) {
		t.Error("the plaintext password is in the repository")
	}
}

func TestARefusedRequestExplainsAndCommitsNothing(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	before := gittest.Refs(t, bare)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"an ambiguous GPU", []string{"--gpu", "A100:1"}, []string{"ambiguous", "NVIDIA-A100-80GB-PCIe", "NVIDIA-A100-SXM4-40GB"}},
		{"more GPUs than free", []string{"--gpu", "T4:2", "--cpu", "16"}, []string{"no node can take", "gpu-t4-1"}},
		{"no login", []string{"--gpu", "T4:1"}, []string{"--password-stdin", "--token-secret"}},
		{"a bad quantity", []string{"--memory", "lots", "--token-secret", "t"}, []string{`memory "lots" is not a quantity`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"create", "x", "--owner", "ada", "--catalog", catalogFile, "--repo", bare}, tt.args...)
			_, err := run(t, "", args...)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("refused requests changed the remote:\n%s", after)
	}
}

func TestDryRunListAndDelete(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	base := []string{"--owner", "grace", "--token-secret", "grace-token", "--skip-catalog", "--repo", bare}
	before := gittest.Refs(t, bare)
	diff, err := run(t, "", append([]string{"create", "grace", "--dry-run"}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(diff, "+++ b/labs/jupyter/grace/jupyterlab.yaml") || gittest.Refs(t, bare) != before {
		t.Fatalf("dry run: diff %q, refs changed %v", diff, gittest.Refs(t, bare) != before)
	}
	if _, err := run(t, "", append([]string{"create", "grace"}, base...)...); err != nil {
		t.Fatal(err)
	}
	list, err := run(t, "", "list", "--repo", bare)
	if err != nil || !strings.Contains(strings.Join(strings.Fields(list), " "), "jupyter grace grace - 2 8Gi 10Gi") {
		t.Fatalf("list = %q, %v", list, err)
	}
	if _, err := run(t, "", "delete", "grace", "--repo", bare); err != nil {
		t.Fatal(err)
	}
	if files := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "main"); strings.Contains(files, "grace") {
		t.Errorf("files after delete:\n%s", files)
	}
}

func TestProfileDefaultsApplyAndHoldNoSecret(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	profile := filepath.Join(t.TempDir(), "profile.yaml")
	var out bytes.Buffer
	exec := func(stdin string, args ...string) error {
		cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &out})
		cmd.SetArgs(append(args, "--profile", profile))
		return cmd.ExecuteContext(context.Background())
	}
	if err := exec("", "profile", "save", "--owner", "ada", "--gpu", "T4:1", "--cpu", "4", "--memory", "8Gi", "--repo", bare, "--branch", "team-b"); err != nil {
		t.Fatal(err)
	}
	if err := exec("s3cret\n", "create", "ada-t4", "--password-stdin", "--catalog", catalogFile); err != nil {
		t.Fatal(err)
	}
	data := gittest.Git(t, bare, "show", "team-b:labs/jupyter/ada-t4/jupyterlab.yaml")
	if !strings.Contains(data, "product: Tesla-T4") || !strings.Contains(data, "owner: ada") {
		t.Errorf("lab did not take the profile's defaults:\n%s", data)
	}
	saved, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(saved), "s3cret") || strings.Contains(string(saved), "argon2") {
		t.Errorf("profile holds a secret:\n%s", saved)
	}
	if err := os.WriteFile(profile, append(saved, []byte("password: hunter2\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := exec("", "profile", "show"); err == nil || !strings.Contains(err.Error(), "never a password or token") {
		t.Errorf("a profile with a password field loaded: %v", err)
	}
}

func TestNodesPrintsTheCatalogAsJSON(t *testing.T) {
	t.Parallel()
	out, err := run(t, "", "nodes", "--catalog", catalogFile, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var cat catalog.Catalog
	if err := json.Unmarshal([]byte(out), &cat); err != nil || len(cat.Nodes) != 4 {
		t.Fatalf("nodes -o json: %v, %d nodes\n%s", err, len(cat.Nodes), out)
	}
	if _, err := run(t, "", "nodes", "--catalog", catalogFile, "-o", "xml"); err == nil || !strings.Contains(err.Error(), "table, yaml, json") {
		t.Errorf("bad output format: %v", err)
	}
	if _, err := run(t, "", "nodes", "--catalog", "missing.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing catalog: %v", err)
	}
}

func TestStatusShowsTheGitPartAndSaysWhatItCouldNotSee(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	if _, err := run(t, "pw\n", "create", "ada", "--owner", "ada", "--password-stdin", "--skip-catalog", "--repo", bare); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "", "status", "ada", "--repo", bare, "--kubeconfig", filepath.Join(t.TempDir(), "no-such-kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Join(strings.Fields(out), " ") // columns are padded to fit
	for _, want := range []string{"lab jupyter/ada (owner ada): no GPU, 2 CPU, 8Gi memory, 10Gi storage",
		"git branch main of " + bare + `: last changed by`, `"Add JupyterLab jupyter/ada for ada`,
		"not seen argo cd and the cluster: no cluster to look at", "labctl reads it from --kubeconfig, $KUBECONFIG or ~/.kube/config"} {
		if !strings.Contains(words, want) {
			t.Errorf("status output does not say %q:\n%s", want, out)
		}
	}
}

func TestStatusJoinsTheClusterInJSON(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	bare := gittest.Remote(t)
	ns, err := env.Namespace(ctx, "status")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "pw\n", "create", "ada", "-n", ns, "--owner", "ada", "--password-stdin", "--skip-catalog", "--repo", bare); err != nil {
		t.Fatal(err)
	}
	// The lab as Argo CD would have applied it.
	data := gittest.Git(t, bare, "show", "main:labs/"+ns+"/ada/jupyterlab.yaml")
	lab := &labkitv1alpha1.JupyterLab{}
	if err := yaml.UnmarshalStrict([]byte(data), lab); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, lab); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := env.KubeconfigFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "", "status", "-o", "json", "--repo", bare, "--kubeconfig", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		Name string `json:"name"`
		Git  struct {
			OnBranch bool `json:"onBranch"`
		} `json:"git"`
		Lab struct {
			Found bool `json:"found"`
		} `json:"lab"`
		Unseen []string `json:"unseen"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("status -o json is not JSON: %v\n%s", err, out)
	}
	// No Argo CD is installed in this API server: that is what could not be seen.
	if len(list) != 1 || list[0].Name != "ada" || !list[0].Git.OnBranch || !list[0].Lab.Found ||
		len(list[0].Unseen) != 1 || list[0].Unseen[0] != "argo cd: Argo CD is not installed in the cluster (it has no argoproj.io Application kind)" {
		t.Errorf("status -o json = %s", out)
	}
}

func TestOpenSaysWhichArgumentItNeeds(t *testing.T) {
	t.Parallel()
	_, err := run(t, "", "open")
	if err == nil || err.Error() != "labctl open needs NAME, the lab to open, e.g. `labctl open ada-a100`" {
		t.Errorf("labctl open without a name: %v", err)
	}
}
