package browser

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/argon2"

	labexec "github.com/labkit-dev/labkit/pkg/internal/exec"
)

// needChromium returns the browser to run, skipping the test when there is none.
func needChromium(t *testing.T) string {
	t.Helper()
	path, err := Find()
	if errors.Is(err, ErrNoBrowser) {
		t.Skipf("this test drives a real browser: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// needJupyterNotebook returns the jupyter command, skipping the test when it or its notebook
// subcommand is missing.
func needJupyterNotebook(t *testing.T) string {
	t.Helper()
	jupyter, err := exec.LookPath("jupyter")
	if err == nil {
		_, err = exec.LookPath("jupyter-notebook") // what "jupyter notebook" runs
	}
	if err != nil {
		t.Skipf("this test runs a real Jupyter server (%v): install Debian's jupyter-notebook python3-notebook python3-ipykernel python3-argon2 (apt-get install jupyter-notebook python3-notebook python3-ipykernel python3-argon2)", err)
	}
	return jupyter
}

// startBrowser starts a browser that the test closes at its end.
func startBrowser(t *testing.T, opts ...Option) *Browser {
	t.Helper()
	b, err := Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return b
}

func TestFindLooksAtLabkitChromiumThenPath(t *testing.T) {
	bin := t.TempDir()
	fake := filepath.Join(bin, "google-chrome")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	tests := []struct {
		name, env, path string
		want            string
		wantErr         string // empty means success
		noBrowser       bool   // the error wraps ErrNoBrowser
	}{
		{name: "a browser on PATH", path: bin, want: fake},
		{name: "LABKIT_CHROMIUM first", env: fake, path: empty, want: fake},
		{
			name: "nothing anywhere", path: empty, noBrowser: true,
			wantErr: "install Debian's chromium package (apt-get install chromium) or set LABKIT_CHROMIUM",
		},
		{
			name: "LABKIT_CHROMIUM naming nothing is a mistake, not a missing browser", env: filepath.Join(empty, "chromium"), path: bin,
			wantErr: "LABKIT_CHROMIUM=" + filepath.Join(empty, "chromium") + " names no program",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvChromium, tt.env)
			t.Setenv("PATH", tt.path)
			got, err := Find()
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Find() = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Find() = %q, %v; want an error saying %q", got, err, tt.wantErr)
			}
			if errors.Is(err, ErrNoBrowser) != tt.noBrowser {
				t.Errorf("errors.Is(%v, ErrNoBrowser) = %t, want %t", err, !tt.noBrowser, tt.noBrowser)
			}
		})
	}
}

func TestStartRefusesEmptyOptions(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]Option{
		"exec path":      WithExecPath(""),
		"resolver rules": WithHostResolverRules(" "),
		"screenshots":    WithScreenshots(""),
		"step timeout":   WithStepTimeout(0),
	} {
		if b, err := Start(t.Context(), opt); err == nil {
			b.Close()
			t.Errorf("Start() with an empty %s: no error", name)
		}
	}
}

func TestCloseStopsChromiumAndRemovesItsProfile(t *testing.T) {
	t.Parallel()
	b, err := Start(t.Context(), WithExecPath(needChromium(t)))
	if err != nil {
		t.Fatal(err)
	}
	pid := chromedp.FromContext(b.tab).Browser.Process().Pid
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	var profile string
	for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
		if dir, ok := strings.CutPrefix(string(arg), "--user-data-dir="); ok {
			profile = dir
		}
	}
	if profile == "" {
		t.Fatalf("chromium %d has no --user-data-dir: %q", pid, cmdline)
	}
	for _, flag := range []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync"} {
		if !slices.Contains(strings.Split(string(cmdline), "\x00"), flag) {
			t.Errorf("chromium runs without %s: %q", flag, cmdline)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := os.Stat(profile); !os.IsNotExist(err) {
		t.Errorf("the profile %s is still there after Close (%v)", profile, err)
	}
	if left := processesWith(t, "--user-data-dir="+profile); len(left) > 0 {
		t.Errorf("chromium processes %v are still running after Close", left)
	}
	if err := b.Close(); err != nil {
		t.Errorf("a second Close() = %v", err)
	}
}

func TestStartGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	chromium := needChromium(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b, err := Start(ctx, WithExecPath(chromium))
	if err == nil {
		b.Close()
		t.Fatal("Start() with a cancelled context: no error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Start() with a cancelled context = %v, want an error wrapping context.Canceled", err)
	}
}

