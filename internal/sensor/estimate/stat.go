package estimate

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// cpuTimes is the machine-wide CPU time of the first line of /proc/stat, in
// USER_HZ ticks summed over all CPUs.
type cpuTimes struct {
	busy, total uint64
}

// parseStat reads the "cpu " line of /proc/stat (proc(5): user nice system
// idle iowait irq softirq steal guest guest_nice). Busy is user + nice +
// system + irq + softirq + steal; total adds idle and iowait. Guest time is
// already counted in user and nice, so it is not added again. Kernels
// older than 2.6.33 print fewer fields; missing ones count as zero.
func parseStat(r io.Reader) (cpuTimes, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "cpu" {
			continue
		}
		if len(f) < 5 {
			return cpuTimes{}, fmt.Errorf("stat: cpu line has %d fields, want at least 4 counters", len(f)-1)
		}
		var v [8]uint64
		for i := 0; i < len(v) && i+1 < len(f); i++ {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("stat: cpu field %d %q: %w", i+1, f[i+1], err)
			}
			v[i] = n
		}
		user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		busy := user + nice + system + irq + softirq + steal
		return cpuTimes{busy: busy, total: busy + idle + iowait}, nil
	}
	if err := sc.Err(); err != nil {
		return cpuTimes{}, fmt.Errorf("read stat: %w", err)
	}
	return cpuTimes{}, fmt.Errorf("stat: no cpu line")
}

// utilisation returns the busy share of the CPU time between two reads. A
// counter that went backwards (CPU hot-unplug, a restarted container's
// view) or an interval without ticks gives last, the previous value.
func utilisation(prev, cur cpuTimes, last float64) float64 {
	if cur.total <= prev.total || cur.busy < prev.busy {
		return last
	}
	u := float64(cur.busy-prev.busy) / float64(cur.total-prev.total)
	return min(max(u, 0), 1)
}
