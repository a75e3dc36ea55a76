package labctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/catalog"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/gitops"
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
		{"a bad size", []string{"--memory", "lots", "--token-secret", "t"}, []string{`--memory "lots" is not a size`}},
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
	list, err := run(t, "", append([]string{"list", "--repo", bare}, noCluster(t)...)...)
	if err != nil || !strings.Contains(strings.Join(strings.Fields(list), " "), "jupyter grace grace - 2 8Gi 10Gi -") {
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

// runErr is run, also returning what the command wrote to stderr.
func runErr(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(append(args, "--profile", filepath.Join(t.TempDir(), "none.yaml")))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// noCluster is a kubeconfig flag that names no file, so that a test never reaches a cluster by chance.
func noCluster(t *testing.T) []string {
	return []string{"--kubeconfig", filepath.Join(t.TempDir(), "no-such-kubeconfig")}
}

// labOn parses a lab's file on branch main of bare.
func labOn(t *testing.T, bare, ns, name string) *labkitv1alpha1.JupyterLab {
	t.Helper()
	data := gittest.Git(t, bare, "show", "main:labs/"+ns+"/"+name+"/jupyterlab.yaml")
	lab := &labkitv1alpha1.JupyterLab{}
	if err := yaml.UnmarshalStrict([]byte(data), lab); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return lab
}

// pushExpired commits a lab that expired in 2020, as labctl create would have then.
func pushExpired(t *testing.T, bare, ns, name string) {
	t.Helper()
	lab, err := generator.Build(generator.Request{Name: name, Namespace: ns, Owner: "ada", GPU: "T4:1", TokenSecret: "t", For: "1d"}.WithDefaults(generator.Defaults),
		nil, generator.BuildAt(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	lab.Spec.GPU.Product = "Tesla-T4"
	repo, err := gitops.New(bare, "main", gitops.WithEnv(gittest.Env...))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := (&generator.Publisher{Repo: repo, Target: generator.Target{RepoURL: bare, Revision: "main"}}).Create(t.Context(), []*labkitv1alpha1.JupyterLab{lab}, false); err != nil {
		t.Fatal(err)
	}
}

func TestCreateWritesTheLifetimeShmAndMountsTheAPIServerAccepts(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	if _, err := run(t, "", "create", "ada", "--owner", "ada", "--gpu", "T4:1", "--token-secret", "t", "--catalog", catalogFile,
		"--repo", bare, "--for", "2w", "--idle-timeout", "90m", "--shm", "2Gi", "--memory", "8Gi",
		"--mount", "imagenet:/data/imagenet:ro", "--mount", "scratch:/scratch:rw"); err != nil {
		t.Fatal(err)
	}
	lab := labOn(t, bare, "jupyter", "ada")
	s := lab.Spec
	if e := s.ExpiresAt; e == nil || time.Until(e.Time) < 14*24*time.Hour-time.Minute || time.Until(e.Time) > 14*24*time.Hour {
		t.Errorf("expiresAt = %v, want two weeks from now", e)
	}
	if s.IdleTimeout == nil || s.IdleTimeout.Duration != 90*time.Minute || s.ShmSize == nil || s.ShmSize.String() != "2Gi" ||
		len(s.Volumes) != 2 || !s.Volumes[0].ReadOnly || s.Volumes[1].ReadOnly {
		t.Errorf("spec = %+v", s)
	}
	ns, err := env.Namespace(t.Context(), "lifetime")
	if err != nil {
		t.Fatal(err)
	}
	lab.Namespace = ns
	if err := env.Client.Create(t.Context(), lab, client.DryRunAll); err != nil {
		t.Fatalf("the API server refuses the pushed lab: %v", err)
	}
	// render and --dry-run go through the same Build.
	out, err := run(t, "", "render", "ada", "--owner", "ada", "--token-secret", "t", "--skip-catalog", "--repo-url", "http://git.example/labs.git", "--until", "2099-12-24", "--mount", "d:/data")
	if err != nil || !strings.Contains(out, `expiresAt: "2099-12-24T23:59:59Z"`) || !strings.Contains(out, "mountPath: /data") {
		t.Errorf("render = %v\n%s", err, out)
	}
}

func TestCreateRenderAndDryRunRefuseBadLifetimesShmAndMounts(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	before := gittest.Refs(t, bare)
	bad := []string{"--until", "2020-01-01", "--idle-timeout", "-1h", "--memory", "8Gi", "--shm", "16Gi",
		"--mount", "Data_Sets:/data", "--mount", "imagenet:data", "--mount", "imagenet:/home/jovyan/work"}
	want := []string{`request for lab "x" refused`, "--until 2020-01-01 is in the past", "--idle-timeout -1h is negative",
		"--shm 16Gi is more than --memory 8Gi", `"Data_Sets" is not the name of a volume claim`, `the path "data" is not absolute`,
		"the path must not be /, /home/jovyan, the lab's own volume /home/jovyan/work"}
	for _, verb := range [][]string{{"create"}, {"create", "--dry-run"}, {"render"}} {
		args := append(append(append([]string{}, verb...), "x", "--owner", "ada", "--token-secret", "t", "--skip-catalog", "--repo", bare), bad...)
		_, err := run(t, "", args...)
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("labctl %s: error does not say %q:\n%v", strings.Join(verb, " "), w, err)
			}
		}
	}
	if _, err := run(t, "", "create", "x", "--owner", "ada", "--token-secret", "t", "--skip-catalog", "--repo", bare, "--for", "14d", "--until", "2099-01-01"); err == nil ||
		!strings.Contains(err.Error(), "--for 14d and --until 2099-01-01 both say when the lab expires: give one of them") {
		t.Errorf("both --for and --until: %v", err)
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("refused requests changed the remote:\n%s", after)
	}
}

func TestStopStartAndExtendCommitAndSayWhat(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	if _, err := run(t, "", "create", "ada", "--owner", "ada", "--gpu", "T4:1", "--token-secret", "t", "--catalog", catalogFile, "--repo", bare, "--for", "14d"); err != nil {
		t.Fatal(err)
	}
	tip := func() string { return strings.TrimSpace(gittest.Git(t, bare, "rev-parse", "main"))[:7] }

	out, err := run(t, "", "stop", "ada", "--repo", bare)
	if err != nil {
		t.Fatal(err)
	}
	if want := "lab jupyter/ada stopped: committed " + tip() + " to branch main; Argo CD scales it to zero and frees its 1× Tesla-T4\n"; out != want {
		t.Errorf("stop said %q, want %q", out, want)
	}
	if !labOn(t, bare, "jupyter", "ada").Spec.Stopped {
		t.Error("the lab on the branch is not stopped")
	}

	before := gittest.Refs(t, bare)
	diff, err := run(t, "", "start", "ada", "--repo", bare, "--dry-run")
	if err != nil || !strings.Contains(diff, "-  stopped: true") || !strings.Contains(diff, "+  startedAt: ") || gittest.Refs(t, bare) != before {
		t.Errorf("start --dry-run: %v, diff:\n%s", err, diff)
	}
	out, err = run(t, "", "start", "ada", "--repo", bare)
	if err != nil {
		t.Fatal(err)
	}
	if want := "lab jupyter/ada started: committed " + tip() + " to branch main; once Argo CD syncs it, the lab runs again with its 1× Tesla-T4, on the same volume\n"; out != want {
		t.Errorf("start said %q, want %q", out, want)
	}
	if lab := labOn(t, bare, "jupyter", "ada"); lab.Spec.Stopped || lab.Spec.StartedAt == nil {
		t.Errorf("the started lab: %+v", lab.Spec)
	}

	was := labOn(t, bare, "jupyter", "ada").Spec.ExpiresAt.Time
	out, err = run(t, "", "extend", "ada", "--repo", bare, "--until", "2099-12-24")
	if err != nil {
		t.Fatal(err)
	}
	if want := "lab jupyter/ada now expires at 2099-12-24 23:59:59 UTC (was " + generator.FormatTime(was) + "): committed " + tip() + " to branch main\n"; out != want {
		t.Errorf("extend said %q, want %q", out, want)
	}

	list, _, err := runErr(t, append([]string{"list", "--repo", bare}, noCluster(t)...)...)
	if err != nil || !strings.Contains(strings.Join(strings.Fields(list), " "), "jupyter ada ada 1× Tesla-T4 2 8Gi 10Gi 2099-12-24 23:59 UTC") {
		t.Errorf("list = %v\n%s", err, list)
	}
}

func TestRefusedStopsStartsAndExtendsSayWhyAndPushNothing(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	if _, err := run(t, "", "create", "ada", "--owner", "ada", "--token-secret", "t", "--skip-catalog", "--repo", bare, "--for", "14d"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "stop", "ada", "--repo", bare); err != nil {
		t.Fatal(err)
	}
	pushExpired(t, bare, "team-a", "old")
	before := gittest.Refs(t, bare)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"stop", "ada"}, "lab jupyter/ada is already stopped on branch main: nothing to commit; labctl start ada starts it"},
		{[]string{"stop", "nobody"}, "lab not found: no jupyter/nobody on branch main; labs there: jupyter/ada, team-a/old"},
		{[]string{"start", "nobody", "-n", "team-a"}, "no team-a/nobody on branch main; labs there: jupyter/ada, team-a/old"},
		{[]string{"start", "old", "-n", "team-a"}, "lab old expired at 2020-01-02 00:00:00 UTC: labctl extend old -n team-a --for 7d gives it more time and starts it"},
		{[]string{"extend", "ada"}, "labctl extend needs --for DURATION or --until DATE, e.g. `labctl extend ada --for 7d`"},
		{[]string{"extend", "ada", "--until", "2020-01-01"}, "--until 2020-01-01 is in the past"},
		{[]string{"extend", "ada", "--for", "7d", "--until", "2099-01-01"}, "--for 7d and --until 2099-01-01 both say when the lab expires: give one of them"},
		{[]string{"extend", "ada", "--for", "1d"}, "extend moves the expiry only later; give a later --until or a longer --for"},
		{[]string{"extend", "ada", "--for", "soon"}, `--for "soon" is not a duration: give e.g. 14d, 36h, 2w or 1h30m (d: days, w: weeks)`},
		{[]string{"stop"}, "labctl stop needs NAME, the lab to stop, e.g. `labctl stop ada-a100`"},
		{[]string{"start", "a", "b"}, "labctl start takes one NAME, got 2: a b"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := run(t, "", append(tt.args, "--repo", bare)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v\nwant it to say %q", err, tt.want)
			}
		})
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("refused commands changed the remote:\n%s\nwas:\n%s", after, before)
	}
	out, err := run(t, "", "extend", "old", "-n", "team-a", "--for", "7d", "--repo", bare)
	if err != nil || !strings.Contains(out, "(was 2020-01-02 00:00:00 UTC)") || !strings.HasSuffix(out, "; it had expired, so it runs again once Argo CD syncs the commit\n") {
		t.Errorf("extend of the expired lab = %v, %q", err, out)
	}
	out, err = run(t, "", "extend", "ada", "--for", "30d", "--repo", bare)
	if err != nil || !strings.HasSuffix(out, "; it stays stopped: labctl start ada starts it\n") {
		t.Errorf("extend of a stopped lab = %v, %q", err, out)
	}
}

