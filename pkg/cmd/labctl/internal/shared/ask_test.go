package shared_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl"
	"github.com/labkit-dev/labkit/pkg/internal/gittest"
)

const testCatalog = "../../../../generator/testdata/catalog.yaml"

// A person at a terminal runs `labctl create` with nothing but the catalog: labctl asks for each
// value, offering the GPU models free now, shows the commit, asks before pushing it, and offers to
// save the answers as the profile, without the password.
func TestCreateOnATerminalAsksForWhatIsMissing(t *testing.T) {
	gitEnv(t)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none")) // no cluster, so no storage classes to ask about
	const password = "battery-staple-9"
	bare := gittest.Remote(t)
	profile := filepath.Join(t.TempDir(), "profile.yaml")
	c := newConsole(t)
	var out, errOut bytes.Buffer
	c.run(func(tty *os.File) error {
		cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: tty, Out: &out, ErrOut: &errOut})
		cmd.SetArgs([]string{"create", "--catalog", testCatalog, "--profile", profile})
		return cmd.ExecuteContext(context.Background())
	})
	c.typeAt(t, "Git repository to commit the lab to (a URL, or a path on this machine): ", bare)
	c.typeAt(t, "Name of the lab (lower-case letters, digits and '-', e.g. ada-a100): ", "Ada_T4") // refused, asked again
	c.expect(t, "may hold only lower-case letters, digits and '-'")
	c.typeAt(t, "Name of the lab (lower-case letters, digits and '-', e.g. ada-a100): ", "ada-t4")
	c.typeAt(t, "Your name, as lower-case letters, digits and '-' (e.g. ada): ", "ada")
	c.expect(t, "GPUs in the cluster now:")
	c.expect(t, "1) NVIDIA-A100-80GB-PCIe: 2 of 2 free; the most one lab can have: 2× NVIDIA-A100-80GB-PCIe, 32 CPU, 256Gi (node gpu-a100-80g-1)")
	c.expect(t, "3) Tesla-T4: 2 of 2 free")
	c.expect(t, "4) none: a lab without GPUs")
	c.typeAt(t, "GPU (a number, or MODEL:COUNT) [4]: ", "3")
	c.typeAt(t, "How many Tesla-T4 (1 to 2 on one node) [1]: ", "")
	c.typeAt(t, "CPU cores, e.g. 8 or 500m (node gpu-t4-1 has 8 free) [2]: ", "4")
	c.typeAt(t, "Memory, e.g. 32Gi (node gpu-t4-1 has 30Gi free) [8Gi]: ", "32") // a bare number is refused
	c.expect(t, "--memory 32 has no unit")
	c.typeAt(t, "Memory, e.g. 32Gi (node gpu-t4-1 has 30Gi free) [8Gi]: ", "16Gi")
	c.typeAt(t, "Storage for your files, kept when the lab stops, e.g. 100Gi [10Gi]: ", "")
	c.answer(t, "Password for lab ada-t4: ", password)
	c.answer(t, "Again, to confirm: ", password)
	c.expect(t, "+++ b/labs/jupyter/ada-t4/jupyterlab.yaml")
	c.typeAt(t, "Commit and push it? (y/N): ", "y")
	c.typeAt(t, "Save your answers (not the password) as your defaults in "+profile+"? (y/N): ", "y")
	if err := c.wait(t); err != nil {
		t.Fatalf("labctl create: %v\nstderr: %s\nterminal: %s", err, errOut.String(), c.screen())
	}
	if !strings.Contains(out.String(), "lab jupyter/ada-t4 committed as") {
		t.Errorf("stdout = %q, want what create prints", out.String())
	}
	lab := gittest.Git(t, bare, "show", "main:labs/jupyter/ada-t4/jupyterlab.yaml")
	for _, want := range []string{"owner: ada", "product: Tesla-T4", "count: 1", "cpu: \"4\"", `memory: "16Gi"`, `size: "10Gi"`, "passwordHash: argon2:"} {
		if !strings.Contains(lab, want) {
			t.Errorf("the committed lab lacks %q:\n%s", want, lab)
		}
	}
	saved, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"owner: ada", "gpu: Tesla-T4:1", "cpu: \"4\"", "memory: 16Gi", "storage: 10Gi", "repo: " + bare} {
		if !strings.Contains(string(saved), want) {
			t.Errorf("the saved profile lacks %q:\n%s", want, saved)
		}
	}
	if strings.Contains(string(saved), "argon2") || strings.Contains(string(saved), password) || strings.Contains(c.screen(), password) {
		t.Errorf("the password, or its hash, is in the profile or was shown:\n%s", saved)
	}
}

