// Package attribution turns two consecutive samples into a snapshot: it
// computes the host's energy over the interval and splits it among
// processes by their share of CPU time. It does no I/O and reads no clock:
// the same samples always give the same snapshot.
//
// For an interval of length Δt (docs/attribution.md says why each term
// is what it is; docs/architecture.md where this package sits):
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
// On a measured host with Options.Platform, a meter's remainder beyond
// the zones inside it is split among storage, network and the platform by
// coefficients learned from the meter, and the idle baseline of a host
// that never goes quiet is fitted (platform.go).
//
// A process whose Meta.Workload is a Grouper (a container's process) has
// each share booked to its groups too — its container, its pod — whose
// totals outlive the process (groups.go).
package attribution

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Options configure an Attributor.
type Options struct {
	// Sensor names the sensor set, Method describes how estimated figures
	// are made; both are copied into snapshots.
	Sensor string
	Method string
	// IdlePolicy is snapshot.IdleSeparate (default) or
	// snapshot.IdleShared.
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
	// Platform, when set, learns from the meter how its remainder beyond
	// the RAPL zones splits among storage, network and the rest, and the
	// host's idle power where it never goes quiet (platform.go). A
	// Platform that platformfit refuses (a negative or non-finite
	// figure) learns nothing: the remainder stays the platform's. Check
	// it with CheckPlatform first to tell the user why.
	Platform *Platform
}

// Attributor keeps an account per process and per group between ticks.
// It is not safe for concurrent use: the sampler owns it.
type Attributor struct {
	opts Options

	started bool
	seq     uint64
	last    Sample // time, zones and CPU times of the previous tick

	lastRaw map[string]uint64 // zone ID → last raw counter

	zoneTotal    map[string]units.Energy
	lastNet      map[uint64]uint64 // network namespace → bytes at the last tick
	resHost      snapshot.ResourceEnergy
	resIdle      snapshot.ResourceEnergy
	resLost      snapshot.ResourceEnergy
	host         units.Energy
	idle         units.Energy
	unattributed units.Energy
	exited       units.Energy
	wraps        int
	resets       int

	procs   map[procinfo.Key]*procAccount
	groups  map[string]*groupAccount // "<kind>:<id>" → its account (groups.go)
	learner idleLearner
	fit     *platformFit // nil without Options.Platform

	// scratch, reused every tick
	weights []uint64 // per process, then the CPU time no process holds
	io      []uint64 // per process: storage bytes in the interval
	res     [power.NumResources][]uint64
	tmp     []uint64
	zdeltas []units.Energy
	shares  []uint64
	child   []uint64
	reclaim map[int]reclaimed // reaper PID → CPU time and storage bytes of its descendants that are gone
	gone    map[int]goneProc  // PID → a process gone since the last tick
	rem     []remainder
	order   []int32
}

type procAccount struct {
	lastCPU   uint64 // utime + stime when last seen
	lastChild uint64 // cutime + cstime when last seen
	lastIO    uint64 // read_bytes + write_bytes when last seen
	ppid      int
	cpuTotal  uint64
	total     units.Energy
	res       snapshot.ResourceEnergy // total, per resource
	seen      bool                    // present in the current tick
	meta      *procinfo.Meta          // the metadata groups were resolved from
	groups    []*groupAccount         // resolved again only when the metadata changes (an exec)
}

