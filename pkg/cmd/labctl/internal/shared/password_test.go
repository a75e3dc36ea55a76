package shared_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/go-logr/logr"
	"golang.org/x/crypto/argon2"
	"golang.org/x/term"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl"
	"github.com/labkit-dev/labkit/pkg/internal/gittest"
)

// patience is how long a test waits for the terminal or the command: long, for a loaded machine.
const patience = 60 * time.Second

// A person types a password twice at `labctl create --password-stdin`; stdin is a terminal.
func TestCreatePasswordStdinOnATerminalAsksTwiceWithoutEcho(t *testing.T) {
	gitEnv(t)
	const password = "correct-horse-7"
	bare := gittest.Remote(t)
	c := newConsole(t)
	var out, errOut bytes.Buffer
	c.run(func(tty *os.File) error {
		cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: tty, Out: &out, ErrOut: &errOut})
		cmd.SetArgs([]string{"create", "ada", "--owner", "ada", "--password-stdin", "--dry-run", "--skip-catalog", "--yes",
			"--repo", bare, "--profile", filepath.Join(t.TempDir(), "none.yaml")})
		return cmd.ExecuteContext(context.Background())
	})
	c.answer(t, "Password for lab ada: ", password)
	c.answer(t, "Again, to confirm: ", password)
	if err := c.wait(t); err != nil {
		t.Fatalf("labctl create: %v\nstderr: %s", err, errOut.String())
	}
	c.checkEchoIsBack(t)
	if screen := c.screen(); strings.Contains(screen, password) {
		t.Errorf("the terminal echoed the password: %q", screen)
	}
	diff := out.String()
	if both := diff + errOut.String(); strings.Contains(both, "Password for lab") || strings.Contains(both, "to confirm") {
		t.Errorf("a prompt went to stdout or stderr, not the terminal:\nstdout: %s\nstderr: %s", diff, errOut.String())
	}
	if !strings.Contains(diff, "+++ b/labs/jupyter/ada/jupyterlab.yaml") || strings.Contains(diff, password) {
		t.Fatalf("dry-run diff (must hold the lab, not the password):\n%s", diff)
	}
	checkHash(t, diff, password)
}

func TestPasswordOnATerminalIsAskedAgainAfterAMismatch(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	var rendered string
	c.run(func(tty *os.File) (err error) { rendered, err = render(t, tty); return err })
	c.answer(t, "Password for lab ada: ", "first-try-1")
	c.answer(t, "Again, to confirm: ", "first-try-2")
	c.expect(t, "The two passwords differ; type them again.")
	c.answer(t, "Password for lab ada: ", "second-try")
	c.answer(t, "Again, to confirm: ", "second-try")
	if err := c.wait(t); err != nil {
		t.Fatal(err)
	}
	c.checkEchoIsBack(t)
	checkHash(t, rendered, "second-try")
	if screen := c.screen(); strings.Contains(screen, "-try") {
		t.Errorf("the terminal echoed a password: %q", screen)
	}
}

func TestPasswordOnATerminalIsRefusedAfterThreeMismatches(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	c.run(func(tty *os.File) error { _, err := render(t, tty); return err })
	for try := range 3 {
		c.answer(t, "Password for lab ada: ", "one")
		c.answer(t, "Again, to confirm: ", "another-"+strconv.Itoa(try))
	}
	err := c.wait(t)
	if err == nil || !strings.Contains(err.Error(), "--password-stdin: the two passwords typed for lab ada differed 3 times") {
		t.Errorf("error = %v", err)
	}
	c.checkEchoIsBack(t)
	if strings.Contains(c.screen(), "another-") {
		t.Errorf("the terminal echoed a password: %q", c.screen())
	}
	if n := strings.Count(c.screen(), "Password for lab ada: "); n != 3 {
		t.Errorf("asked %d times, want 3: %q", n, c.screen())
	}
}

func TestAnEmptyPasswordOnATerminalIsRefused(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	c.run(func(tty *os.File) error { _, err := render(t, tty); return err })
	c.answer(t, "Password for lab ada: ", "")
	err := c.wait(t)
	if err == nil || !strings.Contains(err.Error(), "no password typed for lab ada (what you type is not shown") {
		t.Errorf("error = %v", err)
	}
	c.checkEchoIsBack(t)
	if strings.Contains(c.screen(), "Again") {
		t.Errorf("asked to confirm an empty password: %q", c.screen())
	}
}

// From a pipe or a file, the password is the first line, as `docker login --password-stdin` reads it.
func TestPasswordFromAPipeIsTheFirstLine(t *testing.T) {
	t.Parallel()
	pipe := func(t *testing.T, data string) io.Reader {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		go func() { io.WriteString(w, data); w.Close() }()
		return r
	}
	reader := func(_ *testing.T, data string) io.Reader { return strings.NewReader(data) }
	const noPassword = "--password-stdin: stdin holds no password, e.g. `printf '%s' \"$PASSWORD\" | labctl create ...`"
	for _, tt := range []struct {
		name, stdin, want string
		open              func(*testing.T, string) io.Reader
	}{
		{"a line and more, from a reader", "s3cret\nnot this\n", "s3cret", reader},
		{"a line and more, from an os.Pipe", "s3cret\nnot this\n", "s3cret", pipe},
		{"no newline, from an os.Pipe", "s3cret", "s3cret", pipe},
		{"a CRLF line", "s3cret\r\n", "s3cret", reader},
		{"nothing, from an os.Pipe", "", "", pipe},
		{"an empty line", "\nnot this\n", "", reader},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hash, err := render(t, tt.open(t, tt.stdin))
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), noPassword) {
					t.Errorf("error = %v, want %s", err, noPassword)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkHash(t, hash, tt.want)
		})
	}
}