// TestOpenJupyterOnPagesThatAreNoLoginForm checks that OpenJupyter says what it found when a page is
// not a Jupyter login form.
func TestOpenJupyterOnPagesThatAreNoLoginForm(t *testing.T) {
	b := startBrowser(t, WithExecPath(needChromium(t)), WithStepTimeout(15*time.Second), WithLogger(testr.New(t)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		switch r.URL.Path {
		case "/open/": // the classic UI's file list, shown to anyone
			fmt.Fprint(w, `<html><body data-base-url="/open/"><div id="notebook_list"></div></body></html>`)
		default:
			fmt.Fprint(w, `<html><head><title>Welcome</title></head><body>nothing to see here</body></html>`)
		}
	}))
	t.Cleanup(srv.Close)

	t.Run("a lab that does not ask for a password", func(t *testing.T) {
		_, err := b.OpenJupyter(t.Context(), srv.URL+"/open/", "pw")
		if err == nil || !strings.Contains(err.Error(), "showed the classic UI without asking for a password") {
			t.Errorf("OpenJupyter() = %v, want an error saying the lab did not ask for a password", err)
		}
	})
	t.Run("a page that is not Jupyter's", func(t *testing.T) {
		start := time.Now()
		_, err := b.OpenJupyter(t.Context(), srv.URL+"/", "pw")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("OpenJupyter() = %v, want it to time out", err)
		}
		for _, want := range []string{`step "login-page" took longer than 15s`, `a page titled "Welcome"`, `"nothing to see here"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("OpenJupyter() = %v, want %q in it", err, want)
			}
		}
		if took := time.Since(start); took > 2*time.Minute {
			t.Errorf("OpenJupyter() took %s, want about the 15s step timeout", took)
		}
	})
	t.Run("a URL that is not http", func(t *testing.T) {
		if _, err := b.OpenJupyter(t.Context(), "alice.labs.test", "pw"); err == nil || !strings.Contains(err.Error(), "is not an http or https URL") {
			t.Errorf("OpenJupyter() = %v, want an error about the URL", err)
		}
	})
}

// TestAPersonCanUseALabInTheBrowser drives a real Jupyter server, the one the Debian packages serve
// (jupyter notebook: notebook 6 with its classic UI), through a real Chromium.
func TestAPersonCanUseALabInTheBrowser(t *testing.T) {
	chromium := needChromium(t)
	jupyter := needJupyterNotebook(t)
	const password = "correct horse battery staple"
	port := startJupyterNotebook(t, jupyter, password)
	// A host name under a test domain that the browser maps to the server, as a lab's would be.
	labURL := fmt.Sprintf("http://alice.labs.test:%d/", port)
	shots := t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			keepScreenshots(t, shots)
		}
	})
	b := startBrowser(t,
		WithExecPath(chromium),
		WithHostResolverRules("MAP *.labs.test 127.0.0.1"),
		WithScreenshots(shots),
		WithLogger(testr.New(t)),
	)

	t.Run("a wrong password is refused", func(t *testing.T) {
		_, err := b.OpenJupyter(t.Context(), labURL, "not "+password)
		if !errors.Is(err, ErrLoginRefused) {
			t.Fatalf("OpenJupyter(a wrong password) = %v, want an error wrapping ErrLoginRefused", err)
		}
		if !strings.Contains(err.Error(), `"Invalid credentials"`) {
			t.Errorf("OpenJupyter(a wrong password) = %v, want the login page's message \"Invalid credentials\" in it", err)
		}
	})

	var lab *Jupyter
	t.Run("the right password logs in", func(t *testing.T) {
		var err error
		if lab, err = b.OpenJupyter(t.Context(), labURL, password); err != nil {
			t.Fatalf("OpenJupyter(the password) = %v", err)
		}
		if lab.UI() != UIClassic {
			t.Errorf("UI() = %q, want %q", lab.UI(), UIClassic)
		}
		if lab.BaseURL() != labURL {
			t.Errorf("BaseURL() = %q, want %q", lab.BaseURL(), labURL)
		}
	})
	if lab == nil {
		t.FailNow()
	}

	for _, tt := range []struct{ name, code, want string }{
		{name: "a cell prints 42", code: "print(6*7)", want: "42"},
		{
			// Typed key by key, the editor would have closed the brackets and indented the second
			// line once more.
			name: "code with brackets and indented lines reaches the kernel as written",
			code: "def twice(x):\n    return [x, (x * 2)]\nprint(twice(21))",
			want: "[21, 42]",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lab.RunInNewNotebook(t.Context(), tt.code)
			if err != nil {
				t.Fatalf("RunInNewNotebook(%q) = %v", tt.code, err)
			}
			if got != tt.want {
				t.Errorf("RunInNewNotebook(%q) = %q, want %q", tt.code, got, tt.want)
			}
		})
	}

	t.Run("a long cell that printed is left running", func(t *testing.T) {
		// RunInNewNotebook would wait for the cell to end, an hour from now, and time out.
		got, err := lab.StartInNewNotebook(t.Context(), "print('started', flush=True)\nimport time\ntime.sleep(3600)")
		if err != nil || got != "started" {
			t.Fatalf("StartInNewNotebook = %q, %v; want \"started\" while the cell runs on", got, err)
		}
	})

	t.Run("a browser logged in already is refused a wrong password all the same", func(t *testing.T) {
		if _, err := b.OpenJupyter(t.Context(), labURL, "not "+password); !errors.Is(err, ErrLoginRefused) {
			t.Fatalf("OpenJupyter(a wrong password) = %v, want an error wrapping ErrLoginRefused", err)
		}
	})

	t.Run("each step left a screenshot", func(t *testing.T) {
		entries, err := os.ReadDir(shots)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
			f, err := os.Open(filepath.Join(shots, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(f)
			f.Close()
			if err != nil || cfg.Width == 0 || cfg.Height == 0 {
				t.Errorf("%s: %dx%d, %v; want a PNG of the page", e.Name(), cfg.Width, cfg.Height, err)
			}
		}
		want := []string{
			"01-login-page.png", "02-logged-in-failed.png", // the wrong password
			"03-login-page.png", "04-logged-in.png",
			"05-notebook-open.png", "06-cell-run.png",
			"07-notebook-open.png", "08-cell-run.png",
			"09-notebook-open.png", "10-cell-run.png",
			"11-login-page.png", "12-logged-in-failed.png",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("screenshots (-want +got):\n%s", diff)
		}
	})
}

// startJupyterNotebook runs "jupyter notebook" on a free port of 127.0.0.1, with password, in a
// temporary directory, and returns the port once the server answers. The test stops it at its end.
func startJupyterNotebook(t *testing.T, jupyter, password string) int {
	t.Helper()
	dir := t.TempDir()
	env := []string{}
	for _, d := range []string{"config", "data", "runtime", "ipython", "work"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env = append(env,
		"JUPYTER_CONFIG_DIR="+filepath.Join(dir, "config"),
		"JUPYTER_DATA_DIR="+filepath.Join(dir, "data"),
		"JUPYTER_RUNTIME_DIR="+filepath.Join(dir, "runtime"),
		"IPYTHONDIR="+filepath.Join(dir, "ipython"),
	)
	port := freePort(t)
	cmd := labexec.Command(context.WithoutCancel(t.Context()), jupyter, "notebook",
		"--no-browser", "--allow-root",
		"--ip=127.0.0.1", "--port="+strconv.Itoa(port), "--port-retries=0",
		"--notebook-dir="+filepath.Join(dir, "work"),
		"--NotebookApp.password="+hashPassword(t, password),
		"--NotebookApp.token=",
		"--NotebookApp.allow_remote_access=True", // answer to the lab's host name, not only to localhost
	)
	cmd.Env = env
	cmd.Dir = filepath.Join(dir, "work")
	out := &lockedBuffer{}
	p, err := cmd.Start(out, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("stop jupyter notebook: %v", err)
		}
		// The kernels run in sessions of their own, so the server's process group does not take them
		// along: the server must shut them down. Their connection files are in the runtime directory.
		if left := processesWith(t, filepath.Join(dir, "runtime")); len(left) > 0 {
			t.Errorf("kernel processes %v outlived jupyter notebook", left)
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			t.Logf("jupyter notebook's output:\n%s", out)
		}
	})

	// Wait until it answers: GET /api needs no login.
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	api := fmt.Sprintf("http://127.0.0.1:%d/api", port)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return port
			}
			err = fmt.Errorf("HTTP %s", resp.Status)
		}
		select {
		case <-p.Done():
			t.Fatalf("jupyter notebook exited before it answered on %s (%v):\n%s", api, p.Wait(), out)
		case <-ctx.Done():
			t.Fatalf("jupyter notebook did not answer on %s in time: %v:\n%s", api, err, out)
		case <-tick.C:
		}
	}
}

// hashPassword hashes password for Jupyter Server as labkit does: argon2:$argon2id$v=19$m=10240,t=10,p=8$<salt>$<hash>.
// It needs no Python, so it works whichever python3 is first on PATH.
func hashPassword(t *testing.T, password string) string {
	t.Helper()
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	const memoryKiB, iterations, threads = 10240, 10, 8
	key := argon2.IDKey([]byte(password), salt, iterations, memoryKiB, threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("argon2:$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, iterations, threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// freePort is a port of 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// processesWith lists the processes other than this one with an argument containing s.
func processesWith(t *testing.T, s string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// keepScreenshots copies the screenshots of a failed test where they outlive it.
func keepScreenshots(t *testing.T, dir string) {
	keep, err := os.MkdirTemp("", "browser-test-screenshots-")
	if err != nil {
		t.Logf("screenshots not kept: %v", err)
		return
	}
	if err := os.CopyFS(keep, os.DirFS(dir)); err != nil {
		t.Logf("screenshots not kept: %v", err)
		return
	}
	t.Logf("the screenshots of each step are in %s", keep)
}

// lockedBuffer is a bytes.Buffer safe for a process to write while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