// New returns an Attributor with no accounts open.
func New(opts Options) *Attributor {
	if opts.IdlePolicy == "" {
		opts.IdlePolicy = snapshot.IdleSeparate
	}
	var fit *platformFit
	if opts.Platform != nil {
		if f, err := newPlatformFit(*opts.Platform); err == nil {
			fit = f
		}
	}
	return &Attributor{
		fit:       fit,
		opts:      opts,
		lastRaw:   make(map[string]uint64),
		zoneTotal: make(map[string]units.Energy),
		lastNet:   make(map[uint64]uint64),
		procs:     make(map[procinfo.Key]*procAccount),
		groups:    make(map[string]*groupAccount),
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

	resetsBefore := a.resets
	hostDelta, devices, hostRes, rest, haveRest := a.zones(snap, cur.Zones, dt)
	hostPower := units.PowerOf(hostDelta, dt)

	// A meter's remainder: each device's learned active energy moves to
	// its resource (learned from the ticks before this one).
	var moved snapshot.ResourceEnergy
	if a.fit != nil {
		util, utilOK := cur.CPU.UtilisationSince(prev.CPU)
		a.fit.activities(cur.Activity, dt.Seconds(), util, utilOK)
		if haveRest {
			moved = a.fit.split(&hostRes, rest, dt.Seconds())
		}
	}

	idlePower, origin := a.idleBaseline()
	idleDelta := min(hostDelta, idlePower.EnergyOver(dt))
	snap.IdlePower, snap.IdleOrigin = idlePower, origin

	// The idle energy weighs on every resource in proportion to its part
	// of the host: idle is a state of the whole machine, not of one part.
	// A device's learned active energy is above idle by construction and
	// bears none.
	pools, idleRes := hostRes, snapshot.ResourceEnergy{}
	if a.opts.IdlePolicy != snapshot.IdleShared {
		weights := hostRes
		for r := range weights {
			weights[r] -= moved[r]
		}
		idleRes = splitResources(min(idleDelta, weights.Sum()), weights)
		for r := range pools {
			pools[r] -= idleRes[r]
		}
	}
	idleBooked := idleRes.Sum()
	lostRes := a.processes(snap, prev, cur, pools, gpuParts(devices, cur.Shares, pools[resGPU]))
	lost := lostRes.Sum()
	a.closeGroups(snap, cur.Time)

	for r := range hostRes {
		a.resHost[r] += hostRes[r]
		a.resIdle[r] += idleRes[r]
		a.resLost[r] += lostRes[r]
	}
	snap.Resources = snapshot.HostResources{
		Host:         snapshot.Resources{Delta: hostRes, Total: a.resHost},
		Idle:         snapshot.Resources{Delta: idleRes, Total: a.resIdle},
		Unattributed: snapshot.Resources{Delta: lostRes, Total: a.resLost},
	}
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
		Wraps:        a.wraps + cur.Wraps,
		Resets:       a.resets + cur.Resets,
	}

	// Learn from this interval only after using the old baseline, so a
	// tick is never judged by itself; without CPU times there is nothing
	// to judge utilisation by, and an interval that spans an outage or a
	// counter reset says nothing about idle power.
	if _, ok := cur.CPU.UtilisationSince(prev.CPU); ok && !cur.Disturbed && a.resets == resetsBefore {
		a.learner.observe(hostPower, snap.Utilisation)
		if a.fit != nil {
			a.fit.learn(units.PowerOf(rest, dt).Watts(), haveRest, hostPower.Watts(), !a.learner.seen)
		}
	}
	if a.fit != nil && haveRest {
		snap.Platform = a.fit.snapshot()
		snap.Method = joinMethod(snap.Method, a.fit.method())
	}
	a.last = Sample{Time: cur.Time, BootTicks: cur.BootTicks, CPU: cur.CPU}
	return snap
}

func (a *Attributor) baseline(cur Sample) {
	a.netDeltas(cur.NetNS)
	if a.fit != nil {
		a.fit.activities(cur.Activity, 0, 0, false)
	}
	for _, z := range cur.Zones {
		a.lastRaw[z.ID] = uint64(z.Energy)
	}
	for _, p := range cur.Procs {
		a.procs[p.Key] = &procAccount{lastCPU: p.CPU, lastChild: p.ChildCPU, ppid: p.PPID, meta: p.Meta, groups: a.groupsOf(p.Meta, cur.Time)}
	}
	a.last = Sample{Time: cur.Time, BootTicks: cur.BootTicks, CPU: cur.CPU}
}

// Blank is the snapshot of an agent that has measured nothing yet (its
// sensor down from the start): no figures and Seq 0, but the idle policy
// and baseline it will use, and a measured source, so that every field
// holds one of its documented values.
func (a *Attributor) Blank() snapshot.Snapshot {
	p, origin := a.idleBaseline()
	return snapshot.Snapshot{
		Sensor: a.opts.Sensor, Method: a.opts.Method, IdlePolicy: a.opts.IdlePolicy,
		IdlePower: p, IdleOrigin: origin,
		Host: snapshot.Energy{Source: power.Measured}, Idle: snapshot.Energy{Source: power.Measured},
		Unattributed: snapshot.Energy{Source: power.Measured},
	}
}

func (a *Attributor) energy(total, delta units.Energy, dt time.Duration, src power.Source) snapshot.Energy {
	return snapshot.Energy{Total: total, Delta: delta, Power: units.PowerOf(delta, dt), Source: src}
}

