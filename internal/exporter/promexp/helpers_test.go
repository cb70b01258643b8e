package promexp

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fixedSnapshot is a hand-made snapshot whose figures add up:
// host 100 J = procs 30 + 20 + 10 + 5 + exited 7 + unattributed 3 + idle 25.
func fixedSnapshot() *snapshot.Snapshot {
	e := func(total, delta units.Energy) snapshot.Energy {
		return snapshot.Energy{Total: total * units.Joule, Delta: delta * units.Joule, Power: units.PowerOf(delta*units.Joule, 2*time.Second), Source: sensor.Measured}
	}
	proc := func(pid int, exe, comm, cmdline string, total, delta units.Energy, cpu time.Duration, vm string) snapshot.Process {
		return snapshot.Process{
			Key:      procstat.Key{PID: pid, StartTime: uint64(pid) * 10},
			Meta:     &procstat.Meta{Exe: exe, Comm: comm, Cmdline: cmdline, VM: vm},
			Energy:   e(total, delta),
			CPUDelta: cpu,
		}
	}
	return &snapshot.Snapshot{
		Seq:        7,
		Time:       t0,
		Interval:   2 * time.Second,
		Sensor:     "powercap_rapl",
		SensorUp:   true,
		Host:       e(100, 20),
		Idle:       e(25, 5),
		IdlePower:  2500 * units.Milliwatt,
		IdleOrigin: "flag",
		IdlePolicy: "separate",
		Exited:     7 * units.Joule,
		Unattributed: snapshot.Energy{
			Total: 3 * units.Joule, Delta: 1 * units.Joule, Power: 500 * units.Milliwatt, Source: sensor.Measured,
		},
		Utilisation: 0.5,
		CPU:         snapshot.CPU{Busy: 4 * time.Second, Processes: 3600 * time.Millisecond, Known: true},
		CPUs:        4,
		Zones: []snapshot.Zone{
			{ID: "intel-rapl:0", Kind: sensor.KindPackage, Name: "package-0", Socket: 0, Energy: e(90, 18)},
			{ID: "intel-rapl:0:0", Kind: sensor.KindCore, Name: "core", Socket: 0, Energy: e(60, 12)},
			{ID: "intel-rapl:0:1", Kind: sensor.KindDRAM, Name: "dram", Socket: 0, Energy: e(10, 2)},
		},
		Processes: []snapshot.Process{
			proc(100, "/usr/bin/stress-ng", "stress-ng", "stress-ng --cpu 2", 30, 8, 2*time.Second, ""),
			proc(200, "/usr/bin/qemu-system-x86_64", "qemu-system-x86", "qemu-system-x86_64 -name guest=web", 20, 4, time.Second, "web"),
			proc(300, "/usr/bin/python3", "python3", "python3 serve.py", 10, 1, 500*time.Millisecond, ""),
			proc(400, "", "kworker/0:1", "", 5, 1, 100*time.Millisecond, ""),
		},
		Stats: snapshot.Stats{Processes: 4, Skipped: 1, TickDuration: 3 * time.Millisecond, Wraps: 2, Resets: 0},
	}
}

// world drives the real attribution with synthetic samples: processes that
// come, go and change their CPU use, and a package counter that wraps.
type world struct {
	rng   *rand.Rand
	attr  *attribution.Attributor
	sec   int
	pkg   uint64
	max   uint64
	procs map[int]*wproc
	next  int
	// workload, when set, gives each new process its Meta.Workload.
	workload func(w *world) any
}

type wproc struct {
	key  procstat.Key
	cpu  uint64
	rate uint64 // CPU ticks per step
	meta *procstat.Meta
}

func newWorld(seed uint64, n int) *world {
	w := &world{
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		attr:  attribution.New(attribution.Options{Sensor: "powercap_rapl", IdlePower: 5 * units.Watt, IdleOrigin: attribution.IdleFromFlag}),
		max:   500_000_000, // 500 J: wraps every few steps
		procs: map[int]*wproc{},
		next:  1000,
	}
	for range n {
		w.spawn()
	}
	return w
}

