package generator

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/catalog"
)

func TestResolverTakesFlagsThenSpecFileThenProfileThenDefaults(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "ada.yaml")
	writeFile(t, file, "name: ada-a100\nowner: ada\ncpu: \"4\"\nmemory: 16Gi\nenv: [A=from-file, B=file]\n")
	rs := Resolver{
		File:    file,
		Profile: Profile{Owner: "grace", Memory: "64Gi", Storage: "50Gi", GPU: "A100-SXM4:1", Repo: "ignored.git"},
		Catalog: func() (*catalog.Catalog, error) { return loadCatalog(t), nil },
	}
	lab, err := rs.Lab(Request{CPU: "8", Env: []string{"A=from-flag"}, PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	s := lab.Spec
	for _, c := range []struct{ what, got, want string }{
		{"name (spec file)", lab.Name, "ada-a100"},
		{"owner (spec file over profile)", s.Owner, "ada"},
		{"cpu (flag over spec file)", s.Resources.CPU.String(), "8"},
		{"memory (spec file over profile)", s.Resources.Memory.String(), "16Gi"},
		{"storage (profile over default)", s.Storage.Size.String(), "50Gi"},
		{"gpu (profile)", s.GPU.Product, "NVIDIA-A100-SXM4-40GB"},
		{"namespace (default)", lab.Namespace, Defaults.Namespace},
		{"image (default)", s.Image, Defaults.Image},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	var env []string
	for _, e := range s.Env {
		if e.Value != nil {
			env = append(env, e.Name+"="+*e.Value)
		}
	}
	if got := strings.Join(env, " "); got != "A=from-flag B=file" {
		t.Errorf("env = %s, want the flag's A over the file's, and the file's B", got)
	}
}

func TestResolverSaysEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	noRepo := errors.New("no repository")
	rs := Resolver{Catalog: func() (*catalog.Catalog, error) { return nil, errors.New("no cluster to check the request against") }}
	_, err := rs.Lab(Request{Name: "ada", Memory: "32"}, noRepo, nil)
	var reqErr *RequestError
	if !errors.As(err, &reqErr) {
		t.Fatalf("Lab() = %v, want a RequestError", err)
	}
	for _, want := range []string{"no cluster to check", "no repository", "--owner (the person the lab belongs to) is required", "--memory 32 has no unit", "did you mean 32Gi?", "needs a login"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
}

func TestResolverNamesTheProfileOfARefusedValue(t *testing.T) {
	t.Parallel()
	rs := Resolver{Profile: Profile{Memory: "32GB"}, ProfilePath: "/home/ada/.config/labkit/profile.yaml"}
	_, err := rs.Request(Request{Name: "ada", Owner: "ada"}, nil)
	if err == nil || !strings.Contains(err.Error(), "your profile /home/ada/.config/labkit/profile.yaml holds values labctl refuses") {
		t.Fatalf("Request() = %v, want the profile named", err)
	}
	// A value the request gives itself leaves the profile's unread, and so unrefused.
	if _, err := rs.Request(Request{Name: "ada", Owner: "ada", Memory: "16Gi"}, nil); err != nil {
		t.Errorf("Request() with --memory = %v, want the profile's memory unread", err)
	}
}

func TestResolverReadsAPasswordAndKeepsOnlyItsHash(t *testing.T) {
	t.Parallel()
	asked := ""
	rs := Resolver{ReadPassword: true, Password: func(lab string) ([]byte, error) { asked = lab; return []byte("s3cret-passw0rd"), nil }}
	req, err := rs.Request(Request{Name: "ada", Owner: "ada"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if asked != "ada" || !strings.HasPrefix(req.PasswordHash, "argon2:") || strings.Contains(req.PasswordHash, "s3cret") {
		t.Errorf("asked for %q, hash %q; want lab ada's password hashed", asked, req.PasswordHash)
	}
	// No name: refused before a password is asked for a lab that has none.
	asked = ""
	if _, err := rs.Request(Request{Owner: "ada"}, nil); !errors.Is(err, ErrNoName) || asked != "" {
		t.Errorf("Request() without a name = %v (asked %q), want ErrNoName before asking", err, asked)
	}
}

// askOwner is an Asker that answers the owner, as a person at a terminal would.
type askOwner struct{ defaults Request }

func (a *askOwner) Fill(req *Request, _ *catalog.Catalog, d Request) error {
	a.defaults = d
	if req.Owner == "" {
		req.Owner = "ada"
	}
	return nil
}

func TestResolverAsksAfterTheProfileAndThenWantsAPassword(t *testing.T) {
	t.Parallel()
	ask := &askOwner{}
	read := false
	rs := Resolver{Ask: ask, Profile: Profile{CPU: "4"}, Password: func(string) ([]byte, error) { read = true; return []byte("s3cret-passw0rd"), nil }}
	req, err := rs.Request(Request{Name: "ada"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.Owner != "ada" || req.CPU != "4" || ask.defaults.Memory != Defaults.Memory || !read || req.PasswordHash == "" {
		t.Errorf("owner %q cpu %q, asker's default memory %q, password read %v: want the answer, the profile, the defaults offered and a password",
			req.Owner, req.CPU, ask.defaults.Memory, read)
	}
}
