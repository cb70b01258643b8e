// Package attributiontest drives the real attribution with synthetic
// samples, for the tests of what reads its snapshots (the exporters): a
// World of processes that come, go and change their CPU use, and a
// package counter that wraps, whose snapshots add up as real ones do.
//
// It is a test helper: import it from _test.go files (and other test
// helpers) only.
package attributiontest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Step is how far each World.Step moves time on.
const Step = 2 * time.Second

// Options shape a World. The zero value is a valid choice for each.
type Options struct {
	// Attribution is what the World's Attributor is made with; when its
	// Sensor is empty, a powercap_rapl sensor with a 5 W idle power from
	// the flag.
	Attribution attribution.Options
	// Start is the time of the first sample.
	Start time.Time
	// VMEvery, when positive, makes every VMEvery-th process (by PID) a
	// VM named "vm-<pid mod 3>".
	VMEvery int
	// BusyPerSecond is the host's busy CPU time in USER_HZ ticks per
	// second of the World (100: one CPU busy); 100 when 0. The host has
	// four CPUs.
	BusyPerSecond uint64
	// QuietEvery, when positive, makes every QuietEvery-th step one in
	// which no process runs, so that the interval's energy is all
	// unattributed.
	QuietEvery int
}

// World is a machine whose processes attribution sees. It is not safe
// for concurrent use.
type World struct {
	// Workload, when set, gives each new process its Meta.Workload; it
	// may draw from Rand and read Seconds.
	Workload func(w *World) any

	opts  Options
	rng   *rand.Rand
	attr  *attribution.Attributor
	sec   int
	pkg   uint64
	max   uint64
	procs map[int]*proc
	next  int
}

type proc struct {
	key  procinfo.Key
	cpu  uint64
	rate uint64 // CPU ticks per step
	meta *procinfo.Meta
}

// NewWorld returns a World of n processes whose randomness comes from
// seed. (Processes are visited in map order, so two Worlds of one seed
// need not give the same snapshots.)
func NewWorld(seed uint64, n int, o Options) *World {
	if o.Attribution.Sensor == "" {
		o.Attribution = attribution.Options{Sensor: "powercap_rapl", IdlePower: 5 * units.Watt, IdleOrigin: attribution.IdleFromFlag}
	}
	if o.BusyPerSecond == 0 {
		o.BusyPerSecond = 100
	}
	w := &World{
		opts:  o,
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		attr:  attribution.New(o.Attribution),
		max:   500_000_000, // 500 J: wraps every few steps
		procs: map[int]*proc{},
		next:  1000,
	}
	for range n {
		w.Spawn()
	}
	return w
}

// Rand is the World's source of randomness.
func (w *World) Rand() *rand.Rand { return w.rng }

// Seconds is the World's time since its start, in seconds.
func (w *World) Seconds() int { return w.sec }

// Spawn starts a process that uses up to 50 ticks of CPU time a step.
func (w *World) Spawn() {
	w.next++
	vm := ""
	if w.opts.VMEvery > 0 && w.next%w.opts.VMEvery == 0 {
		vm = fmt.Sprintf("vm-%d", w.next%3)
	}
	w.procs[w.next] = &proc{
		key:  procinfo.Key{PID: w.next, StartTime: uint64(w.next)},
		rate: uint64(w.rng.IntN(50)),
		meta: &procinfo.Meta{Exe: "/bin/p", Comm: "p", Cmdline: fmt.Sprintf("p --id %d", w.next), VM: vm},
	}
	if w.Workload != nil {
		w.procs[w.next].meta.Workload = w.Workload(w)
	}
}

// Step moves time on by Step: processes change their rates, some exit,
// some are born; the package counter advances by 40..200 J. It returns
// the snapshot attribution makes of the interval: nil for a World's first
// step, which only sets attribution's baseline.
func (w *World) Step() *snapshot.Snapshot {
	w.sec += int(Step / time.Second)
	quiet := w.opts.QuietEvery > 0 && (w.sec/int(Step/time.Second))%w.opts.QuietEvery == 0
	for pid, p := range w.procs {
		switch r := w.rng.IntN(20); {
		case r == 0:
			delete(w.procs, pid)
			continue
		case r < 8:
			p.rate = uint64(w.rng.IntN(100))
		}
		if !quiet {
			p.cpu += p.rate
		}
	}
	for range w.rng.IntN(3) {
		w.Spawn()
	}
	w.pkg = (w.pkg + uint64(40+w.rng.IntN(160))*1_000_000) % w.max
	smp := attribution.Sample{
		Time:  w.opts.Start.Add(time.Duration(w.sec) * time.Second),
		Zones: []power.Zone{{ID: "intel-rapl:0", Kind: power.KindPackage, Name: "package-0", Socket: 0, Energy: units.Energy(w.pkg), MaxRange: units.Energy(w.max), Source: power.Measured}},
		CPU:   procinfo.CPUTimes{Busy: uint64(w.sec) * w.opts.BusyPerSecond, Total: uint64(w.sec) * 400, CPUs: 4},
	}
	for _, p := range w.procs {
		smp.Procs = append(smp.Procs, procinfo.Proc{Key: p.key, CPU: p.cpu, Meta: p.meta})
	}
	smp.ProcStats.Seen = len(smp.Procs)
	return w.attr.Observe(smp)
}