// lines is an io.Writer that a test can wait on for a line a running command prints.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *lines) until(t *testing.T, s string) {
	t.Helper()
	err := testenv.Eventually(t.Context(), "output "+s, 30*time.Second, func(context.Context) (bool, string, error) {
		out := l.String()
		return strings.Contains(out, s), out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// start runs labctl args in the background; the channel gets its error.
func start(t *testing.T, out io.Writer, args ...string) <-chan error {
	t.Helper()
	cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader(""), Out: out, ErrOut: out})
	cmd.SetArgs(append(args, "--profile", filepath.Join(t.TempDir(), "none.yaml")))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(t.Context()) }()
	return done
}

// inCluster creates the lab on the branch in the cluster with a status, as Argo CD and the controller
// would have made it.
func inCluster(t *testing.T, bare, ns, name string, status labkitv1alpha1.JupyterLabStatus) *labkitv1alpha1.JupyterLab {
	t.Helper()
	lab := labOn(t, bare, ns, name)
	if err := env.Client.Create(t.Context(), lab); err != nil {
		t.Fatal(err)
	}
	setStatus(t, lab, status)
	return lab
}

func setStatus(t *testing.T, lab *labkitv1alpha1.JupyterLab, status labkitv1alpha1.JupyterLabStatus) {
	t.Helper()
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(lab), lab); err != nil {
		t.Fatal(err)
	}
	status.ObservedGeneration = lab.Generation
	lab.Status = status
	if err := env.Client.Status().Update(t.Context(), lab); err != nil {
		t.Fatal(err)
	}
}