func (w *world) spawn() {
	w.next++
	vm := ""
	if w.next%7 == 0 {
		vm = fmt.Sprintf("vm-%d", w.next%3)
	}
	w.procs[w.next] = &wproc{
		key:  procstat.Key{PID: w.next, StartTime: uint64(w.next)},
		rate: uint64(w.rng.IntN(50)),
		meta: &procstat.Meta{Exe: "/bin/p", Comm: "p", Cmdline: fmt.Sprintf("p --id %d", w.next), VM: vm},
	}
	if w.workload != nil {
		w.procs[w.next].meta.Workload = w.workload(w)
	}
}

// step moves time on by 2 s: processes change their rates, some exit,
// some are born; the package counter advances by 40..200 J.
func (w *world) step() *snapshot.Snapshot {
	w.sec += 2
	for pid, p := range w.procs {
		switch r := w.rng.IntN(20); {
		case r == 0:
			delete(w.procs, pid)
			continue
		case r < 8:
			p.rate = uint64(w.rng.IntN(100))
		}
		p.cpu += p.rate
	}
	for range w.rng.IntN(3) {
		w.spawn()
	}
	w.pkg = (w.pkg + uint64(40+w.rng.IntN(160))*1_000_000) % w.max
	smp := attribution.Sample{
		Time:  t0.Add(time.Duration(w.sec) * time.Second),
		Zones: []sensor.Zone{{ID: "intel-rapl:0", Kind: sensor.KindPackage, Name: "package-0", Socket: 0, Energy: units.Energy(w.pkg), MaxRange: units.Energy(w.max), Source: sensor.Measured}},
		CPU:   procstat.CPUTimes{Busy: uint64(w.sec) * 100, Total: uint64(w.sec) * 400, CPUs: 4},
	}
	for _, p := range w.procs {
		smp.Procs = append(smp.Procs, procstat.Proc{Key: p.key, CPU: p.cpu, Meta: p.meta})
	}
	smp.ProcStats.Seen = len(smp.Procs)
	return w.attr.Observe(smp)
}

// exportAll feeds snapshots to c, failing the test on error.
func exportAll(t testing.TB, c *Collector, snaps ...*snapshot.Snapshot) {
	t.Helper()
	for _, s := range snaps {
		if err := c.Export(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
}

func mustNew(t testing.TB, o Options) *Collector {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// manyProcs is a snapshot with n processes whose figures add up.
func manyProcs(n int) *snapshot.Snapshot {
	s := &snapshot.Snapshot{
		Seq: 1, Time: t0, Interval: 2 * time.Second, Sensor: "powercap_rapl", SensorUp: true,
		CPUs: 64, IdleOrigin: "learned",
		Zones: []snapshot.Zone{{ID: "intel-rapl:0", Kind: sensor.KindPackage, Name: "package-0", Socket: 0,
			Energy: snapshot.Energy{Source: sensor.Measured}}},
	}
	var sum units.Energy
	for i := range n {
		total := units.Energy(1_000_000 + i*137)
		delta := units.Energy(10_000 + (n-i)*13)
		sum += total
		s.Processes = append(s.Processes, snapshot.Process{
			Key: procstat.Key{PID: 10_000 + i, StartTime: uint64(i)},
			Meta: &procstat.Meta{
				Exe: "/usr/lib/jvm/java-21/bin/java", Comm: "java",
				Cmdline: fmt.Sprintf("java -Xmx4g -jar /srv/app-%d/service.jar --port %d --config /etc/app/%d.yaml", i, 8000+i, i),
			},
			Energy:   snapshot.Energy{Total: total, Delta: delta, Power: units.PowerOf(delta, 2*time.Second), Source: sensor.Measured},
			CPUDelta: 10 * time.Millisecond,
		})
	}
	s.Idle = snapshot.Energy{Total: 500 * units.Joule, Source: sensor.Measured}
	s.Host = snapshot.Energy{Total: sum + s.Idle.Total, Delta: 100 * units.Joule, Power: 50 * units.Watt, Source: sensor.Measured}
	s.Zones[0].Total = s.Host.Total
	s.Stats.Processes = n
	return s
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
