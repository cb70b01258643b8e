// Package snapshot holds the immutable value that attribution produces once
// per tick and every exporter reads: the host's energy for one interval and
// since start, each zone's, each consumer's, and where each figure came from.
//
// A Snapshot is never modified after attribution returns it; exporters may
// read it from any number of goroutines.
package snapshot

import (
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/units"
)

// Idle policies: how the idle energy of an interval is booked
// (Snapshot.IdlePolicy, the --idle-policy flag).
const (
	// IdleSeparate books the idle energy to the pseudo-consumer idle: a
	// process pays only for the energy above idle. The default.
	IdleSeparate = "separate"
	// IdleShared spreads the idle energy over the consumers by the same
	// shares as the active energy, the unattributed part included
	// (full-cost accounting).
	IdleShared = "shared"
)

// Snapshot is what attribution's accounts hold after one tick.
type Snapshot struct {
	// Seq counts ticks from 1.
	Seq uint64
	// Time is the wall-clock time at the end of the interval.
	Time time.Time
	// Interval is the length of the interval the deltas cover.
	Interval time.Duration

	// Sensor is the name of the sensor set ("powercap_rapl", "estimate", …).
	Sensor string
	// Method says, for estimated figures, how they were estimated.
	Method string
	// SensorUp is false when the last read failed; the figures are then
	// those of the last good tick, and SensorError says why.
	SensorUp    bool
	SensorError string

	// Host is the whole machine: psys where present, else packages + dram
	// (+ gpus).
	Host Energy
	// HostFrom names the kinds of the zones Host is the sum of this
	// interval, joined by "+" ("wall", "psys+gpu", "package+dram"): a zone
	// that appears (a BMC that answers after start) counts from its
	// second reading on, and until then the zones that did measure make
	// the host.
	HostFrom string
	// Idle is the energy booked to the idle pseudo-consumer; zero
	// throughout under the shared idle policy.
	Idle Energy
	// IdlePower is the idle baseline in use, and IdleOrigin where it came
	// from: "flag", "model", "learned", "fitted" (the intercept of the
	// host's power regressed on its activities, on a host that never went
	// quiet) or "learning" (not yet known: 0).
	IdlePower  units.Power
	IdleOrigin string
	// IdlePolicy is IdleSeparate or IdleShared.
	IdlePolicy string
	// Exited is the cumulative energy of processes that have exited since
	// start: Σ Processes[].Total + Exited + Idle.Total + Unattributed.Total
	// = Host.Total.
	Exited units.Energy
	// Unattributed is the active energy of busy CPU time that no process
	// the agent can read holds (irq and softirq time, processes reaped by
	// an ancestor it cannot read, PIDs outside its view), and all of it in
	// intervals in which no process used any CPU time; it is part of the
	// sum like Exited:
	// Σ Processes[].Delta + Unattributed.Delta + Idle.Delta = Host.Delta.
	Unattributed Energy

	// Resources splits Host, Idle and Unattributed by what the energy was
	// spent on (power.Resource): for each resource and in each interval
	// Σ Processes[].Resources + Unattributed + Idle = Host, exactly.
	Resources HostResources
	// NetworkBy says how network energy went to processes: "netns" (by
	// each network namespace's bytes, then CPU time within it), "cpu" (no
	// namespace's bytes were known: by CPU time) or "" (no network energy
	// in the interval).
	NetworkBy string
	// Platform is the split of a meter's remainder learned from the meter
	// (storage, network and CPU terms fitted online); nil where none is
	// learned (no meter, or no device activity read).
	Platform *PlatformFit

	// CPU is the busy CPU time of the interval and how much of it the
	// processes read hold: active energy is priced per busy CPU-second,
	// and the share no process holds is Unattributed.
	CPU CPU

	// Utilisation is the machine's busy CPU share over the interval, 0..1.
	Utilisation float64
	// CPUs is the number of logical CPUs.
	CPUs int

	Zones     []Zone
	Processes []Process // sorted by interval energy, highest first
	// Groups are the accounts of containers, pods and services (see Group);
	// nil unless processes carry a workload that names its groups
	// (--containers).
	Groups []Group

	Stats Stats
}

// CPU is the interval's CPU time, machine-wide and held by processes.
type CPU struct {
	// Busy is user + nice + system + irq + softirq from /proc/stat,
	// summed over CPUs; Processes is Σ of the processes' CPU time (their
	// own and their reaped children's).
	Busy, Processes time.Duration
	// Known is false when the busy time could not be read for the
	// interval (or was zero): energy was then split by the processes'
	// CPU time alone.
	Known bool
}

// Coverage is the share of the busy CPU time that processes hold, 0..1;
// ok is false when it is not known.
func (c CPU) Coverage() (share float64, ok bool) {
	if !c.Known || c.Busy <= 0 {
		return 0, false
	}
	return min(float64(c.Processes)/float64(c.Busy), 1), true
}

// ResourceEnergy is energy per resource, indexed by power.Resource.Index()
// (in the order of power.Resources).
type ResourceEnergy [power.NumResources]units.Energy