func TestStopWaitEndsWhenThePodIsGoneAndSaysWhatIsFree(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	bare := gittest.Remote(t)
	ns, err := env.Namespace(ctx, "stop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "create", "ada", "-n", ns, "--owner", "ada", "--gpu", "T4:1", "--token-secret", "t", "--catalog", catalogFile, "--repo", bare); err != nil {
		t.Fatal(err)
	}
	lab := inCluster(t, bare, ns, "ada", labkitv1alpha1.JupyterLabStatus{Phase: labkitv1alpha1.PhaseReady, NodeName: "gpu-t4-1"})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "ada-0", Namespace: ns, Labels: map[string]string{labkitv1alpha1.LabLabel: "ada"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "jupyter", Image: "jupyter"}}},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := env.KubeconfigFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out lines
	done := start(t, &out, "stop", "ada", "-n", ns, "--wait", "--timeout", "1m", "--repo", bare, "--kubeconfig", kubeconfig)
	out.until(t, "waiting for the lab to stop: it is Ready on node gpu-t4-1")
	// What Argo CD and the controller do with the commit: the lab stops, its pod goes.
	setStatus(t, lab, labkitv1alpha1.JupyterLabStatus{Phase: labkitv1alpha1.PhaseStopped,
		Stopped: &labkitv1alpha1.StoppedStatus{Reason: labkitv1alpha1.ReasonStopped, Since: metav1.Now()}})
	out.until(t, "stopped; waiting for pod ada-0 to go")
	if err := env.Client.Delete(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("stop --wait = %v\n%s", err, out.String())
	}
	got := out.String()
	if !strings.HasPrefix(got, "lab "+ns+"/ada stopped: committed ") || !strings.HasSuffix(got, "\nGPUs free: 1× Tesla-T4\n") {
		t.Errorf("stop --wait printed:\n%s", got)
	}
}

