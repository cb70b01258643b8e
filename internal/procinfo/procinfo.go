// Package procinfo is the vocabulary of processes that readers produce
// and the sampler, attribution, the snapshot and the exporters read: a
// process lifetime's identity (Key: PID and start time), what is known of
// it (Meta), its CPU time at one tick (Proc), the machine's CPU times
// (CPUTimes), what a read could not see (Stats), and the hook that fills
// a Meta's VM and workload (MetaHook). It imports nothing of the project,
// so that what reads processes need not import the readers of /proc.
//
// A process is identified by its PID and its start time (field 22 of
// /proc/<pid>/stat, in clock ticks since boot): a PID reused by a new
// process is a new process.
package procinfo

import "time"

// UserHZ is the unit of the CPU-time fields of /proc/<pid>/stat and
// /proc/stat. The kernel exports them in USER_HZ, which is 100 on every
// Linux architecture wattlens runs on (proc(5): "sysconf(_SC_CLK_TCK)").
const UserHZ = 100

// TicksToDuration converts USER_HZ clock ticks to a duration.
func TicksToDuration(ticks uint64) time.Duration {
	return time.Duration(ticks) * (time.Second / UserHZ)
}

// Key identifies one process lifetime.
type Key struct {
	PID       int
	StartTime uint64 // clock ticks since boot, /proc/<pid>/stat field 22
}

// Meta is what is read once per process lifetime, and again after the
// process execs (see procstat.Reader). It is shared between ticks and never
// modified after it is built: an exec gives the process a new Meta, and
// the old one stays as it was for whoever still holds it.
type Meta struct {
	Exe     string // readlink /proc/<pid>/exe; empty when unreadable (kernel threads, permission)
	Comm    string // /proc/<pid>/comm, or field 2 of stat
	Cmdline string // /proc/<pid>/cmdline, NUL separators turned into spaces
	Cgroup  string // the cgroup path (v2 unified line, else the first v1 line's path); empty when unknown
	// VM is the virtual machine name when the process is a qemu/KVM guest,
	// set by a MetaHook; empty otherwise.
	VM string
	// Workload is free for a MetaHook to attach what it resolved from the
	// cgroup (a container or pod); nil otherwise.
	Workload any
}

// Proc is one process at one tick.
type Proc struct {
	Key
	// CPU is utime + stime of all the process's threads, in USER_HZ ticks.
	CPU uint64
	// PPID is the parent's PID (field 4).
	PPID int
	// ChildCPU is cutime + cstime (fields 16, 17): the CPU time of the
	// children this process has waited for, in USER_HZ ticks.
	ChildCPU uint64
	Meta     *Meta
	// IO is read_bytes + write_bytes of /proc/<pid>/io (proc(5)): the
	// bytes the process (and the children it reaped) caused to be read
	// from or written to storage, writeback of the pages it dirtied
	// included. 0 when not read; see procstat.Resources for when it is.
	IO uint64
	// NetNS is the inode of the process's network namespace
	// (/proc/<pid>/ns/net); 0 when unknown.
	NetNS uint64
	// Memory is its memory at this tick, where the reader reads it.
	Memory Memory
}

// Memory is a process's memory from /proc/<pid>/stat (fields 23, 24).
type Memory struct {
	// Resident is the resident set size, Virtual the virtual memory
	// size, both in bytes.
	Resident, Virtual uint64
	// Known is false where the reader had no figures (a CPU source that
	// does not read stat, a stat line cut after starttime).
	Known bool
}

// CPUTimes is the machine-wide CPU time from the first line of /proc/stat,
// in USER_HZ ticks, summed over all CPUs.
type CPUTimes struct {
	Busy uint64 // user + nice + system + irq + softirq + steal
	// Work is the CPU time spent on this machine's work: user + nice +
	// system + irq + softirq. Steal (time a hypervisor gave another
	// guest) is not, idle and iowait are not. It is what attribution
	// prices energy by: every busy CPU-second, whoever holds it.
	Work  uint64
	Total uint64 // Busy + idle + iowait
	CPUs  int    // number of cpuN lines
}

// UtilisationSince returns the busy share of the CPU time between prev
// and c, 0..1. ok is false when there is no interval to judge by: the
// counters did not move, or went backwards (CPU hot-unplug, a container's
// restarted view).
func (c CPUTimes) UtilisationSince(prev CPUTimes) (u float64, ok bool) {
	if c.Total <= prev.Total || c.Busy < prev.Busy {
		return 0, false
	}
	u = float64(c.Busy-prev.Busy) / float64(c.Total-prev.Total)
	return min(max(u, 0), 1), true
}

// Stats counts what a read could not see.
type Stats struct {
	// Seen is the number of PIDs listed in procfs.
	Seen int
	// Skipped is the number of processes that vanished or could not be
	// read during the tick (PID 1 in some sandboxes, races with exit).
	Skipped int
}

// MetaHook is called on every Meta a reader reads (procstat.Reader, the
// eBPF source): once when a process is first seen and again each time it
// is found to have exec'd. It runs right after the Meta is read and before it is shared,
// so that it may fill Meta.VM and Meta.Workload; m is a fresh Meta every
// time, never one handed out before. It runs on the goroutine that reads
// the processes.
type MetaHook func(pid int, m *Meta)
