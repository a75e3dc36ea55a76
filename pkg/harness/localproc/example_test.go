package localproc_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/labkit-dev/labkit/pkg/harness/localproc"
)

const controller = `package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	fmt.Println("serving on", os.Getenv("ADDR"))
	<-stop // like a controller: until stopped (a bare select {} is a deadlock the runtime ends)
}
`

// A benchmark builds a controller, runs it on the host with its environment, reads what it uses, and
// stops it.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "localproc-")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/controller\n\ngo 1.22\n"), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "main.go"), []byte(controller), 0o600)
	bin := filepath.Join(dir, "controller")
	if err := localproc.Build(ctx, dir, ".", bin); err != nil {
		fmt.Println(err)
		return
	}
	addr, _ := localproc.FreeAddress() // such as 127.0.0.1:40123
	r, w, _ := os.Pipe()
	defer r.Close()
	p, err := localproc.Start(ctx, bin, nil, []string{"ADDR=" + addr}, w) // or os.Stderr, a log file
	w.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	line, _ := bufio.NewReader(r).ReadString('\n')
	fmt.Println("serves on its address:", line == "serving on "+addr+"\n")
	u, err := p.Usage()
	fmt.Println("usage:", err, u.RSS > 0, u.PeakRSS >= u.RSS)
	fmt.Println("stop:", p.Stop(ctx))
	// Output:
	// serves on its address: true
	// usage: <nil> true true
	// stop: <nil>
}