func TestStartWaitEndsWithTheURL(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	ns, err := env.Namespace(t.Context(), "start")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "create", "ada", "-n", ns, "--owner", "ada", "--token-secret", "t", "--skip-catalog", "--repo", bare); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "stop", "ada", "-n", ns, "--repo", bare); err != nil {
		t.Fatal(err)
	}
	since := metav1.NewTime(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: "as the controller says", LastTransitionTime: metav1.Now()}
	}
	lab := inCluster(t, bare, ns, "ada", labkitv1alpha1.JupyterLabStatus{Phase: labkitv1alpha1.PhaseStopped,
		Stopped:    &labkitv1alpha1.StoppedStatus{Reason: labkitv1alpha1.ReasonIdle, Since: since},
		Conditions: []metav1.Condition{cond("Ready", metav1.ConditionFalse, "Idle"), cond("Scheduled", metav1.ConditionFalse, "Idle")}})
	kubeconfig, err := env.KubeconfigFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// status and list show why it runs no pod.
	out, err := run(t, "", "status", "ada", "-n", ns, "--repo", bare, "--kubeconfig", kubeconfig)
	if words := strings.Join(strings.Fields(out), " "); err != nil ||
		!strings.Contains(words, "cluster Stopped (Idle since 2026-12-01 14:00:00 UTC, labctl start ada -n "+ns+" starts it)") {
		t.Errorf("status = %v\n%s", err, out)
	}
	list, _, err := runErr(t, "list", "--repo", bare, "--kubeconfig", kubeconfig)
	if words := strings.Join(strings.Fields(list), " "); err != nil || !strings.Contains(words, "EXPIRES PHASE URL") ||
		!strings.Contains(words, ns+" ada ada - 2 8Gi 10Gi - Stopped (Idle) -") {
		t.Errorf("list = %v\n%s", err, list)
	}

	// No Argo CD runs here, and labstatus.Wait judges the lab at once when it sees none: the cluster is as
	// right after Argo CD applied the start, before the controller caught up with it.
	lab.Spec.Stopped = false
	if err := env.Client.Update(t.Context(), lab); err != nil {
		t.Fatal(err)
	}
	var lines lines
	done := start(t, &lines, "start", "ada", "-n", ns, "--wait", "--timeout", "1m", "--repo", bare, "--kubeconfig", kubeconfig)
	lines.until(t, "waiting for the labkit controller to pick up the lab")
	url := "http://ada." + ns + ".svc.cluster.local:8888/"
	setStatus(t, lab, labkitv1alpha1.JupyterLabStatus{Phase: labkitv1alpha1.PhaseReady, NodeName: "cpu-1", URL: url, InternalURL: url,
		Conditions: []metav1.Condition{cond("Ready", metav1.ConditionTrue, "PodReady"), cond("Scheduled", metav1.ConditionTrue, "Scheduled")}})
	if err := <-done; err != nil {
		t.Fatalf("start --wait = %v\n%s", err, lines.String())
	}
	if got := lines.String(); !strings.HasPrefix(got, "lab "+ns+"/ada started: committed ") || !strings.HasSuffix(got, "\nopen "+url+"\n") {
		t.Errorf("start --wait printed:\n%s", got)
	}
	list, _, err = runErr(t, "list", "--repo", bare, "--kubeconfig", kubeconfig)
	if words := strings.Join(strings.Fields(list), " "); err != nil || !strings.Contains(words, ns+" ada ada - 2 8Gi 10Gi - Ready "+url) {
		t.Errorf("list = %v\n%s", err, list)
	}
}

