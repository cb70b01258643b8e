package sampler

import (
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/units"
)

// meterSensor is a wall meter holding one package; the test moves its
// counters.
type meterSensor struct {
	wall, pkg float64 // µJ
}

func (m *meterSensor) Name() string { return "fake-meter" }
func (m *meterSensor) Read() (power.Reading, error) {
	return power.Reading{Zones: []power.Zone{
		{ID: "wall", Kind: power.KindWall, Socket: -1, Energy: units.Energy(m.wall), Source: power.Measured},
		{ID: "pkg", Kind: power.KindPackage, Energy: units.Energy(m.pkg), Source: power.Measured},
	}}, nil
}

type fakeActivity struct{ ioTicks uint64 }

func (f *fakeActivity) Read() (power.Activity, error) {
	return power.Activity{"storage:sda": f.ioTicks}, nil
}

// busyProcs is one process using half a CPU of two, with machine CPU
// times that advance.
type busyProcs struct{ work, total, cpu uint64 }

func (b *busyProcs) Read(dst []procinfo.Proc) ([]procinfo.Proc, procinfo.Stats, error) {
	p := procinfo.Proc{Key: procinfo.Key{PID: 9, StartTime: 1}, CPU: b.cpu, IO: b.cpu * 4096, Meta: &procinfo.Meta{Comm: "w"}}
	return append(dst, p), procinfo.Stats{Seen: 1}, nil
}
func (b *busyProcs) CPUTimes() (procinfo.CPUTimes, error) {
	return procinfo.CPUTimes{Busy: b.work, Work: b.work, Total: b.total, CPUs: 2}, nil
}

// TestActivityReachesTheFit: WithActivity's counters go to attribution
// with each tick, which learns the disk's 20 W from the meter.
func TestActivityReachesTheFit(t *testing.T) {
	act := &fakeActivity{}
	sen := &meterSensor{}
	procs := &busyProcs{}
	now := time.Unix(1000, 0)
	pl := attribution.Platform{Devices: []power.Device{{ID: "storage:sda", Resource: power.ResourceStorage, Name: "sda", FullScale: 1000, Idle: 1, Active: 5}},
		Idle: 10, CPU: 5, WallIdle: 30, WallCPU: 50}
	s := New(sen, procs, attribution.New(attribution.Options{Sensor: "fake-meter", Platform: &pl}), slog.New(slog.NewTextHandler(io.Discard, nil)),
		WithClock(func() time.Time { return now }), WithBootTicks(func() uint64 { return 0 }), WithActivity(act))
	s.Tick()
	var storage units.Energy
	for i := range 60 {
		a := float64(i%4) / 3 // 0, ⅓, ⅔, 1
		now = now.Add(time.Second)
		act.ioTicks += uint64(math.Round(a * 1000))
		procs.work += 100 + uint64(i%3)*20
		procs.total += 200
		procs.cpu += 50
		sen.pkg += 20e6
		sen.wall += (20 + 10 + 20*math.Round(a*1000)/1000) * 1e6
		snap := s.Tick()
		if i >= 40 {
			storage += snap.Resources.Host.Delta.Of(power.ResourceStorage)
		}
		if i == 59 {
			if snap.Platform == nil || math.Abs(snap.Platform.Terms[0].Value-20) > 0.5 || snap.Platform.Terms[0].Status != "learned" {
				t.Fatalf("fit %+v, want the disk's 20 W learned", snap.Platform)
			}
		}
	}
	if storage == 0 {
		t.Error("no storage energy moved out of the remainder")
	}
}
