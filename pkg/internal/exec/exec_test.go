package exec_test

import (
	"context"
	"errors"
	"io"
	"os"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		argv    []string
		wantErr string // empty means success
	}{
		{name: "success", argv: []string{"true"}},
		{name: "exit status without output", argv: []string{"false"}, wantErr: `command "false" failed: exit status 1`},
		{
			name:    "stdout and stderr both in the error, arguments quoted",
			argv:    []string{"sh", "-c", "echo out; echo err >&2; exit 3"},
			wantErr: `command "sh -c 'echo out; echo err >&2; exit 3'" failed: exit status 3: out` + "\nerr",
		},
		{
			name:    "program not found",
			argv:    []string{"labkit-no-such-program"},
			wantErr: `command "labkit-no-such-program" failed: exec: "labkit-no-such-program": executable file not found in $PATH`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := exec.Command(t.Context(), tt.argv[0], tt.argv[1:]...).Run()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Run() = %v, want nil", err)
				}
				return
			}
			var runErr *exec.RunError
			if !errors.As(err, &runErr) {
				t.Fatalf("Run() = %v, want a *RunError", err)
			}
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("Error() = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cmd        func(ctx context.Context) *exec.Cmd
		wantStdout string
		wantErr    string // empty means success
	}{
		{
			name: "dir, env and stdin reach the program",
			cmd: func(ctx context.Context) *exec.Cmd {
				c := exec.Command(ctx, "sh", "-c", `pwd; echo "$LABKIT_TEST"; cat`)
				c.Dir = "/"
				c.Env = []string{"LABKIT_TEST=first", "LABKIT_TEST=last"}
				c.Stdin = strings.NewReader("from stdin\n")
				return c
			},
			wantStdout: "/\nlast\nfrom stdin\n",
		},
		{
			name: "stdout returned, only stderr in the error",
			cmd: func(ctx context.Context) *exec.Cmd {
				return exec.Command(ctx, "sh", "-c", "echo out; echo err >&2; exit 3")
			},
			wantStdout: "out\n",
			wantErr:    `command "sh -c 'echo out; echo err >&2; exit 3'" failed: exit status 3: err`,
		},
		{
			name: "long output cut to its tail at a line start",
			cmd: func(ctx context.Context) *exec.Cmd {
				return exec.Command(ctx, "sh", "-c", `i=0; while [ $i -lt 500 ]; do echo "line $i" >&2; i=$((i+1)); done; exit 1`)
			},
			wantErr: `command "sh -c 'i=0; while [ $i -lt 500 ]; do echo "line $i" >&2; i=$((i+1)); done; exit 1'" failed: exit status 1: ...line 273`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := tt.cmd(t.Context()).Output()
			if string(out) != tt.wantStdout {
				t.Errorf("Output() stdout = %q, want %q", out, tt.wantStdout)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Output() error = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Fatalf("Output() error = %v, want it to start with %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunContextDone(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancelExpired := context.WithTimeout(t.Context(), 50*time.Millisecond)
	t.Cleanup(cancelExpired)
	tests := []struct {
		name string
		ctx  context.Context
		argv []string
		want error
	}{
		{name: "cancelled before start", ctx: cancelled, argv: []string{"true"}, want: context.Canceled},
		{name: "killed when the deadline passes", ctx: expired, argv: []string{"sleep", "60"}, want: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := exec.Command(tt.ctx, tt.argv[0], tt.argv[1:]...).Run(); !errors.Is(err, tt.want) {
				t.Fatalf("Run() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestStartStopsTheProcessGroupWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	stdin, keepOpen, err := os.Pipe() // cat blocks on it until interrupted
	if err != nil {
		t.Fatal(err)
	}
	defer keepOpen.Close()
	cmd := exec.Command(ctx, "sh", "-c", "echo ready; cat")
	cmd.Stdin = stdin
	// A grace far shorter than the wait below: the process must go on SIGTERM, not on the SIGKILL after it.
	p, err := cmd.Start(io.Discard, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("process still running 30s after its context ended")
	}
	if err := p.Wait(); err == nil {
		t.Error("an interrupted process reported success")
	}
}

// Kill ends even a process that ignores SIGTERM, as a crash would, and a second Kill of the gone
// process is no error.
func TestKillEndsAProcessThatIgnoresSIGTERM(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := exec.Command(t.Context(), "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done").Start(w, time.Minute)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 6)); err != nil { // "ready": the trap is set
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := p.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Wait after Kill = %v, want the process killed", err)
	}
	if err := p.Kill(ctx); err != nil {
		t.Errorf("a second Kill: %v", err)
	}
}

// An importer outside the module cannot name RunError: the exit code and the output reach it through
// the standard library's *exec.ExitError.
func TestAFailureIsInspectableThroughTheStandardExitError(t *testing.T) {
	t.Parallel()
	err := exec.Command(t.Context(), "sh", "-c", "echo out; echo why >&2; exit 3").Run()
	var exit *osexec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("Run() = %v, want an *exec.ExitError inside", err)
	}
	if exit.ExitCode() != 3 || string(exit.Stderr) != "out\nwhy\n" {
		t.Errorf("exit code %d, output %q; want 3 and the command's output", exit.ExitCode(), exit.Stderr)
	}
	_, err = exec.Command(t.Context(), "sh", "-c", "echo out; echo why >&2; exit 4").Output()
	if !errors.As(err, &exit) || exit.ExitCode() != 4 || string(exit.Stderr) != "why\n" {
		t.Errorf("Output() = %v; want exit 4 and stderr alone", err)
	}
}
