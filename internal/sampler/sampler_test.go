package sampler

import (
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

type fakeSensor struct {
	uj  uint64
	err error
}

func (f *fakeSensor) Name() string { return "fake" }
func (f *fakeSensor) Read() (power.Reading, error) {
	if f.err != nil {
		return power.Reading{}, f.err
	}
	return power.Reading{Zones: []power.Zone{{ID: "z", Kind: power.KindPackage, Energy: units.Energy(f.uj), Source: power.Measured}}}, nil
}

type fakeProcs struct{ cpu uint64 }

func (f *fakeProcs) Read(dst []procinfo.Proc) ([]procinfo.Proc, procinfo.Stats, error) {
	return append(dst, procinfo.Proc{Key: procinfo.Key{PID: 7, StartTime: 1}, CPU: f.cpu, Meta: &procinfo.Meta{Comm: "x"}}), procinfo.Stats{Seen: 1}, nil
}
func (f *fakeProcs) CPUTimes() (procinfo.CPUTimes, error) { return procinfo.CPUTimes{CPUs: 1}, nil }

// TestSensorDownHoldsTheBooks checks that a sensor that fails for a few
// ticks is reported down with the last figures (never zeros), and that the
// energy of the gap is booked when it recovers.
func TestSensorDownHoldsTheBooks(t *testing.T) {
	sen := &fakeSensor{}
	procs := &fakeProcs{}
	now := time.Unix(1000, 0)
	s := New(sen, procs, attribution.New(attribution.Options{Sensor: "fake"}), slog.New(slog.NewTextHandler(io.Discard, nil)),
		WithClock(func() time.Time { return now }), WithBootTicks(func() uint64 { return 0 }))

	step := func(uj uint64, err error) {
		now = now.Add(time.Second)
		sen.uj, sen.err = uj, err
		procs.cpu += 10
	}
	if snap := s.Tick(); snap != nil {
		t.Fatal("baseline tick returned a snapshot")
	}
	step(5_000_000, nil)
	snap := s.Tick()
	if !snap.SensorUp || snap.Host.Total != 5_000_000 {
		t.Fatalf("tick 1: up=%v total=%d", snap.SensorUp, snap.Host.Total)
	}
	step(0, errors.New("zone intel-rapl:0 vanished"))
	snap = s.Tick()
	if snap.SensorUp || snap.SensorError == "" || snap.Host.Total != 5_000_000 {
		t.Fatalf("down tick: up=%v err=%q total=%d; want down with held total", snap.SensorUp, snap.SensorError, snap.Host.Total)
	}
	step(12_000_000, nil)
	snap = s.Tick()
	if !snap.SensorUp || snap.Host.Total != 12_000_000 || snap.Interval != 2*time.Second {
		t.Fatalf("recovered: up=%v total=%d interval=%v; want the gap booked over 2 s", snap.SensorUp, snap.Host.Total, snap.Interval)
	}
	if snap.Processes[0].Total != 12_000_000 {
		t.Errorf("process total %d, want all 12 J", snap.Processes[0].Total)
	}
}

func TestDownBeforeFirstReading(t *testing.T) {
	s := New(&fakeSensor{err: errors.New("no zones")}, &fakeProcs{}, attribution.New(attribution.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	snap := s.Tick()
	if snap == nil || snap.SensorUp || snap.Sensor != "fake" {
		t.Fatalf("got %+v, want a down snapshot naming the sensor", snap)
	}
}

type stuckSensor struct {
	release chan struct{}
	reads   atomic.Int32
}

func (s *stuckSensor) Name() string { return "stuck" }
func (s *stuckSensor) Read() (power.Reading, error) {
	n := s.reads.Add(1)
	if n == 2 {
		<-s.release // the second read hangs until released
	}
	return power.Reading{Zones: []power.Zone{{ID: "z", Kind: power.KindPackage, Energy: units.Energy(n), Source: power.Measured}}}, nil
}

// TestStuckReadMarksDownAndRecovers: a read that hangs marks the sensor
// down within the timeout, no second read starts while it hangs, and the
// loop goes on once it returns.
func TestStuckReadMarksDownAndRecovers(t *testing.T) {
	sen := &stuckSensor{release: make(chan struct{})}
	s := New(sen, &fakeProcs{}, attribution.New(attribution.Options{}), slog.New(slog.DiscardHandler),
		WithReadTimeout(50*time.Millisecond), WithBootTicks(func() uint64 { return 0 }))
	if snap := s.Tick(); snap != nil {
		t.Fatal("baseline returned a snapshot")
	}
	start := time.Now()
	snap := s.Tick()
	if snap == nil || snap.SensorUp || time.Since(start) > 2*time.Second {
		t.Fatalf("hung read: %+v after %v; want down within the timeout", snap, time.Since(start))
	}
	snap = s.Tick()
	if snap.SensorUp || sen.reads.Load() != 2 {
		t.Fatalf("while the read hangs: up=%v reads=%d; want down and no new read", snap.SensorUp, sen.reads.Load())
	}
	close(sen.release)
	time.Sleep(20 * time.Millisecond)
	if snap = s.Tick(); snap == nil || !snap.SensorUp || sen.reads.Load() != 3 {
		t.Fatalf("after release: %+v reads=%d; want up with a fresh read", snap, sen.reads.Load())
	}
}

// TestDownFromTheStartHasDocumentedValues: a sensor down before its first
// reading gives a snapshot whose policy, origin and source are ones the
// docs name, not empty strings.
func TestDownFromTheStartHasDocumentedValues(t *testing.T) {
	s := New(&fakeSensor{err: errors.New("share stopped")}, &fakeProcs{}, attribution.New(attribution.Options{Sensor: "vm"}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	snap := s.Tick()
	if snap == nil || snap.SensorUp || snap.Seq != 0 {
		t.Fatalf("got %+v, want a down snapshot with seq 0", snap)
	}
	if snap.IdlePolicy != snapshot.IdleSeparate || snap.IdleOrigin != attribution.IdleLearning || snap.Host.Source != power.Measured {
		t.Errorf("policy %q, origin %q, source %q; want separate, learning, measured", snap.IdlePolicy, snap.IdleOrigin, snap.Host.Source)
	}
}
