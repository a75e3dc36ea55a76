//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// machineCPU is what the whole machine's processors had done at a moment, from Linux's /proc/stat:
// the cluster's nodes, Argo CD, the labs and the suite itself all run here, so its busy share says
// whether a phase waited on something or was bound by the cores.
type machineCPU struct {
	at         time.Time
	busy, idle time.Duration // summed over all cores
	cores      int
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux architecture Go builds for.
const clockTicks = 100

// readMachineCPU reads /proc/stat. ok is false where there is none (not Linux): the suite then prints
// no CPU figures rather than wrong ones.
func readMachineCPU() (m machineCPU, ok bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return m, false
	}
	defer f.Close()
	m.at = time.Now()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) > 0 && fields[0] == "cpu":
			// user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice)
			if len(fields) < 9 {
				return m, false
			}
			var ticks [8]int64
			for i := range ticks {
				if ticks[i], err = strconv.ParseInt(fields[i+1], 10, 64); err != nil {
					return m, false
				}
			}
			toDuration := func(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }
			m.busy = toDuration(ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7])
			m.idle = toDuration(ticks[3] + ticks[4])
		case len(fields) > 0 && strings.HasPrefix(fields[0], "cpu"):
			m.cores++
		}
	}
	return m, sc.Err() == nil && m.cores > 0
}

// cpuSpan says how busy the machine was between two readings: its cores' busy time, and that as a
// share of all the time the cores had (wall time × cores).
func cpuSpan(from, to machineCPU) string {
	busy, all := to.busy-from.busy, (to.busy-from.busy)+(to.idle-from.idle)
	if all <= 0 {
		return "no CPU time counted"
	}
	return fmt.Sprintf("%.1f s wall, CPU busy %.1f s of %d cores x %.1f s (%.0f%%)", to.at.Sub(from.at).Seconds(),
		busy.Seconds(), to.cores, all.Seconds()/float64(to.cores), 100*busy.Seconds()/all.Seconds())
}
