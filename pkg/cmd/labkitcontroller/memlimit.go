package labkitcontroller

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The controller's memory is mostly its cache, which grows with every lab (make bench-scale prints
// how much per 1,000), and Go's garbage collector lets the heap grow to twice what is live before it
// collects. In a container whose memory is limited, that headroom is what gets the controller killed
// for memory at scale, though what is live would fit. So, as the Go GC guide advises, the controller
// gives the runtime a soft memory limit under the container's: near it, the collector runs more often
// instead.

// memoryLimitShare is the part of the container's memory limit the Go runtime is held to; the rest is
// for what the runtime does not count (the program's own code, mapped from its file).
const memoryLimitShare = 0.9

const flagMemoryLimit = "memory-limit"

// cgroupMemoryMax is where a container reads its memory limit: cgroup v2, then v1 (kind nodes on a
// cgroup v1 host, older clusters), where no limit reads as a number near 2^63.
var cgroupMemoryMax = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// noLimit is where a cgroup v1 limit means none: the kernel's "unlimited" is the largest page
// multiple below 2^63.
const noLimit = 1 << 62

// softMemoryLimit is the soft memory limit for the Go runtime (runtime/debug.SetMemoryLimit):
// memoryLimitShare of the memory the controller may use. That is the --memory-limit flag's (flag, a
// quantity such as 192Mi) when given; else the container's memory limit, from the first of the cgroup
// files memoryMax that exists. ok is false when there is nothing to set: no flag and GOMEMLIMIT set
// (the runtime has read it), or no flag and no memory limit (no such file, as outside a container, or
// "max", or a cgroup v1 number meaning none).
func softMemoryLimit(flag string, getenv func(string) string, memoryMax []string) (limit int64, ok bool, err error) {
	var n int64
	switch {
	case flag != "":
		q, err := resource.ParseQuantity(flag)
		if err != nil || q.Sign() <= 0 {
			return 0, false, fmt.Errorf("--%s=%s: give the memory the controller may use as a number of bytes with a unit, e.g. 192Mi or 1Gi; Go's garbage collector then keeps the controller to %.0f%% of it",
				flagMemoryLimit, flag, memoryLimitShare*100)
		}
		n = q.Value()
	case getenv("GOMEMLIMIT") != "":
		return 0, false, nil
	default:
		var file string
		var b []byte
		for _, file = range memoryMax {
			if b, err = os.ReadFile(file); !errors.Is(err, fs.ErrNotExist) {
				break
			}
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return 0, false, nil
		case err != nil:
			return 0, false, fmt.Errorf("read the container's memory limit: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false, nil
		}
		if n, err = strconv.ParseInt(s, 10, 64); err != nil || n <= 0 {
			return 0, false, fmt.Errorf("read the container's memory limit: %s holds %q, not a number of bytes or max", file, s)
		}
		if n >= noLimit {
			return 0, false, nil
		}
	}
	return int64(math.Floor(float64(n) * memoryLimitShare)), true, nil
}
