package gitserver_test

import (
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/harness/gitserver"
	"github.com/labkit-dev/labkit/pkg/internal/gittest"
)

func start(t *testing.T, opts ...gitserver.Option) *gitserver.Server {
	t.Helper()
	s, err := gitserver.Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return s
}

func TestPushAndCloneThroughHTTP(t *testing.T) {
	t.Parallel()
	s := start(t)
	tests := []struct {
		name string
		repo string
		size int      // bytes of incompressible content to commit
		push []string // extra arguments before "push"
	}{
		{name: "a small push", repo: "small"},
		{
			name: "a push larger than http.postBuffer, which git sends chunked",
			repo: "large",
			size: 256 << 10,
			push: []string{"-c", "http.postBuffer=65536"}, // the smallest git accepts
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, err := s.CreateRepo(tt.repo)
			if err != nil {
				t.Fatalf("CreateRepo() = %v", err)
			}
			if want := "http://" + s.Addr() + "/" + tt.repo + ".git"; url != want {
				t.Errorf("CreateRepo() URL = %q, want %q", url, want)
			}
			dir := t.TempDir()
			work := filepath.Join(dir, "work")
			gittest.Git(t, dir, "clone", "--quiet", url, work)
			content := make([]byte, tt.size)
			_, _ = rand.NewChaCha8([32]byte{}).Read(content) // incompressible, so the pack is as large
			if err := os.WriteFile(filepath.Join(work, "lab.bin"), content, 0o644); err != nil {
				t.Fatal(err)
			}
			gittest.Git(t, work, "add", "lab.bin")
			gittest.Git(t, work, "commit", "--quiet", "-m", "Add a lab")
			gittest.Git(t, work, append(tt.push, "push", "--quiet", "origin", "HEAD:refs/heads/main")...)

			again := filepath.Join(dir, "again")
			gittest.Git(t, dir, "clone", "--quiet", url, again)
			if got, want := gittest.Git(t, again, "rev-parse", "HEAD"), gittest.Git(t, work, "rev-parse", "HEAD"); got != want {
				t.Errorf("second clone is at %s, want the pushed commit %s", got, want)
			}
			if got, err := os.ReadFile(filepath.Join(again, "lab.bin")); err != nil || len(got) != tt.size {
				t.Errorf("second clone has lab.bin of %d bytes (%v), want %d", len(got), err, tt.size)
			}
		})
	}
}

func TestCreateRepoRefusesNamesThatAreNotSimple(t *testing.T) {
	t.Parallel()
	s := start(t)
	for _, name := range []string{"", "a/b", "../labs", ".hidden", "labs.git", "two words", "labs?x", "é"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := s.CreateRepo(name)
			if err == nil || !strings.Contains(err.Error(), "is not simple") {
				t.Fatalf("CreateRepo(%q) = %v, want it refused as not simple", name, err)
			}
		})
	}
}

func TestStartRefusesBadOptions(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opt     gitserver.Option
		wantErr string
	}{
		{"an address clients cannot reach", gitserver.WithAddress("0.0.0.0:0"), "no host clients could reach"},
		{"an address without a host", gitserver.WithAddress(":0"), "no host clients could reach"},
		{"an address without a port", gitserver.WithAddress("127.0.0.1"), `listen address "127.0.0.1"`},
		{"a root that does not exist", gitserver.WithRoot(filepath.Join(file, "x")), "repository root"},
		{"a root that is a file", gitserver.WithRoot(file), "is not a directory"},
		{"a URL host with a port", gitserver.WithURLHost("git:8080"), `URL host "git:8080": give a host name or address without a port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := gitserver.Start(t.Context(), tt.opt)
			if err == nil {
				_ = s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Start() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestAServerOnEveryAddressHandsOutItsURLHost(t *testing.T) {
	t.Parallel()
	s, err := gitserver.Start(t.Context(), gitserver.WithAddress("0.0.0.0:0"), gitserver.WithURLHost("labkit-demo-git"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, port, _ := net.SplitHostPort(s.Addr())
	if got, want := s.URL("labs"), "http://labkit-demo-git:"+port+"/labs.git"; got != want {
		t.Errorf("URL = %s, want %s", got, want)
	}
}

func TestCloseFreesThePort(t *testing.T) {
	t.Parallel()
	s, err := gitserver.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Fatalf("listen again on %s after Close: %v", s.Addr(), err)
	}
	_ = ln.Close()
}

// Not parallel: it points TMPDIR at a directory of its own to see what Start makes there.
func TestCloseRemovesOnlyTheRootStartMade(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	given := t.TempDir()
	tests := []struct {
		name string
		opts []gitserver.Option
		want string // the repository that must remain, if any
	}{
		{name: "a temporary root is removed"},
		{name: "a given root is kept", opts: []gitserver.Option{gitserver.WithRoot(given)}, want: filepath.Join(given, "labs.git")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := gitserver.Start(t.Context(), tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.CreateRepo("labs"); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("Close left %s in the temporary directory", left[0].Name())
			}
			if _, err := os.Stat(filepath.Join(tt.want, "HEAD")); tt.want != "" && err != nil {
				t.Errorf("Close removed the given root's repository: %v", err)
			}
		})
	}
}
