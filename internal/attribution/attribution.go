// Package attribution turns two consecutive samples into a snapshot: it
// computes the host's energy over the interval and splits it among
// processes by their share of CPU time. It does no I/O and reads no clock:
// the same samples always give the same snapshot.
//
// For an interval of length Δt (see ARCHITECTURE.md):
//
//	ΔE_host   = psys where present, else Σ packages + Σ dram (+ Σ gpu)
//	E_idle    = min(ΔE_host, P_idle·Δt)
//	E_active  = ΔE_host − E_idle
//	E_p       = E_active × Δcpu_p / Σ_q Δcpu_q
//
// Under the shared idle policy E_idle is split by the same shares instead
// of being booked to the idle pseudo-consumer. Shares are computed in whole
// microjoules by the largest-remainder method, so
// Σ processes + idle + unattributed = host holds exactly, every tick.
//
// A process whose Meta.Workload is a Grouper (a container's process) has
// each share booked to its groups too — its container, its pod — whose
// totals outlive the process (groups.go).
package attribution

import (
	"cmp"
	"math/bits"
	"slices"
	"time"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Idle policies.
const (
	PolicySeparate = "separate"
	PolicyShared   = "shared"
)

// Options configure an Attributor.
type Options struct {
	// Sensor names the sensor set, Method describes how estimated figures
	// are made; both are copied into snapshots.
	Sensor string
	Method string
	// IdlePolicy is PolicySeparate (default) or PolicyShared.
	IdlePolicy string
	// IdlePower, when IdleOrigin is IdleFromFlag or IdleFromModel, is the
	// fixed idle baseline. With IdleOrigin empty the baseline is learned.
	IdlePower  units.Power
	IdleOrigin string
	// GroupRetention is how long a group (container, pod, service; see
	// Grouper) whose processes have all gone stays in snapshots before
	// it is forgotten: DefaultGroupRetention when zero, the next tick
	// when negative.
	GroupRetention time.Duration
}

// Attributor keeps the books between ticks. It is not safe for concurrent
// use: the sampler owns it.
type Attributor struct {
	opts Options

	started bool
	seq     uint64
	last    Sample // time, zones and CPU times of the previous tick

	lastRaw map[string]uint64 // zone ID → last raw counter

	zoneTotal    map[string]units.Energy
	host         units.Energy
	idle         units.Energy
	unattributed units.Energy
	exited       units.Energy
	wraps        int
	resets       int

	procs   map[procstat.Key]*procBooks
	groups  map[string]*groupBooks // "<kind>:<id>" → books (groups.go)
	learner idleLearner

	// scratch, reused every tick
	weights []uint64
	shares  []uint64
	rem     []remainder
	order   []int32
}

type procBooks struct {
	lastCPU  uint64
	cpuTotal uint64
	total    units.Energy
	seen     bool           // present in the current tick
	meta     *procstat.Meta // the metadata groups were resolved from
	groups   []*groupBooks  // resolved again only when the metadata changes (an exec)
}

// New returns an Attributor with empty books.
func New(opts Options) *Attributor {
	if opts.IdlePolicy == "" {
		opts.IdlePolicy = PolicySeparate
	}
	return &Attributor{
		opts:      opts,
		lastRaw:   make(map[string]uint64),
		zoneTotal: make(map[string]units.Energy),
		procs:     make(map[procstat.Key]*procBooks),
		groups:    make(map[string]*groupBooks),
	}
}

// Observe records a sample. The first call only sets the baseline and
// returns nil; each later call returns the snapshot of the interval since
// the previous call. Samples must come in time order.
func (a *Attributor) Observe(cur Sample) *snapshot.Snapshot {
	if !a.started {
		a.started = true
		a.baseline(cur)
		return nil
	}
	prev := a.last
	dt := cur.Time.Sub(prev.Time)
	a.seq++

	snap := &snapshot.Snapshot{
		Seq:        a.seq,
		Time:       cur.Time,
		Interval:   dt,
		Sensor:     a.opts.Sensor,
		Method:     a.opts.Method,
		SensorUp:   true,
		IdlePolicy: a.opts.IdlePolicy,
		CPUs:       cur.CPU.CPUs,
	}
	snap.Utilisation, _ = cur.CPU.UtilisationSince(prev.CPU)

	hostDelta, devices := a.zones(snap, cur.Zones, dt)
	hostPower := units.PowerOf(hostDelta, dt)

	idlePower, origin := a.idleBaseline()
	idleDelta := min(hostDelta, idlePower.EnergyOver(dt))
	active := hostDelta - idleDelta
	snap.IdlePower, snap.IdleOrigin = idlePower, origin

	toSplit, idleBooked := active, idleDelta
	if a.opts.IdlePolicy == PolicyShared {
		toSplit, idleBooked = hostDelta, 0
	}
	lost := a.processes(snap, prev, cur, toSplit, a.deviceParts(devices, cur.Shares, toSplit, hostDelta))
	a.closeGroups(snap, cur.Time)

	a.host += hostDelta
	a.idle += idleBooked
	a.unattributed += lost
	snap.Host = a.energy(a.host, hostDelta, dt, snap.Host.Source)
	snap.Idle = a.energy(a.idle, idleBooked, dt, snap.Host.Source)
	snap.Unattributed = a.energy(a.unattributed, lost, dt, snap.Host.Source)
	snap.Exited = a.exited
	snap.Stats = snapshot.Stats{
		Processes:    len(cur.Procs),
		Skipped:      cur.ProcStats.Skipped,
		TickDuration: cur.ReadDuration,
		Wraps:        a.wraps,
		Resets:       a.resets,
	}

	// Learn from this interval only after using the old baseline, so a
	// tick is never judged by itself; without CPU times there is nothing
	// to judge utilisation by.
	if _, ok := cur.CPU.UtilisationSince(prev.CPU); ok {
		a.learner.observe(hostPower, snap.Utilisation)
	}
	a.last = Sample{Time: cur.Time, BootTicks: cur.BootTicks, CPU: cur.CPU}
	return snap
}

func (a *Attributor) baseline(cur Sample) {
	for _, z := range cur.Zones {
		a.lastRaw[z.ID] = uint64(z.Energy)
	}
	for _, p := range cur.Procs {
		a.procs[p.Key] = &procBooks{lastCPU: p.CPU, meta: p.Meta, groups: a.groupsOf(p.Meta, cur.Time)}
	}
	a.last = Sample{Time: cur.Time, BootTicks: cur.BootTicks, CPU: cur.CPU}
}

func (a *Attributor) energy(total, delta units.Energy, dt time.Duration, src sensor.Source) snapshot.Energy {
	return snapshot.Energy{Total: total, Delta: delta, Power: units.PowerOf(delta, dt), Source: src}
}

func (a *Attributor) idleBaseline() (units.Power, string) {
	switch a.opts.IdleOrigin {
	case IdleFromFlag, IdleFromModel:
		return a.opts.IdlePower, a.opts.IdleOrigin
	}
	return a.learner.baseline()
}

// zones books every zone's delta, fills snap.Zones and snap.Host.Source,
// and returns the host delta and the deltas of the host's device zones
// (GPUs). A zone seen for the first time contributes nothing this tick (its
// counter's past is unknown); a zone that is gone is forgotten.
func (a *Attributor) zones(snap *snapshot.Snapshot, zones []sensor.Zone, dt time.Duration) (units.Energy, map[string]units.Energy) {
	var devices map[string]units.Energy
	view := viewOf(zones)
	snap.Zones = make([]snapshot.Zone, 0, len(zones))
	snap.Host.Source = sensor.Measured
	var host units.Energy
	seen := make(map[string]bool, len(zones))
	for _, z := range zones {
		seen[z.ID] = true
		var d uint64
		if prev, ok := a.lastRaw[z.ID]; ok {
			var kind counter.Kind
			d, kind = counter.Delta(prev, uint64(z.Energy), uint64(z.MaxRange))
			switch kind {
			case counter.Wrapped:
				a.wraps++
			case counter.Reset:
				a.resets++
			}
		}
		a.lastRaw[z.ID] = uint64(z.Energy)
		delta := units.Energy(d)
		a.zoneTotal[z.ID] += delta
		snap.Zones = append(snap.Zones, snapshot.Zone{
			ID: z.ID, Kind: z.Kind, Name: z.Name, Socket: z.Socket,
			Energy: a.energy(a.zoneTotal[z.ID], delta, dt, z.Source),
		})
		if countsInHost(z.Kind, view) {
			host += delta
			if z.Kind == sensor.KindGPU && delta > 0 {
				if devices == nil {
					devices = map[string]units.Energy{}
				}
				devices[z.ID] = delta
			}
			if z.Source == sensor.Estimated {
				snap.Host.Source = sensor.Estimated
			}
		}
	}
	for id := range a.lastRaw {
		if !seen[id] {
			delete(a.lastRaw, id)
		}
	}
	return host, devices
}

// devicePart is the share of a device zone's energy that goes to processes
// by their use of the device.
type devicePart struct {
	energy units.Energy
	shares sensor.Shares
}

// deviceParts takes out of the energy to split the part that belongs to
// device zones with process shares: each such zone gives its delta scaled
// by toSplit/host, so that the idle baseline weighs on devices and CPUs
// alike.
func (a *Attributor) deviceParts(devices map[string]units.Energy, shares map[string]sensor.Shares, toSplit, host units.Energy) []devicePart {
	if len(devices) == 0 || len(shares) == 0 || host == 0 {
		return nil
	}
	var parts []devicePart
	for id, d := range devices {
		sh := shares[id]
		if len(sh) == 0 {
			continue
		}
		hi, lo := bits.Mul64(uint64(d), uint64(toSplit))
		q, _ := bits.Div64(hi, lo, uint64(host)) // d ≤ host, so no overflow
		parts = append(parts, devicePart{energy: units.Energy(q), shares: sh})
	}
	slices.SortFunc(parts, func(x, y devicePart) int { return cmp.Compare(x.energy, y.energy) })
	return parts
}

// processes splits energy among the processes of cur — the device parts by
// their shares of each device, the rest by their CPU time since prev —,
// fills snap.Processes, moves the books of processes that are gone into the
// exited total, and returns the energy that could not be split because no
// process used any CPU time (or no process that used a device is alive).
func (a *Attributor) processes(snap *snapshot.Snapshot, prev, cur Sample, energy units.Energy, devices []devicePart) units.Energy {
	n := len(cur.Procs)
	a.weights = slices.Grow(a.weights[:0], n)[:n]
	a.shares = slices.Grow(a.shares[:0], n)[:n]
	books := make([]*procBooks, n)
	for i, p := range cur.Procs {
		b, ok := a.procs[p.Key]
		if !ok {
			b = &procBooks{meta: p.Meta, groups: a.groupsOf(p.Meta, cur.Time)}
			if prev.BootTicks != 0 && p.StartTime >= prev.BootTicks {
				// Born during the interval: all its CPU time is in it.
				b.lastCPU = 0
			} else {
				b.lastCPU = p.CPU // its past is not this interval's
			}
			a.procs[p.Key] = b
		} else if b.meta != p.Meta {
			// Read again after an exec: the process may have moved to a
			// group of its own (libvirt's qemu, a container's entrypoint).
			b.meta, b.groups = p.Meta, a.groupsOf(p.Meta, cur.Time)
		}
		var d uint64
		if p.CPU > b.lastCPU {
			d = p.CPU - b.lastCPU
		}
		b.lastCPU = p.CPU
		b.cpuTotal += d
		b.seen = true
		a.weights[i] = d
		books[i] = b
	}
	gpu := a.splitDevices(cur.Procs, devices)
	cpuPool := energy
	for _, g := range gpu {
		cpuPool -= units.Energy(g)
	}
	a.rem = split(uint64(cpuPool), a.weights, a.shares, a.rem)
	for i, g := range gpu {
		a.shares[i] += g
	}

	lost := energy
	for i := range cur.Procs {
		share := units.Energy(a.shares[i])
		lost -= share
		b := books[i]
		b.total += share
		bookGroups(b.groups, share, a.weights[i])
	}
	for k, b := range a.procs {
		if !b.seen {
			a.exited += b.total
			delete(a.procs, k)
			continue
		}
		b.seen = false
	}

	// Sort an index rather than the (large) process records, then build
	// the records in order.
	a.order = slices.Grow(a.order[:0], n)[:n]
	for i := range a.order {
		a.order[i] = int32(i)
	}
	slices.SortFunc(a.order, func(x, y int32) int {
		if c := cmp.Compare(a.shares[y], a.shares[x]); c != 0 {
			return c
		}
		if c := cmp.Compare(books[y].total, books[x].total); c != 0 {
			return c
		}
		return cmp.Compare(cur.Procs[x].PID, cur.Procs[y].PID)
	})
	snap.Processes = make([]snapshot.Process, n)
	for k, i := range a.order {
		p, b := &cur.Procs[i], books[i]
		share := units.Energy(a.shares[i])
		snap.Processes[k] = snapshot.Process{
			Key:      p.Key,
			Meta:     p.Meta,
			Energy:   a.energy(b.total, share, snap.Interval, snap.Host.Source),
			CPUDelta: procstat.TicksToDuration(a.weights[i]),
			CPUTotal: procstat.TicksToDuration(b.cpuTotal),
		}
	}
	return lost
}

// splitDevices splits each device part among the processes of procs by
// their shares; shares of processes that are gone are left out and the
// others renormalised. It returns per-process energy, or nil when there is
// no device part.
func (a *Attributor) splitDevices(procs []procstat.Proc, devices []devicePart) []uint64 {
	if len(devices) == 0 {
		return nil
	}
	total := make([]uint64, len(procs))
	weights := make([]uint64, len(procs))
	out := make([]uint64, len(procs))
	for _, d := range devices {
		var used bool
		for i, p := range procs {
			weights[i] = uint64(d.shares[p.PID] * 1e9)
			used = used || weights[i] > 0
		}
		if !used {
			continue // nobody alive used it: its energy stays with the CPU split
		}
		a.rem = split(uint64(d.energy), weights, out, a.rem)
		for i := range out {
			total[i] += out[i]
		}
	}
	return total
}
