package estimate

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/model"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/perfrapl"
)

// cacheLine is the bytes one last-level-cache miss moves from or to
// memory: the 64-byte line of every x86-64 and Arm Neoverse server core.
const cacheLine = 64

// perfEvent is one counting event the traffic term may open on every CPU.
type perfEvent struct {
	name   string
	typ    uint32
	config uint64
}

// groupOpener opens the events of one CPU as one perf group, read with a
// single read(2) that gives their sum; the first must open, the others
// are added where they open (opened). perfrapl.Kernel is the kernel's;
// tests use a fake.
type groupOpener interface {
	OpenGroup(events []perfrapl.GroupEvent, cpu int) (c perfrapl.Counter, opened []bool, err error)
}

// hwCacheLL is a PERF_TYPE_HW_CACHE config for the last-level cache
// (perf_event_open(2): id | op << 8 | result << 16).
func hwCacheLL(op uint64) uint64 {
	return unix.PERF_COUNT_HW_CACHE_LL | op<<8 | unix.PERF_COUNT_HW_CACHE_RESULT_MISS<<16
}

// trafficCandidates are the ways to count memory traffic, in order of
// preference. The first event of a candidate must open on some CPU for
// the candidate to be used; the others join its group where they open.
// LL read, write and prefetch misses are the kernel's generic cache
// events (mapped to each PMU's own events, or refused with ENOENT where
// it has none, as AMD family 17h and later for LL: amd_hw_cache_event_ids_f17h); PERF_COUNT_HW_CACHE_MISSES is the
// generic "cache misses" event, on Intel the architectural LLC-miss event.
var trafficCandidates = [][]perfEvent{
	{
		{"LLC-load-misses", unix.PERF_TYPE_HW_CACHE, hwCacheLL(unix.PERF_COUNT_HW_CACHE_OP_READ)},
		{"LLC-store-misses", unix.PERF_TYPE_HW_CACHE, hwCacheLL(unix.PERF_COUNT_HW_CACHE_OP_WRITE)},
		{"LLC-prefetch-misses", unix.PERF_TYPE_HW_CACHE, hwCacheLL(unix.PERF_COUNT_HW_CACHE_OP_PREFETCH)},
	},
	{{"cache-misses", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_CACHE_MISSES}},
}

// implausible is a delta no counter can make in one interval (2^62 misses
// is 2.9 × 10^20 bytes): a counter that went backwards gives one through
// the unsigned subtraction, and is counted as no traffic.
const implausible = 1 << 62

// trafficCounter is one CPU's group of events.
type trafficCounter struct {
	c    perfrapl.Counter
	cpu  int
	last uint64
	seen bool
	dead bool // its read failed (the CPU went offline): no longer read
}

// traffic counts memory traffic as last-level-cache misses on every
// online CPU. It is not safe for concurrent use (the sensor's lock
// guards it).
type traffic struct {
	counters []*trafficCounter
	events   []string
	cpus     int
	peak     float64 // bytes/s: the larger of the assumed peak and the highest seen
	assumed  float64
	highest  float64
}

// openTraffic opens the first candidate that opens on the CPUs listed by
// <sysfs>/devices/system/cpu/online, one group per CPU. It fails, with
// the reason, when none does; the caller then drives memory by CPU
// utilisation.
func openTraffic(o groupOpener, sysfs string, assumedPeak float64) (*traffic, error) {
	cpus, err := onlineCPUs(sysfs)
	if err != nil {
		return nil, err
	}
	var reasons []string
	for _, cand := range trafficCandidates {
		t := &traffic{cpus: len(cpus), assumed: assumedPeak, peak: assumedPeak}
		if n, err := t.openOn(o, cand, cpus); n == 0 {
			reasons = append(reasons, fmt.Sprintf("%s: %v", cand[0].name, err))
			continue
		}
		return t, nil
	}
	e := &trafficError{short: reasons[0], detail: strings.Join(reasons, "; ")}
	if !hasCorePMU(sysfs) {
		e.short = "no CPU PMU under " + filepath.Join(sysfs, "bus/event_source/devices") +
			" (a VM without a virtual PMU, or a kernel without one for this CPU)"
		e.detail = e.short + ": " + e.detail
	}
	return nil, e
}

// openOn opens the group evs on every CPU; it returns on how many CPUs
// it opened and the first error. t.events lists the events that opened on
// some CPU.
func (t *traffic) openOn(o groupOpener, evs []perfEvent, cpus []int) (int, error) {
	group := make([]perfrapl.GroupEvent, len(evs))
	for i, ev := range evs {
		group[i] = perfrapl.GroupEvent{Type: ev.typ, Config: ev.config}
	}
	seen := make([]bool, len(evs))
	var first error
	for _, cpu := range cpus {
		c, opened, err := o.OpenGroup(group, cpu)
		if err != nil {
			first = cmpOr(first, err)
			continue
		}
		t.counters = append(t.counters, &trafficCounter{c: c, cpu: cpu})
		for i, ok := range opened {
			seen[i] = seen[i] || ok
		}
	}
	for i, ok := range seen {
		if ok {
			t.events = append(t.events, evs[i].name)
		}
	}
	return len(t.counters), first
}

