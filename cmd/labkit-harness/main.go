// Command labkit-harness manages the kind cluster of labkit's e2e suite, make dev and make debug.
package main

import (
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/labkit-dev/labkit/pkg/cmd/labkitharness"
)

func main() {
	if err := labkitharness.NewCommand(os.Stdout, os.Stderr).ExecuteContext(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
