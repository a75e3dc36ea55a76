package exec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strings"
	"syscall"
	"time"

	"al.essio.dev/pkg/shellescape"
)

// waitDelay bounds how long Run and Output wait for the output pipes after the
// command exited or its context was cancelled, in case a child it started still
// holds them open (git leaves ssh or index-pack behind when killed).
const waitDelay = 5 * time.Second

// maxTail is how many bytes of output the error message of a RunError keeps.
const maxTail = 2048

// Cmd is a command to run; set its exported fields before calling Run or Output.
type Cmd struct {
	// Dir is the working directory; empty means the current one.
	Dir string
	// Env holds KEY=value entries added to os.Environ(); a later entry wins over an earlier one with the same key.
	Env []string
	// Stdin is the command's standard input; nil means no input.
	Stdin io.Reader

	ctx  context.Context
	argv []string
}

// Command returns a Cmd that runs name with args, killed when ctx is done.
// It never goes through a shell: each argument reaches the program as it is.
func Command(ctx context.Context, name string, args ...string) *Cmd {
	return &Cmd{ctx: ctx, argv: append([]string{name}, args...)}
}

// Run runs the command; on failure the *RunError carries stdout and stderr combined.
func (c *Cmd) Run() error {
	var out bytes.Buffer
	return c.run(&out, &out)
}

// Output runs the command and returns its stdout; on failure the *RunError carries stderr.
func (c *Cmd) Output() ([]byte, error) {
	var stdout, stderr bytes.Buffer
	err := c.run(&stdout, &stderr)
	return stdout.Bytes(), err
}

// run runs the command with the given writers; the one for stderr is what a RunError reports.
func (c *Cmd) run(stdout, stderr *bytes.Buffer) error {
	cmd := osexec.CommandContext(c.ctx, c.argv[0], c.argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdin = c.Stdin
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if ctxErr := c.ctx.Err(); ctxErr != nil {
			// "signal: killed" says less than why it was killed.
			err = ctxErr
		}
		// The output goes on the *os/exec.ExitError too: a caller outside this module cannot name
		// RunError, but errors.As gives it the exit code and the output through the standard type.
		if exit, ok := err.(*osexec.ExitError); ok && exit.Stderr == nil {
			exit.Stderr = stderr.Bytes()
		}
		return &RunError{Command: c.argv, Output: stderr.Bytes(), Inner: err}
	}
	return nil
}

// RunError is the error of a command that could not start or did not succeed. The harness's exported
// functions return it; importers outside the module reach its parts through the standard library:
// errors.As(err, new(*exec.ExitError)) for the exit code and output (ExitError.Stderr), errors.Is for
// the context's error.
type RunError struct {
	Command []string // name and arguments
	Output  []byte   // stdout and stderr combined (Run) or stderr alone (Output)
	Inner   error    // why it failed: an *os/exec.ExitError, a start error or the context's error
}

// Error names the command as a shell would read it and ends with the tail of its output.
func (e *RunError) Error() string {
	msg := fmt.Sprintf("command \"%s\" failed: %v", shellescape.QuoteCommand(e.Command), e.Inner)
	if tail := tail(e.Output); tail != "" {
		msg += ": " + tail
	}
	return msg
}

// Unwrap returns the inner error, so errors.Is(err, context.Canceled) and errors.As(err, *exec.ExitError) work.
func (e *RunError) Unwrap() error { return e.Inner }

// tail returns out trimmed, keeping only its last maxTail bytes from a line start.
func tail(out []byte) string {
	s := strings.TrimSpace(string(out))
	if len(s) <= maxTail {
		return s
	}
	s = s[len(s)-maxTail:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "..." + s
}

// Process is a command running in the background (see Start).
type Process struct {
	cmd  *osexec.Cmd
	argv []string
	done chan struct{}
	err  error
}

// Start starts the command in the background, in a process group of its own, with stdout and stderr
// going to out. When ctx is done the group gets SIGTERM, so a program like skaffold can clean up what
// it deployed, and SIGKILL if it is still there after grace. (Not SIGINT: a shell starts background
// jobs with SIGINT ignored, and their children inherit that.)
func (c *Cmd) Start(out io.Writer, grace time.Duration) (*Process, error) {
	cmd := osexec.CommandContext(c.ctx, c.argv[0], c.argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdin = c.Stdin
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = backgroundAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = grace
	if err := cmd.Start(); err != nil {
		return nil, &RunError{Command: c.argv, Inner: err}
	}
	p := &Process{cmd: cmd, argv: c.argv, done: make(chan struct{})}
	go func() {
		if err := cmd.Wait(); err != nil {
			p.err = &RunError{Command: c.argv, Inner: err}
		}
		// Whatever the command left in its group goes with it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		close(p.done)
	}()
	return p, nil
}

// Pid is the process's id, which is also its process group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns why it failed, if it did.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM to the process group and waits until the process exits or ctx is done.
func (p *Process) Stop(ctx context.Context) error {
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("stop %s: %w", p.argv[0], err)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s to exit after SIGTERM: %w", p.argv[0], ctx.Err())
	}
}

// Kill sends SIGKILL to the process group, as a crash would end it (nothing of it runs on to clean up),
// and waits until the process is gone or ctx is done.
func (p *Process) Kill(ctx context.Context) error {
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("kill %s: %w", p.argv[0], err)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s to exit after SIGKILL: %w", p.argv[0], ctx.Err())
	}
}