func TestListWithoutAClusterSaysWhyItShowsNoPhase(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	if _, err := run(t, "", "create", "ada", "--owner", "ada", "--token-secret", "t", "--skip-catalog", "--repo", bare); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runErr(t, append([]string{"list", "--repo", bare}, noCluster(t)...)...)
	if err != nil || strings.Contains(out, "PHASE") || !strings.Contains(strings.Join(strings.Fields(out), " "), "STORAGE EXPIRES COMMIT jupyter ada ada - 2 8Gi 10Gi - "+shortTip(t, bare)) {
		t.Errorf("list = %v\n%s", err, out)
	}
	if !strings.HasPrefix(errOut, "no PHASE and URL columns: no cluster to look at") {
		t.Errorf("list said on stderr %q, want why there are no PHASE and URL columns", errOut)
	}
}

// shortTip is the abbreviated commit main of bare is at.
func shortTip(t *testing.T, bare string) string {
	return strings.TrimSpace(gittest.Git(t, bare, "rev-parse", "--short=7", "main"))
}

func TestLayoutWithoutAClusterPushesOnlyTheHarmlessFirstStep(t *testing.T) {
	t.Parallel()
	bare := gittest.Remote(t)
	for _, name := range []string{"ada", "grace"} {
		if _, err := run(t, "", "create", name, "-n", "team-a", "--owner", name, "--token-secret", "t", "--skip-catalog", "--repo", bare); err != nil {
			t.Fatal(err)
		}
	}
	emptyKubeconfig := filepath.Join(t.TempDir(), "kubeconfig") // a kubeconfig of no cluster
	if _, err := os.Create(emptyKubeconfig); err != nil {
		t.Fatal(err)
	}
	out, _, err := runErr(t, "layout", "namespace", "--repo", bare, "--kubeconfig", emptyKubeconfig)
	if err != nil || !strings.Contains(out, "step 1 of 2 pushed") || !strings.Contains(out, "2 Applications of team-a no longer delete their labs") ||
		!strings.Contains(out, "run `labctl layout namespace` again once Argo CD has synced this commit") {
		t.Fatalf("labctl layout namespace without a cluster = %v\n%s", err, out)
	}
	if app := gittest.Git(t, bare, "show", "main:apps/team-a/ada.yaml"); strings.Contains(app, "finalizer") {
		t.Errorf("step 1 left the finalizer:\n%s", app)
	}
	// Again: step 2 needs the cluster's word, so it is refused and nothing is pushed.
	tip := gittest.Git(t, bare, "rev-parse", "main")
	out, errOut, err := runErr(t, "layout", "namespace", "--repo", bare, "--kubeconfig", emptyKubeconfig)
	if err == nil || !strings.Contains(err.Error(), "labctl cannot see the cluster to check that Argo CD synced step 1") ||
		!strings.Contains(err.Error(), "step 1 is pushed and harmless") {
		t.Errorf("labctl layout namespace again without a cluster = %v\n%s%s", err, out, errOut)
	}
	if gittest.Git(t, bare, "rev-parse", "main") != tip {
		t.Error("the refused step 2 moved main")
	}
	if _, _, err := runErr(t, "layout", "flat", "--repo", bare); err == nil || !strings.Contains(err.Error(), `layout "flat": give "lab" for one Argo CD Application per lab`) {
		t.Errorf("labctl layout flat = %v; want the two layouts named", err)
	}
}
