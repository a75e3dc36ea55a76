package intervals_test

import (
	"context"
	"fmt"
	"time"

	"github.com/labkit-dev/labkit/pkg/harness/intervals"
)

// A suite names its waits once, lets a slow machine stretch them, and waits by name.
func Example() {
	waits := intervals.Table{
		"wait-lab-ready": {Timeout: 3 * time.Minute, Poll: 10 * time.Millisecond},
	}
	waits, _ = waits.Scale(2) // e.g. from a -interval-scale flag
	checks := 0
	err := waits.Until(context.Background(), "wait-lab-ready", func(context.Context) (string, error) {
		if checks++; checks < 3 {
			return "phase Pending", nil // what a timeout would report
		}
		return "", nil
	})
	fmt.Println(err, checks, waits.Timeout("wait-lab-ready"))
	// Output: <nil> 3 6m0s
}
