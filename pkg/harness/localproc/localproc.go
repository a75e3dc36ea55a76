package localproc

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/prometheus/procfs"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// Build compiles the main package pkg of the module in dir into the binary out.
func Build(ctx context.Context, dir, pkg, out string) error {
	cmd := exec.Command(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	return nil
}

// Process is a program running in the background.
type Process struct {
	p   *exec.Process
	pid int
}

// Start starts binary with args and extra environment (KEY=value), its output going to out. Stop it;
// should this process die first, it gets SIGTERM.
func Start(ctx context.Context, binary string, args, env []string, out io.Writer) (*Process, error) {
	cmd := exec.Command(context.WithoutCancel(ctx), binary, args...)
	cmd.Env = env
	p, err := cmd.Start(out, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &Process{p: p, pid: p.Pid()}, nil
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.p.Done() }

// Stop stops the process and waits until it is gone.
func (p *Process) Stop(ctx context.Context) error { return p.p.Stop(ctx) }

// Kill ends the process with SIGKILL, as a crash would (it cleans nothing up), and waits until it is
// gone.
func (p *Process) Kill(ctx context.Context) error { return p.p.Kill(ctx) }

// Usage is what a process has used so far.
type Usage struct {
	// RSS is the resident memory now and PeakRSS the most it has had, in bytes.
	RSS, PeakRSS int64
	// CPU is the user plus system time the process has had.
	CPU time.Duration
}

// Usage reads the process's memory and CPU use from /proc (Linux only).
func (p *Process) Usage() (Usage, error) {
	proc, err := procfs.NewProc(p.pid)
	if err != nil {
		return Usage{}, fmt.Errorf("read the usage of process %d: %w", p.pid, err)
	}
	status, err := proc.NewStatus()
	if err != nil {
		return Usage{}, fmt.Errorf("read the usage of process %d: %w", p.pid, err)
	}
	stat, err := proc.Stat()
	if err != nil {
		return Usage{}, fmt.Errorf("read the usage of process %d: %w", p.pid, err)
	}
	return Usage{
		RSS: int64(status.VmRSS), PeakRSS: int64(status.VmHWM),
		CPU: time.Duration(stat.CPUTime() * float64(time.Second)),
	}, nil
}

// FreeAddress is a loopback address with a port nothing listens on now, for a program that must be
// told its listening address.
func FreeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
