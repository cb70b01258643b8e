package promexp

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/attribution/attributiontest"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/snapshot/snapshottest"
	"github.com/wattlens/wattlens/internal/units"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fixedSnapshot is a hand-made snapshot whose figures add up:
// host 100 J = procs 30 + 20 + 10 + 5 + exited 7 + unattributed 3 + idle 25.
func fixedSnapshot() *snapshot.Snapshot {
	e := snapshottest.Joules
	proc := func(pid int, exe, comm, cmdline string, total, delta units.Energy, cpu time.Duration, vm string) snapshot.Process {
		return snapshot.Process{
			Key:      procinfo.Key{PID: pid, StartTime: uint64(pid) * 10},
			Meta:     &procinfo.Meta{Exe: exe, Comm: comm, Cmdline: cmdline, VM: vm},
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
			Total: 3 * units.Joule, Delta: 1 * units.Joule, Power: 500 * units.Milliwatt, Source: power.Measured,
		},
		Utilisation: 0.5,
		CPU:         snapshot.CPU{Busy: 4 * time.Second, Processes: 3600 * time.Millisecond, Known: true},
		CPUs:        4,
		Zones: []snapshot.Zone{
			{ID: "intel-rapl:0", Kind: power.KindPackage, Name: "package-0", Socket: 0, Energy: e(90, 18)},
			{ID: "intel-rapl:0:0", Kind: power.KindCore, Name: "core", Socket: 0, Energy: e(60, 12)},
			{ID: "intel-rapl:0:1", Kind: power.KindDRAM, Name: "dram", Socket: 0, Energy: e(10, 2)},
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

// newWorld is the attributiontest World of these tests: every 7th
// process a VM.
func newWorld(seed uint64, n int) *attributiontest.World {
	return attributiontest.NewWorld(seed, n, attributiontest.Options{Start: t0, VMEvery: 7})
}

// exportAll feeds snapshots to c, failing the test on error.
func exportAll(t testing.TB, c *Collector, snaps ...*snapshot.Snapshot) {
	t.Helper()
	for _, s := range snaps {
		snapshottest.SplitResources(s) // as attribution's snapshots are
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
		Zones: []snapshot.Zone{{ID: "intel-rapl:0", Kind: power.KindPackage, Name: "package-0", Socket: 0,
			Energy: snapshot.Energy{Source: power.Measured}}},
	}
	var sum units.Energy
	for i := range n {
		total := units.Energy(1_000_000 + i*137)
		delta := units.Energy(10_000 + (n-i)*13)
		sum += total
		s.Processes = append(s.Processes, snapshot.Process{
			Key: procinfo.Key{PID: 10_000 + i, StartTime: uint64(i)},
			Meta: &procinfo.Meta{
				Exe: "/usr/lib/jvm/java-21/bin/java", Comm: "java",
				Cmdline: fmt.Sprintf("java -Xmx4g -jar /srv/app-%d/service.jar --port %d --config /etc/app/%d.yaml", i, 8000+i, i),
			},
			Energy:   snapshot.Energy{Total: total, Delta: delta, Power: units.PowerOf(delta, 2*time.Second), Source: power.Measured},
			CPUDelta: 10 * time.Millisecond,
		})
	}
	s.Idle = snapshot.Energy{Total: 500 * units.Joule, Source: power.Measured}
	s.Host = snapshot.Energy{Total: sum + s.Idle.Total, Delta: 100 * units.Joule, Power: 50 * units.Watt, Source: power.Measured}
	s.Zones[0].Total = s.Host.Total
	s.Stats.Processes = n
	return s
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
