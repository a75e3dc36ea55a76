package generator

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"encoding/base64"
	"golang.org/x/crypto/argon2"

	"github.com/labkit-dev/labkit/pkg/catalog"
	"github.com/labkit-dev/labkit/pkg/manifests"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const hash = "argon2:$argon2id$v=19$m=10240,t=10,p=8$c2FsdHNhbHRzYWx0c2FsdA$0fdSTtnIFQsT6pQM8yNSN0LT0wAbQtJY5ZzuvwW8J6Q"

func loadCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load("testdata/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func request(mod func(*Request)) Request {
	r := Request{Name: "ada-a100", Owner: "ada", GPU: "A100-SXM4:1", CPU: "8", Memory: "32Gi", Storage: "100Gi", PasswordHash: hash}.WithDefaults(Defaults)
	if mod != nil {
		mod(&r)
	}
	return r
}

func TestParseGPU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		product   string
		count     int32
		wantError string
	}{
		{"", "", 0, ""},
		{"none", "", 0, ""},
		{"A100:0", "", 0, ""},
		{"A100", "A100", 1, ""},
		{"A100:2", "A100", 2, ""},
		{"NVIDIA-A100-SXM4-40GB:4", "NVIDIA-A100-SXM4-40GB", 4, ""},
		{"A100:17", "", 0, `gpu "A100:17": count "17" must be a whole number from 0 to 16`},
		{"A100:two", "", 0, `count "two" must be a whole number`},
		{":2", "", 0, `gpu ":2" names no GPU model`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			p, c, err := ParseGPU(tt.in)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error = %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil || p != tt.product || c != tt.count {
				t.Fatalf("= %q, %d, %v; want %q, %d", p, c, err, tt.product, tt.count)
			}
		})
	}
}

