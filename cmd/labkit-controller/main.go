// Command labkit-controller runs the labkit controller manager.
package main

import (
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/labkit-dev/labkit/pkg/cmd/labkitcontroller"
)

func main() {
	if err := labkitcontroller.NewCommand().ExecuteContext(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