// Declining the commit pushes nothing; a whole request and --yes ask nothing.
func TestCreateOnATerminalPushesNothingWhenDeclinedAndYesNeverAsks(t *testing.T) {
	gitEnv(t)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none")) // no cluster, so no storage classes to ask about
	bare := gittest.Remote(t)
	before := gittest.Refs(t, bare)
	args := []string{"create", "grace", "--owner", "grace", "--gpu", "none", "--cpu", "1", "--memory", "1Gi",
		"--token-secret", "t", "--catalog", testCatalog, "--repo", bare, "--profile", filepath.Join(t.TempDir(), "none.yaml")}
	c := newConsole(t)
	c.run(func(tty *os.File) error {
		cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: tty, Out: io.Discard, ErrOut: io.Discard})
		cmd.SetArgs(args)
		return cmd.ExecuteContext(context.Background())
	})
	c.typeAt(t, "Storage for your files, kept when the lab stops, e.g. 100Gi [10Gi]: ", "")
	c.typeAt(t, "Commit and push it? (y/N): ", "")
	c.expect(t, "Nothing committed.")
	if err := c.wait(t); err != nil {
		t.Fatal(err)
	}
	if after := gittest.Refs(t, bare); after != before {
		t.Errorf("a declined create changed the remote:\n%s", after)
	}

	// A request given whole on a terminal is committed without a question, as from a pipe.
	c = newConsole(t)
	c.run(func(tty *os.File) error {
		cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: tty, Out: io.Discard, ErrOut: io.Discard})
		cmd.SetArgs(append(args, "--storage", "1Gi"))
		return cmd.ExecuteContext(context.Background())
	})
	if err := c.wait(t); err != nil {
		t.Fatal(err)
	}
	if screen := c.screen(); screen != "" {
		t.Errorf("a whole request asked: %q", screen)
	}
	if gittest.Refs(t, bare) == before {
		t.Error("a whole request on a terminal was not committed")
	}

	// --yes on a terminal: nothing asked, what is missing refused.
	c = newConsole(t)
	c.run(func(tty *os.File) error {
		cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: tty, Out: io.Discard, ErrOut: io.Discard})
		cmd.SetArgs([]string{"create", "x", "--yes", "--skip-catalog", "--repo", bare, "--profile", filepath.Join(t.TempDir(), "none.yaml")})
		return cmd.ExecuteContext(context.Background())
	})
	if err := c.wait(t); err == nil || !strings.Contains(err.Error(), "--owner (the person the lab belongs to) is required") {
		t.Errorf("create --yes with no owner on a terminal: %v", err)
	}
	if screen := c.screen(); screen != "" {
		t.Errorf("create --yes asked: %q", screen)
	}
}

// typeAt waits for prompt and types line and Enter, with echo on, as a person answers a question.
func (c *console) typeAt(t *testing.T, prompt, line string) {
	t.Helper()
	c.expect(t, prompt)
	if _, err := io.WriteString(c.ptmx, line+"\r"); err != nil {
		t.Fatal(err)
	}
}

// With more than one storage class in the cluster, labctl asks which, offering the default.
func TestCreateOnATerminalOffersTheClustersStorageClasses(t *testing.T) {
	gitEnv(t)
	for name, isDefault := range map[string]string{"fast-ssd": "true", "bulk-hdd": "false"} {
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": isDefault}}, Provisioner: "example.com/disk"}
		if err := env.Client.Create(t.Context(), sc); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), sc) })
	}
	kubeconfig, err := env.KubeconfigFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bare := gittest.Remote(t)
	c := newConsole(t)
	c.run(func(tty *os.File) error {
		cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: tty, Out: io.Discard, ErrOut: io.Discard})
		cmd.SetArgs([]string{"create", "grace", "--owner", "grace", "--gpu", "none", "--cpu", "1", "--memory", "1Gi", "--token-secret", "t",
			"--skip-catalog", "--kubeconfig", kubeconfig, "--repo", bare, "--profile", filepath.Join(t.TempDir(), "none.yaml")})
		return cmd.ExecuteContext(context.Background())
	})
	c.typeAt(t, "Storage for your files, kept when the lab stops, e.g. 100Gi [10Gi]: ", "")
	c.typeAt(t, "Storage class, the kind of disk your files are kept on (bulk-hdd, fast-ssd) [fast-ssd]: ", "slow")
	c.expect(t, "choose one of bulk-hdd, fast-ssd")
	c.typeAt(t, "Storage class, the kind of disk your files are kept on (bulk-hdd, fast-ssd) [fast-ssd]: ", "bulk-hdd")
	c.typeAt(t, "Commit and push it? (y/N): ", "y")
	c.typeAt(t, "(y/N): ", "n") // not saved as the profile
	if err := c.wait(t); err != nil {
		t.Fatalf("%v\nterminal: %s", err, c.screen())
	}
	if lab := gittest.Git(t, bare, "show", "main:labs/jupyter/grace/jupyterlab.yaml"); !strings.Contains(lab, "storageClassName: bulk-hdd") {
		t.Errorf("the committed lab does not have the storage class chosen:\n%s", lab)
	}
}