func TestBuildRefusesBadRequestsSayingWhatWouldBeAccepted(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	tests := []struct {
		name     string
		mod      func(*Request)
		sentinel error
		want     []string
	}{
		{"an ambiguous GPU name lists the candidates", func(r *Request) { r.GPU = "A100:1" }, catalog.ErrAmbiguousGPU,
			[]string{"NVIDIA-A100-80GB-PCIe", "NVIDIA-A100-SXM4-40GB"}},
		{"an unknown GPU lists what is offered", func(r *Request) { r.GPU = "V100:1" }, catalog.ErrUnknownGPU,
			[]string{`"V100"`, "Tesla-T4"}},
		{"more GPUs than any node has free", func(r *Request) { r.GPU = "T4:3" }, catalog.ErrNoFit,
			[]string{"Tesla-T4", "gpu-t4-1"}},
		{"more CPU than the CPU nodes have free", func(r *Request) { r.GPU = ""; r.CPU = "64" }, catalog.ErrNoFit,
			[]string{"cpu-1"}},
		{"every field problem at once", func(r *Request) {
			r.Name = "Ada_Lab"
			r.CPU = "eight"
			r.Memory = "0"
			r.PasswordHash = "hunter2"
		}, nil, []string{`name "Ada_Lab" may hold only lower-case letters, digits and '-'`, `cpu "eight" is not a quantity: use e.g. "8"`,
			`--memory 0 must be more than 0`, "password hash (7 characters, not shown) is not an argon2 hash"}},
		{"no login", func(r *Request) { r.PasswordHash = "" }, nil, []string{"--password-stdin", "--token-secret"}},
		{"two logins", func(r *Request) { r.TokenSecret = "tok" }, nil, []string{"not both"}},
		{"a GPU count out of range", func(r *Request) { r.GPU = "T4:99" }, nil, []string{"from 0 to 16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lab, err := Build(request(tt.mod), cat)
			if err == nil {
				t.Fatalf("accepted: %+v", lab.Spec)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("error is not %v: %v", tt.sentinel, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error echoes the plaintext password: %v", err)
			}
		})
	}
}

func TestBuildResolvesTheGPUNameLeniently(t *testing.T) {
	t.Parallel()
	lab, err := Build(request(func(r *Request) { r.GPU = "t4:2"; r.CPU = "4"; r.Memory = "8Gi" }), loadCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	if lab.Spec.GPU.Product != "Tesla-T4" || lab.Spec.GPU.Count != 2 {
		t.Errorf("gpu = %+v, want 2× Tesla-T4", lab.Spec.GPU)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	target := Target{RepoURL: "http://git.example/labs.git", Revision: "team-a"}
	tests := []struct {
		name string
		req  Request
	}{
		{"gpu-password", request(nil)},
		{"cpu-token", request(func(r *Request) {
			r.Name, r.Owner, r.GPU, r.CPU, r.Memory, r.PasswordHash, r.TokenSecret = "grace-cpu", "grace", "none", "500m", "1Gi", "", "grace-token"
			r.StorageClass = "standard"
		})},
		// How a lab's lifetime, /dev/shm and shared volumes are written: times in UTC to the second,
		// durations as Go writes them (the CRD's pattern), quantities quoted.
		{"gpu-lifetime-volumes", request(func(r *Request) {
			r.Until, r.IdleTimeout, r.Shm = "2026-12-24", "90m", "8Gi"
			r.Mounts = []string{"imagenet:/data/imagenet:ro", "scratch:/scratch"}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lab, err := Build(tt.req, loadCatalog(t), BuildAt(now))
			if err != nil {
				t.Fatal(err)
			}
			files, err := Render(lab, target, "")
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			for _, f := range files {
				fmt.Fprintf(&got, "# %s\n%s", f.Path, f.Content)
			}
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("render differs from %s (run go test -update to accept):\n%s", golden, got.String())
			}
		})
	}
}

func TestHashPasswordMakesAJupyterArgon2Hash(t *testing.T) {
	t.Parallel()
	h, err := HashPassword([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if !passwordHashPattern.MatchString(h) {
		t.Fatalf("%s does not match the CRD's pattern", h)
	}
	parts := strings.Split(h, "$") // argon2:, argon2id, v=19, m=..., salt, key
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		t.Fatal(err)
	}
	key := argon2.IDKey([]byte("correct horse"), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	if base64.RawStdEncoding.EncodeToString(key) != parts[5] {
		t.Error("the hash does not verify against its own password")
	}
	other, _ := HashPassword([]byte("correct horse"))
	if other == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

func TestPasswordHashPatternIsTheCRDs(t *testing.T) {
	t.Parallel()
	if !bytes.Contains(manifests.CRD(), []byte("pattern: "+passwordHashPattern.String())) {
		t.Errorf("the CRD has no pattern %s: keep passwordHashPattern and the marker on AuthSpec.PasswordHash equal", passwordHashPattern)
	}
}

func TestBuildTurnsEnvPairsIntoTheLabsEnvironment(t *testing.T) {
	t.Parallel()
	lab, err := Build(request(func(r *Request) {
		r.Env = []string{"DOCKER_STACKS_JUPYTER_CMD=lab", "GREETING=a=b", "DOCKER_STACKS_JUPYTER_CMD=notebook"}
		r.EnvSecrets = []string{"HF_TOKEN=hugging-face:token"}
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := lab.Spec.Env
	if len(env) != 3 || env[0].Name != "DOCKER_STACKS_JUPYTER_CMD" || *env[0].Value != "notebook" || *env[1].Value != "a=b" ||
		env[2].SecretKeyRef == nil || env[2].SecretKeyRef.Name != "hugging-face" || env[2].SecretKeyRef.Key != "token" {
		t.Errorf("env = %+v, want the later value for a repeated name, a value with '=', and the Secret reference", env)
	}
	_, err = Build(request(func(r *Request) {
		r.Env = []string{"HF_TOKEN=hf_abc123", "MY-VAR=1", "NOEQUALS", "JUPYTER_TOKEN=x"}
		r.EnvSecrets = []string{"DB=creds", "X=Not_A_Name:k"}
	}), nil)
	if err == nil {
		t.Fatal("Build accepted bad env pairs")
	}
	for _, want := range []string{
		"env HF_TOKEN=(value not shown): HF_TOKEN looks like it holds a secret", "pass --env-secret HF_TOKEN=SECRET:KEY",
		`env "MY-VAR=1": the name "MY-VAR" may hold only letters, digits and '_'`, `env "NOEQUALS": give NAME=VALUE`,
		`JUPYTER_TOKEN is set by labkit`, `env secret "DB=creds": give NAME=SECRET:KEY`, `"Not_A_Name" is not a Secret name`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hf_abc123") {
		t.Errorf("the error shows the secret value: %v", err)
	}
}

// Defect: --memory 32 was committed as 32 bytes and --storage 1 as one byte. A size needs a binary
// unit and at least a floor; the decimal spellings people use for GiB are refused with the spelling
// to use, the same way for every size.
func TestSizesNeedABinaryUnitAndAFloor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mod  func(*Request)
		want string // "" means accepted
	}{
		{func(r *Request) { r.Memory = "32" }, "--memory 32 has no unit, so it would mean 32 byte(s): did you mean 32Gi?"},
		{func(r *Request) { r.Storage = "1" }, "--storage 1 has no unit, so it would mean 1 byte(s): did you mean 1Gi?"},
		{func(r *Request) { r.Memory = "32GB" }, "--memory 32GB: write 32Gi; sizes are in binary units"},
		{func(r *Request) { r.Memory = "32G" }, "--memory 32G: write 32Gi"},
		{func(r *Request) { r.Storage = "500gb" }, "--storage 500gb: write 500Gi"},
		{func(r *Request) { r.Memory = "512M" }, "--memory 512M: write 512Mi"},
		{func(r *Request) { r.Shm = "8G" }, "--shm 8G: write 8Gi"},
		{func(r *Request) { r.Memory = "32 bytes" }, `"bytes" is not a unit: use Mi, Gi or Ti`},
		{func(r *Request) { r.Memory = "100Mi" }, "--memory 100Mi is too small: a lab needs at least 256Mi"},
		{func(r *Request) { r.Storage = "500Mi" }, "--storage 500Mi is too small: a lab needs at least 1Gi"},
		{func(r *Request) { r.Shm = "1Mi" }, "--shm 1Mi is too small: a lab needs at least 64Mi"},
		{func(r *Request) { r.Memory, r.Storage = "256Mi", "1Gi" }, ""},
		{func(r *Request) { r.Memory, r.Storage, r.Shm = "1536Mi", "2Ti", "64Mi" }, ""},
	}
	for _, tt := range tests {
		r := request(tt.mod)
		lab, err := Build(r, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("memory %s, storage %s, shm %s refused: %v", r.Memory, r.Storage, r.Shm, err)
		case tt.want == "" && (lab.Spec.Resources.Memory.String() != r.Memory || lab.Spec.Storage.Size.String() != r.Storage):
			t.Errorf("memory %s, storage %s became %s, %s", r.Memory, r.Storage, lab.Spec.Resources.Memory.String(), lab.Spec.Storage.Size.String())
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("memory %s, storage %s, shm %s: %v; want it refused saying %q", r.Memory, r.Storage, r.Shm, err, tt.want)
		}
	}
}

// Defect: a 70-character name was refused with the character rule it satisfies.
func TestALongNameIsRefusedForItsLength(t *testing.T) {
	t.Parallel()
	name := strings.Repeat("a", 70)
	_, err := Build(request(func(r *Request) { r.Name = name }), nil)
	if err == nil || !strings.Contains(err.Error(), "is 70 characters, but at most 50 are allowed: the parts made for the lab") ||
		strings.Contains(err.Error(), "lower-case") {
		t.Errorf("a 70-character name: %v; want the length limit and why, not the character rule", err)
	}
	if _, err := Build(request(func(r *Request) { r.Name = strings.Repeat("a", 50) }), nil); err != nil {
		t.Errorf("a 50-character name refused: %v", err)
	}
}
