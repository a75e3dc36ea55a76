package localproc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

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

// Usage is what a process has used so far.
type Usage struct {
	// RSS is the resident memory now and PeakRSS the most it has had, in bytes.
	RSS, PeakRSS int64
	// CPU is the user plus system time the process has had.
	CPU time.Duration
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux architecture Go
// supports.
const clockTicks = 100

// Usage reads the process's memory and CPU use from /proc (Linux only).
func (p *Process) Usage() (Usage, error) {
	var u Usage
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return u, fmt.Errorf("read the usage of process %d: %w", p.pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &u.RSS
		case "VmHWM":
			dst = &u.PeakRSS
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return u, fmt.Errorf("process %d: %s %q: %w", p.pid, key, value, err)
		}
		*dst = kb * 1024
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return u, fmt.Errorf("read the usage of process %d: %w", p.pid, err)
	}
	// The command name (field 2) may hold spaces; the fields after its closing parenthesis are plain.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return u, fmt.Errorf("process %d: short /proc stat %q", p.pid, stat)
	}
	// utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return u, fmt.Errorf("process %d: /proc stat times %q %q", p.pid, fields[11], fields[12])
	}
	u.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	return u, nil
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
