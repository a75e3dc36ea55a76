package localproc_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labkit-dev/labkit/pkg/harness/localproc"
)

const program = `package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	// Burn 200ms of CPU time, its own, not of the wall clock: on a loaded machine a wall-clock loop
	// gets only its share of a core.
	for cpu() < 200*time.Millisecond {
	}
	fmt.Println("ready", len(b), os.Getenv("GREETING"))
	<-stop // a bare select {} is a deadlock the runtime ends at once
}

// cpu is the CPU time this process has used.
func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
`

// lineWaiter is an io.Writer that says when a line has been written.
type lineWaiter struct {
	mu   sync.Mutex
	buf  strings.Builder
	want string
	seen chan struct{}
}

func (w *lineWaiter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	if strings.Contains(w.buf.String(), w.want) && w.seen != nil {
		close(w.seen)
		w.seen = nil
	}
	return len(b), nil
}

func TestABuiltProgramRunsReportsItsUsageAndStops(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"go.mod": "module hog\n\ngo 1.22\n", "main.go": program} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "hog")
	if err := localproc.Build(t.Context(), dir, ".", bin); err != nil {
		t.Fatal(err)
	}
	out := &lineWaiter{want: "ready 67108864 hello\n", seen: make(chan struct{})}
	seen := out.seen
	p, err := localproc.Start(t.Context(), bin, nil, []string{"GREETING=hello"}, out)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-seen:
	case <-p.Done():
		t.Fatalf("exited early: %s", out.buf.String())
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
	u, err := p.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakRSS < 64<<20 || u.RSS > u.PeakRSS {
		t.Errorf("RSS %d, peak %d; want a peak of at least the 64 MiB it touched, and RSS no more than the peak", u.RSS, u.PeakRSS)
	}
	if u.CPU < 100*time.Millisecond {
		t.Errorf("CPU %s; want at least the 200ms it burned, give or take the clock tick", u.CPU)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(p.Pid()))); !os.IsNotExist(err) {
		t.Errorf("process %d still exists after Stop (%v)", p.Pid(), err)
	}
	if _, err := p.Usage(); err == nil {
		t.Error("Usage of a stopped process: no error")
	}
}

func TestFreeAddressIsALoopbackPort(t *testing.T) {
	addr, err := localproc.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Errorf("FreeAddress = %q, want 127.0.0.1:<port>", addr)
	}
}
