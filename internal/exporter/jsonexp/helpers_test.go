package jsonexp

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/snapshot/snapshottest"
	"github.com/wattlens/wattlens/internal/units"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 2, 345678000, time.UTC)

func process(pid int, exe, cmdline, vm string, total, delta units.Energy, cpu time.Duration) snapshot.Process {
	comm := exe
	if i := bytes.LastIndexByte([]byte(exe), '/'); i >= 0 {
		comm = exe[i+1:]
	}
	return snapshot.Process{
		Key:      procinfo.Key{PID: pid, StartTime: uint64(1000 + pid)},
		Meta:     &procinfo.Meta{Exe: exe, Comm: comm, Cmdline: cmdline, VM: vm},
		Energy:   snapshottest.Energy(total, delta),
		CPUDelta: cpu,
		CPUTotal: 4 * cpu,
	}
}

// fixture is a snapshot whose figures balance: five running processes (one a
// VM, one a kernel thread), exited processes, unattributed energy and
// idle, with odd microjoule counts.
func fixture() *snapshot.Snapshot {
	procs := []snapshot.Process{
		process(100, "/usr/bin/stress", "stress -c 4", "", 100_000_001, 30_000_003, 1500*time.Millisecond),
		process(200, "/usr/bin/qemu-system-x86_64", "qemu-system-x86_64 -name guest=web01 -m 2048", "web01", 50_000_007, 20_000_001, time.Second),
		process(300, "/usr/sbin/nginx", "nginx: worker process", "", 40_000_011, 5_000_005, 250*time.Millisecond),
		process(400, "", "", "", 3_000_013, 1_000_007, 50*time.Millisecond),
		process(500, "/usr/bin/sleep", "sleep infinity", "", 7_000_017, 0, 0),
	}
	procs[3].Comm = "kworker/0:1"
	s := snapshottest.Balance(&snapshot.Snapshot{
		Seq:          7,
		Time:         t0,
		Interval:     2 * time.Second,
		Sensor:       "powercap_rapl",
		SensorUp:     true,
		Idle:         snapshottest.Energy(200_000_023, 20_000_029),
		IdlePower:    10 * units.Watt,
		IdleOrigin:   "learned",
		IdlePolicy:   "separate",
		Exited:       12_345_678,
		Unattributed: snapshottest.Energy(2_000_019, 500_023),
		Utilisation:  0.375,
		CPUs:         8,
		Processes:    procs,
		Stats:        snapshot.Stats{Processes: 5, Skipped: 1, TickDuration: 3 * time.Millisecond},
	})
	s.Zones = []snapshot.Zone{
		{ID: "intel-rapl:0", Kind: power.KindPackage, Name: "package-0", Socket: 0, Energy: snapshottest.Energy(s.Host.Total-1_000_000, s.Host.Delta-400_000)},
		{ID: "intel-rapl:0:0", Kind: power.KindCore, Name: "core", Socket: 0, Energy: snapshottest.Energy(300_000_000, 50_000_000)},
		{ID: "intel-rapl:0:1", Kind: power.KindDRAM, Name: "dram", Socket: 0, Energy: snapshottest.Energy(1_000_000, 400_000)},
	}
	return s
}

// microjoules turns a joule figure back into whole microjoules; each
// figure is a whole number of microjoules divided by 10⁶, so this is exact.
func microjoules(t *testing.T, j float64) uint64 {
	t.Helper()
	u := math.Round(j * 1e6)
	if u < 0 || math.Abs(u-j*1e6) > 1e-3 {
		t.Fatalf("%v J is not a whole number of microjoules", j)
	}
	return uint64(u)
}

// checkConservation decodes one line and checks that consumers and idle
// add up to the host, for the interval and since start.
func checkConservation(t *testing.T, line []byte) Record {
	t.Helper()
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("decode %q: %v", line, err)
	}
	var total, interval uint64
	for _, c := range r.Consumers {
		total += microjoules(t, c.EnergyJoules)
		interval += microjoules(t, c.IntervalEnergyJoules)
	}
	total += microjoules(t, r.Idle.EnergyJoules)
	interval += microjoules(t, r.Idle.IntervalEnergyJoules)
	if want := microjoules(t, r.Host.EnergyJoules); total != want {
		t.Errorf("seq %d: Σ consumers + idle = %d µJ since start, host %d µJ", r.Seq, total, want)
	}
	if want := microjoules(t, r.Host.IntervalEnergyJoules); interval != want {
		t.Errorf("seq %d: Σ consumers + idle = %d µJ in the interval, host %d µJ", r.Seq, interval, want)
	}
	checkResources(t, r)
	if n := len(r.Consumers); n == 0 || r.Consumers[n-1].Kind != KindOther {
		t.Errorf("seq %d: last consumer is not %q: %+v", r.Seq, KindOther, r.Consumers)
	}
	return r
}

// checkResources checks, resource by resource, that consumers and idle
// add up to the host, and that each account's resources add up to it.
func checkResources(t *testing.T, r Record) {
	t.Helper()
	list := func(x Resources) []ResourceFigures {
		return []ResourceFigures{x.CPU, x.Memory, x.Storage, x.Network, x.GPU, x.Platform}
	}
	sum := func(x Resources) (total, interval uint64) {
		for _, f := range list(x) {
			total += microjoules(t, f.EnergyJoules)
			interval += microjoules(t, f.IntervalEnergyJoules)
		}
		return total, interval
	}
	for i := range power.Resources {
		var total, interval uint64
		for _, c := range append(r.Consumers, Consumer{Resources: r.Idle.Resources}) {
			f := list(c.Resources)[i]
			total += microjoules(t, f.EnergyJoules)
			interval += microjoules(t, f.IntervalEnergyJoules)
		}
		h := list(r.Host.Resources)[i]
		if total != microjoules(t, h.EnergyJoules) || interval != microjoules(t, h.IntervalEnergyJoules) {
			t.Errorf("seq %d: %s: Σ consumers + idle = %d/%d µJ, host %v", r.Seq, power.Resources[i], total, interval, h)
		}
	}
	for _, c := range r.Consumers {
		total, interval := sum(c.Resources)
		if total != microjoules(t, c.EnergyJoules) || interval != microjoules(t, c.IntervalEnergyJoules) {
			t.Errorf("seq %d: %s %d: resources add up to %d/%d µJ, not its %v/%v J", r.Seq, c.Kind, c.PID, total, interval, c.EnergyJoules, c.IntervalEnergyJoules)
		}
	}
}