// render runs `labctl render ada --password-stdin` with stdin in, and returns what it prints, which
// holds the password's hash.
func render(t *testing.T, in io.Reader) (string, error) {
	var out bytes.Buffer
	cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: in, Out: &out, ErrOut: io.Discard})
	cmd.SetArgs([]string{"render", "ada", "--owner", "ada", "--password-stdin", "--skip-catalog", "--repo-url", "http://git.example/labs.git",
		"--profile", filepath.Join(t.TempDir(), "none.yaml")})
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

var argonHash = regexp.MustCompile(`argon2:\$argon2id\$v=19\$m=([0-9]+),t=([0-9]+),p=([0-9]+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)`)

// checkHash checks that text holds an argon2id hash of password, the hash labctl writes.
func checkHash(t *testing.T, text, password string) {
	t.Helper()
	m := argonHash.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no argon2id hash in %q", text)
	}
	param := func(s string, bits int) uint64 {
		n, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	salt, err := base64.RawStdEncoding.DecodeString(m[4])
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.RawStdEncoding.DecodeString(m[5])
	if err != nil {
		t.Fatal(err)
	}
	got := argon2.IDKey([]byte(password), salt, uint32(param(m[2], 32)), uint32(param(m[1], 32)), uint8(param(m[3], 8)), uint32(len(key)))
	if !bytes.Equal(got, key) {
		t.Errorf("%s is not the hash of %q", m[0], password)
	}
}

// console is a pseudo-terminal: code under test gets its tty end, and the test reads what it shows and
// types on the ptmx end, as a person at a terminal does.
type console struct {
	ptmx, tty *os.File
	fd        int
	cooked    *term.State // the tty's state before the code under test changes it

	mu      sync.Mutex
	out     []byte        // all the ptmx end has shown
	readErr error         // why reading the ptmx end stopped
	more    chan struct{} // closed, and replaced, when out grows or reading stops

	seen   int // how much of out expect has gone past
	done   chan struct{}
	result error
}

func newConsole(t *testing.T) *console {
	ptmx, tty, err := pty.Open()
	if errors.Is(err, pty.ErrUnsupported) {
		t.Skipf("no pseudo-terminal on %s: %v", runtime.GOOS, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := &console{ptmx: ptmx, tty: tty, fd: int(tty.Fd()), more: make(chan struct{})}
	t.Cleanup(func() { tty.Close(); ptmx.Close() }) // closing the tty ends reading the ptmx
	if c.cooked, err = term.GetState(c.fd); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			c.mu.Lock()
			c.out = append(c.out, buf[:n]...)
			c.readErr = err
			close(c.more)
			c.more = make(chan struct{})
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

// run runs f with the tty as its input, in the background; wait returns its error.
func (c *console) run(f func(tty *os.File) error) {
	c.done = make(chan struct{})
	go func() { defer close(c.done); c.result = f(c.tty) }()
}

func (c *console) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-c.done:
		return c.result
	case <-time.After(patience):
		t.Fatalf("still running after %s; the terminal shows %q", patience, c.screen())
		return nil
	}
}

func (c *console) screen() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out)
}

// expect waits until the terminal shows want, written by the code under test, after what expect saw
// last.
func (c *console) expect(t *testing.T, want string) {
	t.Helper()
	c.waitFor(t, want, c.done)
}

// waitFor waits until the terminal shows want after what it saw last. Once done is closed, the code
// under test has written all it will: waitFor then writes a mark to the tty, and gives up when the mark
// shows and want has not.
func (c *console) waitFor(t *testing.T, want string, done <-chan struct{}) {
	t.Helper()
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	const mark = "[returned]"
	marked := false
	for {
		c.mu.Lock()
		out, more, readErr := string(c.out), c.more, c.readErr
		c.mu.Unlock()
		if i := strings.Index(out[c.seen:], want); i >= 0 {
			c.seen += i + len(want)
			return
		}
		if marked && strings.Contains(out[c.seen:], mark) {
			t.Fatalf("the code under test returned %v, and the terminal shows %q, not %q", c.result, out[c.seen:], want)
		}
		if readErr != nil {
			t.Fatalf("reading the terminal: %v; it shows %q, not %q", readErr, out[c.seen:], want)
		}
		select {
		case <-more:
		case <-done:
			done, marked = nil, true
			if _, err := io.WriteString(c.tty, mark); err != nil {
				t.Fatal(err)
			}
		case <-timeout.C:
			t.Fatalf("waited %s for the terminal to show %q; after %q it shows %q", patience, want, out[:c.seen], out[c.seen:])
		}
	}
}

// answer waits for prompt and for echo to be off, then types line and Enter.
func (c *console) answer(t *testing.T, prompt, line string) {
	t.Helper()
	c.expect(t, prompt)
	// The prompt is written just before echo is turned off: wait for that, lest the tty echo what
	// the test types.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(patience)
	for {
		state, err := term.GetState(c.fd)
		if err != nil {
			t.Fatal(err)
		}
		if *state != *c.cooked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal's echo is still on %s after the prompt %q", patience, prompt)
		}
		<-tick.C
	}
	if _, err := io.WriteString(c.ptmx, line+"\r"); err != nil {
		t.Fatal(err)
	}
}

// checkEchoIsBack types a line once the code under test has returned, and expects the tty to echo it:
// the terminal is left as it was, and echo, had it been on, would have shown the passwords typed.
func (c *console) checkEchoIsBack(t *testing.T) {
	t.Helper()
	if state, err := term.GetState(c.fd); err != nil || *state != *c.cooked {
		t.Errorf("the terminal was not restored: %v", err)
	}
	if _, err := io.WriteString(c.ptmx, "echo-is-back\r"); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "echo-is-back", nil) // the tty, not the code under test, writes it
}