// trafficError says why no traffic counter opens: Error in full (every
// candidate's error), Short the main reason (for info's one line).
type trafficError struct{ short, detail string }

func (e *trafficError) Error() string { return e.detail }

// Short is the main reason.
func (e *trafficError) Short() string { return e.short }

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// read reads every counter once and returns the bytes moved since the
// previous read, and whether any counter gave a figure this time (false:
// the caller falls back to CPU utilisation for the interval). A counter
// that went backwards counts as no traffic and restarts from its value; a
// read that fails (its CPU went offline) retires the counter.
func (t *traffic) read() (bytes float64, ok bool) {
	var misses uint64
	for _, k := range t.counters {
		if k.dead {
			continue
		}
		v, err := k.c.Read()
		if err != nil {
			k.dead = true
			continue
		}
		if k.seen {
			if d := v - k.last; d < implausible {
				misses += d
			}
			ok = true
		}
		k.last, k.seen = v, true
	}
	return float64(misses) * cacheLine, ok
}

// fraction is the traffic of an interval of dt seconds as a fraction of
// the peak bandwidth, clamped to 0..1. The peak is raised to the highest
// traffic seen when that exceeds the assumed one.
func (t *traffic) fraction(bytes, dt float64) float64 {
	if dt <= 0 {
		return 0
	}
	rate := bytes / dt
	t.highest = max(t.highest, rate)
	t.peak = max(t.assumed, t.highest)
	if t.peak <= 0 {
		return 0
	}
	return min(max(rate/t.peak, 0), 1)
}

// close closes every counter.
func (t *traffic) close() error {
	var errs []error
	for _, k := range t.counters {
		errs = append(errs, k.c.Close())
	}
	t.counters = nil
	return errors.Join(errs...)
}

// describe says what is counted, for Method.
func (t *traffic) describe(peakHow string) string {
	return fmt.Sprintf("memory's active part is driven by memory traffic: %s × %d B on %d of %d online CPUs (perf_event_open, one event group per CPU, one read each), "+
		"as a fraction of the peak bandwidth %.1f GB/s (%s; raised to the highest traffic seen if that is more)",
		strings.Join(t.events, " + "), cacheLine, len(t.counters), t.cpus, t.assumed/1e9, peakHow)
}

// hasCorePMU says whether <sysfs>/bus/event_source/devices holds a CPU
// PMU: cpu (x86), cpu_core/cpu_atom (Intel hybrid), armv8_* or arm_*
// (Arm).
func hasCorePMU(sysfs string) bool {
	ents, err := os.ReadDir(filepath.Join(sysfs, "bus/event_source/devices"))
	if err != nil {
		return false
	}
	for _, e := range ents {
		n := e.Name()
		if n == "cpu" || strings.HasPrefix(n, "cpu_") || strings.HasPrefix(n, "armv8") || strings.HasPrefix(n, "arm_") {
			return true
		}
	}
	return false
}

// onlineCPUs reads <sysfs>/devices/system/cpu/online, a CPU list such as
// "0-3,8,10-11" (Documentation/ABI/testing/sysfs-devices-system-cpu).
func onlineCPUs(sysfs string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(sysfs, "devices/system/cpu/online"))
	if err != nil {
		return nil, fmt.Errorf("online CPUs unknown: %w", err)
	}
	return parseCPUList(strings.TrimSpace(string(b)))
}

// parseCPUList parses a kernel CPU list ("0-3,8").
func parseCPUList(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("CPU list %q: bad entry %q", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1<<16 {
				return nil, fmt.Errorf("CPU list %q: bad range %q", s, part)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("CPU list %q is empty", s)
	}
	return out, nil
}

// ProbeMemoryDriver says what would drive the estimate sensor's memory
// term on this machine (MemoryDriver), opening the traffic counters and
// closing them again.
func ProbeMemoryDriver(opts sensor.Options) string {
	return probeMemoryDriver(opts, perfrapl.Kernel{ProcFS: or(opts.ProcFS, "/proc")})
}

func probeMemoryDriver(opts sensor.Options, o groupOpener) string {
	procfs, sysfs := or(opts.ProcFS, "/proc"), or(opts.SysFS, "/sys")
	log := slog.New(slog.DiscardHandler)
	m, _ := describeMachine(procfs, sysfs, log)
	peak, peakHow := model.For(m).PeakMemoryBandwidth()
	t, err := openTraffic(o, sysfs, peak)
	if err != nil {
		short := err.Error()
		var te *trafficError
		if errors.As(err, &te) {
			short = te.Short()
		}
		return "CPU utilisation (memory-traffic counters do not open: " + short + ")"
	}
	how := fmt.Sprintf("memory traffic, %s × %d B on %d of %d CPUs against %.1f GB/s (%s)",
		strings.Join(t.events, " + "), cacheLine, len(t.counters), t.cpus, peak/1e9, peakHow)
	_ = t.close() // nothing was read: nothing to lose
	return how
}
