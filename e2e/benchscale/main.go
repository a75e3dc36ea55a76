// Command benchscale is `make bench-scale`: it runs labkit at scale on fake kwok nodes and prints a
// table of figures. It is a benchmark, not a test: it fails only when something breaks, never on time.
//
// On the Docker-free provider it starts a local control plane with the fake node pools of
// kind-config.yaml, runs the controller on the host, creates labs that fill every fake GPU exactly
// through the API, and measures how fast they become Ready, what the controller costs and how many
// API requests a reconcile makes. One more GPU request must then be refused by labctl and, applied
// directly, be reported Unschedulable, with the other labs undisturbed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var o options
	flag.StringVar(&o.root, "root", ".", "the project: kind-config.yaml and cmd/")
	flag.StringVar(&o.namespace, "namespace", "scale", "namespace of the labs")
	flag.IntVar(&o.labctlRuns, "labctl-runs", 5, "how many times `labctl nodes` is timed")
	flag.Var(&o.controllerArgs, "controller-arg", "an extra flag for the controller, e.g. --controller-arg=--kube-api-qps=20 (repeatable)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runLocal(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		stop()
		os.Exit(1)
	}
}

type options struct {
	root, namespace string
	labctlRuns      int
	controllerArgs  stringList
}

type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