// Of returns the energy of resource r.
func (e ResourceEnergy) Of(r power.Resource) units.Energy { return e[r.Index()] }

// Sum is the energy of every resource together.
func (e ResourceEnergy) Sum() units.Energy {
	var s units.Energy
	for _, v := range e {
		s += v
	}
	return s
}

// Resources is one account's energy per resource, in the interval and
// since it was opened; their sums are the account's Delta and Total.
type Resources struct {
	Delta, Total ResourceEnergy
}

// HostResources splits the host's figures by resource.
type HostResources struct {
	Host, Idle, Unattributed Resources
}

// Energy is a figure for the interval and since start.
type Energy struct {
	Total  units.Energy // cumulative since the agent started, wrap-corrected
	Delta  units.Energy // this interval
	Power  units.Power  // Delta / Interval
	Source power.Source
}

// Zone is one energy counter's figures.
type Zone struct {
	ID     string
	Kind   string
	Name   string
	Socket int // -1 when none
	Energy
}

// Process is one process lifetime's account.
type Process struct {
	procinfo.Key
	*procinfo.Meta
	Energy
	// CPUDelta is the CPU time used in the interval; CPUTotal since the
	// process was first seen.
	CPUDelta time.Duration
	CPUTotal time.Duration
	// Memory is its memory at the end of the interval, where the process
	// reader reads it (procinfo.Memory.Known).
	Memory procinfo.Memory
	// Resources splits Energy by resource.
	Resources Resources
	// IODelta is the bytes the process read from and wrote to storage in
	// the interval (/proc/<pid>/io), by which storage energy went to it.
	IODelta uint64
}

// Group is the account of a set of processes kept as one: a container, a
// pod, a systemd service. Its Total counts the energy of every process that
// has been in it since the group was first seen, those that have exited
// included, so it never goes down while the group is listed. Groups are
// another cut of the processes' energy, not more of it. For one kind of
// group, in each interval,
//
//	Σ Groups[].Delta + Σ Delta of processes in none + Idle.Delta + Unattributed.Delta = Host.Delta
//
// and since start the same holds with the processes in none that have
// exited and the groups already forgotten added. A pod's group is the sum
// of its containers' groups.
//
// A group whose processes have all gone stays listed, with a zero Delta,
// for a retention period (attribution.Options.GroupRetention); then it is
// forgotten and its series ends. Its energy stays in the host's total (it
// was never anywhere else); should the group come back, it starts again
// from zero.
type Group struct {
	// Kind is "container", "pod" or "service"; ID the container ID, pod
	// UID or unit name.
	Kind, ID string
	// Workload is the Meta.Workload of the process that joined the group
	// last (a *container.Workload): exporters read runtime, pod UID and
	// the names known then from it. Read only.
	Workload any
	Energy
	// CPUDelta is the CPU time its processes used in the interval;
	// CPUTotal since the group was first seen, exited processes included.
	CPUDelta time.Duration
	CPUTotal time.Duration
	// Processes is the number of its processes alive at this tick.
	Processes int
	// Resources splits Energy by resource.
	Resources Resources
}

// Stats are the agent's own figures for the tick.
type Stats struct {
	Processes    int           // processes read this tick
	Skipped      int           // processes that vanished or could not be read
	TickDuration time.Duration // time spent reading sensors and procfs
	Wraps        int           // counter wraps seen since start
	Resets       int           // counter resets seen since start
}

// TopN returns the first n processes (all when n <= 0 or n exceeds the
// count) and everything else the snapshot holds besides idle and
// unattributed: the other processes and the exited ones. So for every n,
// Σ head + rest + Idle + Unattributed = Host, both for the interval and
// since start. The head is a sub-slice of s.Processes: read only.
func (s *Snapshot) TopN(n int) (head []Process, rest Energy, restCount int) {
	head = s.Processes
	if n > 0 && n < len(s.Processes) {
		head = s.Processes[:n]
	}
	rest = Energy{Source: s.Host.Source}
	for _, p := range s.Processes[len(head):] {
		rest.Total += p.Total
		rest.Delta += p.Delta
	}
	rest.Total += s.Exited
	if s.Interval > 0 {
		rest.Power = units.PowerOf(rest.Delta, s.Interval)
	}
	return head, rest, len(s.Processes) - len(head)
}

// PlatformFit is what a meter's remainder costs per unit of each
// resource's activity, learned online (internal/platformfit).
type PlatformFit struct {
	Samples   int     // ticks in the window
	NoiseSD   float64 // the residuals' standard deviation, W
	Intercept PlatformCoef
	Terms     []PlatformCoef
}

// PlatformCoef is one learned coefficient.
type PlatformCoef struct {
	Term     string         // "idle", "storage:<dev>", "network:<if>", "cpu"
	Resource power.Resource // where its energy goes
	Value    float64        // W at full activity (the intercept: W)
	StdErr   float64        // one standard deviation of Value
	Prior    float64        // the published figure it is regularised towards
	Status   string         // "learned", "prior: too little variation", …
}