func (a *Attributor) idleBaseline() (units.Power, string) {
	switch a.opts.IdleOrigin {
	case IdleFromFlag, IdleFromModel:
		return a.opts.IdlePower, a.opts.IdleOrigin
	}
	if !a.learner.seen && a.fit != nil {
		if p, ok := a.fit.idle(); ok {
			return p, IdleFitted
		}
	}
	return a.learner.baseline()
}

// zones takes every zone's delta, fills snap.Zones and snap.Host.Source,
// and returns the host delta, the deltas of the GPU zones, and the host
// delta split by resource (hostSplit) with the remainder of a meter and
// whether there is one. A zone seen for the first time
// contributes nothing this tick (its counter's past is unknown); a zone
// that is gone is forgotten.
func (a *Attributor) zones(snap *snapshot.Snapshot, zones []power.Zone, dt time.Duration) (units.Energy, map[string]units.Energy, snapshot.ResourceEnergy, units.Energy, bool) {
	var devices map[string]units.Energy
	a.zdeltas = a.zdeltas[:0]
	// The host is made of the zones that have a delta this tick: a zone
	// seen for the first time (a BMC's wall meter that answers after
	// start) would otherwise take the host's place with nothing, and
	// the zones that did measure would count for nothing in that tick.
	view := viewOf(zones, a.lastRaw)
	var from []string
	snap.Zones = make([]snapshot.Zone, 0, len(zones))
	snap.Host.Source = power.Measured
	var host units.Energy
	seen := make(map[string]bool, len(zones))
	for _, z := range zones {
		seen[z.ID] = true
		var d uint64
		prev, known := a.lastRaw[z.ID]
		if known {
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
		a.zdeltas = append(a.zdeltas, delta)
		a.zoneTotal[z.ID] += delta
		if z.Kind == power.KindGPU && delta > 0 {
			if devices == nil {
				devices = map[string]units.Energy{}
			}
			devices[z.ID] = delta
		}
		snap.Zones = append(snap.Zones, snapshot.Zone{
			ID: z.ID, Kind: z.Kind, Name: z.Name, Socket: z.Socket,
			Energy: a.energy(a.zoneTotal[z.ID], delta, dt, z.Source),
		})
		if countsInHost(z.Kind, view) {
			host += delta
			if known {
				from = appendKind(from, z.Kind)
			}
			if z.Source == power.Estimated {
				snap.Host.Source = power.Estimated
			}
		}
	}
	for id := range a.lastRaw {
		if !seen[id] {
			delete(a.lastRaw, id)
		}
	}
	snap.HostFrom = strings.Join(from, "+")
	res, rest, ok := hostSplit(zones, a.zdeltas, view)
	return host, devices, res, rest, ok
}

// appendKind adds kind to kinds unless it is there.
func appendKind(kinds []string, kind string) []string {
	if slices.Contains(kinds, kind) {
		return kinds
	}
	return append(kinds, kind)
}

// devicePart is the share of a GPU zone's energy that goes to processes
// by their use of the device.
type devicePart struct {
	id     string
	energy units.Energy
	shares power.Shares
}

// processes splits each resource's pool among the processes of cur by
// their use of it (resources.go): cpu, memory and platform by CPU time
// since prev, storage by bytes read and written, network by their
// namespace's bytes then CPU time, GPUs by the device's shares (the part
// of the GPU pool no live process used going by CPU time). It fills
// snap.Processes, moves the accounts of processes that are gone into the
// exited total, and returns per resource the energy no process takes: the
// share of the busy CPU time that no readable process holds, a storage
// pool no process read or wrote bytes for, and all of a pool split by CPU
// time when no process used any.
//
// A process's CPU time in the interval is its own (utime + stime) plus
// that of the children it reaped (cutime + cstime), less what those
// children had already been seen to use: a child that lives shorter than
// a tick counts for its parent, and one that was seen is not counted
// twice; storage bytes the same way. The CPU pools are priced per busy
// CPU-second of the machine (Work from /proc/stat): a process gets
// pool × Δcpu_p / max(busy, Σ Δcpu), so what it gets does not depend on
// which other processes are visible.
func (a *Attributor) processes(snap *snapshot.Snapshot, prev, cur Sample, pools snapshot.ResourceEnergy, devices []devicePart) snapshot.ResourceEnergy {
	n := len(cur.Procs)
	a.weights = slices.Grow(a.weights[:0], n+1)[:n+1]
	a.shares = slices.Grow(a.shares[:0], n+1)[:n+1]
	a.child = slices.Grow(a.child[:0], n)[:n]
	a.io = slices.Grow(a.io[:0], n)[:n]
	accounts := make([]*procAccount, n)
	for i, p := range cur.Procs {
		b := a.accountOf(p, prev, cur.Time)
		a.weights[i] = sub(p.CPU, b.lastCPU)
		a.child[i] = sub(p.ChildCPU, b.lastChild)
		a.io[i] = sub(p.IO, b.lastIO)
		b.lastCPU, b.lastChild, b.lastIO, b.ppid = p.CPU, p.ChildCPU, p.IO, p.PPID
		b.seen = true
		accounts[i] = b
	}
	a.closeProcesses(cur.Procs)
	busy, known := workSince(prev.CPU, cur.CPU)
	var held uint64
	for i, b := range accounts {
		if known {
			// Reaped time beyond the machine's busy time in the interval
			// is from before it (a reaper the agent could not follow).
			a.child[i] = min(a.child[i], busy)
		}
		a.weights[i] += a.child[i]
		b.cpuTotal += a.weights[i]
		held += a.weights[i]
	}
	a.weights[n] = 0 // the busy CPU time no process holds
	if known && busy > held {
		a.weights[n] = busy - held
	}
	snap.CPU = snapshot.CPU{
		Busy: procinfo.TicksToDuration(busy), Processes: procinfo.TicksToDuration(held),
		Known: known && busy > 0,
	}

	for r := range a.res {
		a.res[r] = slices.Grow(a.res[r][:0], n)[:n]
		clear(a.res[r])
	}
	a.splitByCPU(pools[resCPU], a.res[resCPU])
	a.splitByCPU(pools[resMemory], a.res[resMemory])
	a.splitByCPU(pools[resPlatform], a.res[resPlatform])
	a.splitStorage(pools[resStorage], a.res[resStorage])
	snap.NetworkBy = a.splitNetwork(cur.Procs, a.netDeltas(cur.NetNS), pools[resNetwork], a.res[resNetwork])
	gpuGiven := a.splitDevices(cur.Procs, devices, a.res[resGPU])
	a.splitByCPU(pools[resGPU]-gpuGiven, a.res[resGPU])

	var lost snapshot.ResourceEnergy
	for r := range a.res {
		lost[r] = pools[r]
	}
	for i := range cur.Procs {
		var res snapshot.ResourceEnergy
		var share units.Energy
		for r := range a.res {
			res[r] = units.Energy(a.res[r][i])
			share += res[r]
			lost[r] -= res[r]
		}
		a.shares[i] = uint64(share)
		b := accounts[i]
		b.total += share
		for r := range res {
			b.res[r] += res[r]
		}
		bookGroups(b.groups, share, res, a.weights[i])
	}
	a.list(snap, cur.Procs, accounts)
	return lost
}

// accountOf returns p's account, opening one for a process not seen before:
// one born during the interval counts all its CPU time, one that was
// already there only what it uses from now on.
func (a *Attributor) accountOf(p procinfo.Proc, prev Sample, now time.Time) *procAccount {
	b, ok := a.procs[p.Key]
	if !ok {
		b = &procAccount{meta: p.Meta, groups: a.groupsOf(p.Meta, now)}
		if prev.BootTicks == 0 || p.StartTime < prev.BootTicks {
			b.lastCPU, b.lastChild = p.CPU, p.ChildCPU // its past is not this interval's
		}
		a.procs[p.Key] = b
	} else if b.meta != p.Meta {
		// Read again after an exec: the process may have moved to a
		// group of its own (libvirt's qemu, a container's entrypoint).
		b.meta, b.groups = p.Meta, a.groupsOf(p.Meta, now)
	}
	return b
}

// closeProcesses moves the accounts of processes no longer in procs into the
// exited total. A process that is gone was reaped: its CPU time as last
// seen (its own and its reaped children's) is now in its reaper's
// children's time, and is taken out of the reaper's interval so that it
// counts once. When a whole chain went in one interval (a shell that
// reaped its command, then was reaped itself), the reaper's jump holds
// the whole chain, so what each gone process was last seen with is taken
// from its nearest ancestor still alive.
func (a *Attributor) closeProcesses(procs []procinfo.Proc) {
	clear(a.reclaim)
	clear(a.gone)
	for k, b := range a.procs {
		if !b.seen {
			if a.gone == nil {
				a.gone = make(map[int]goneProc)
			}
			a.gone[k.PID] = goneProc{ppid: b.ppid, cpu: b.lastCPU + b.lastChild, io: b.lastIO}
			a.exited += b.total
			delete(a.procs, k)
			continue
		}
		b.seen = false
	}
	if len(a.gone) == 0 {
		return
	}
	if a.reclaim == nil {
		a.reclaim = make(map[int]reclaimed)
	}
	for _, g := range a.gone {
		reaper := g.ppid
		for range maxReapChain {
			up, ok := a.gone[reaper]
			if !ok {
				break
			}
			reaper = up.ppid
		}
		rc := a.reclaim[reaper]
		rc.cpu += g.cpu
		rc.io += g.io
		a.reclaim[reaper] = rc
	}
	for i, p := range procs {
		if r, ok := a.reclaim[p.PID]; ok {
			take := min(a.child[i], r.cpu)
			a.child[i] -= take
			r.cpu -= take
			// A reaped child's bytes are in its reaper's io counters
			// from now on (the kernel adds them at wait(2)).
			takeIO := min(a.io[i], r.io)
			a.io[i] -= takeIO
			r.io -= takeIO
			a.reclaim[p.PID] = r
		}
	}
}

// reclaimed is what a reaper's counters hold of its descendants gone in
// the interval, as they were last seen.
type reclaimed struct{ cpu, io uint64 }

// maxReapChain bounds the walk up a chain of processes gone in one
// interval (and any loop a reused PID could make).
const maxReapChain = 64

type goneProc struct {
	ppid int
	cpu  uint64 // utime + stime + cutime + cstime when last seen
	io   uint64 // read_bytes + write_bytes when last seen
}

// list fills snap.Processes, highest interval energy first.
func (a *Attributor) list(snap *snapshot.Snapshot, procs []procinfo.Proc, accounts []*procAccount) {
	// Sort an index rather than the (large) process records, then build
	// the records in order.
	n := len(procs)
	a.order = slices.Grow(a.order[:0], n)[:n]
	for i := range a.order {
		a.order[i] = int32(i)
	}
	slices.SortFunc(a.order, func(x, y int32) int {
		if c := cmp.Compare(a.shares[y], a.shares[x]); c != 0 {
			return c
		}
		if c := cmp.Compare(accounts[y].total, accounts[x].total); c != 0 {
			return c
		}
		return cmp.Compare(procs[x].PID, procs[y].PID)
	})
	snap.Processes = make([]snapshot.Process, n)
	for k, i := range a.order {
		p, b := &procs[i], accounts[i]
		share := units.Energy(a.shares[i])
		snap.Processes[k] = snapshot.Process{
			Key:      p.Key,
			Meta:     p.Meta,
			Energy:   a.energy(b.total, share, snap.Interval, snap.Host.Source),
			CPUDelta: procinfo.TicksToDuration(a.weights[i]),
			CPUTotal: procinfo.TicksToDuration(b.cpuTotal),
			Memory:   p.Memory,
			IODelta:  a.io[i],
		}
		rs := &snap.Processes[k].Resources
		rs.Total = b.res
		for r := range a.res {
			rs.Delta[r] = units.Energy(a.res[r][i])
		}
	}
}

// workSince is the machine's busy CPU time (procinfo.CPUTimes.Work) from
// prev to cur, in ticks; known is false when the interval cannot be told
// (the counters did not move or went backwards, or were not read).
func workSince(prev, cur procinfo.CPUTimes) (busy uint64, known bool) {
	if cur.Total <= prev.Total || cur.Work < prev.Work {
		return 0, false
	}
	return cur.Work - prev.Work, true
}

// sub is a − b, or 0 when a counter went backwards.
func sub(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return 0
}

// splitDevices splits each GPU part among the processes of procs by their
// shares of the device, adding to out, and returns the energy given; the
// shares of processes that are gone are left out and the others
// renormalised, and a part no live process used is not given.
func (a *Attributor) splitDevices(procs []procinfo.Proc, devices []devicePart, out []uint64) units.Energy {
	if len(devices) == 0 {
		return 0
	}
	weights := make([]uint64, len(procs))
	got := make([]uint64, len(procs))
	var given units.Energy
	for _, d := range devices {
		var used bool
		for i, p := range procs {
			weights[i] = uint64(d.shares[p.PID] * 1e9)
			used = used || weights[i] > 0
		}
		if !used {
			continue // nobody alive used it: its energy goes with the CPU split
		}
		a.rem = split(uint64(d.energy), weights, got, a.rem)
		for i := range got {
			out[i] += got[i]
			given += units.Energy(got[i])
		}
	}
	return given
}
