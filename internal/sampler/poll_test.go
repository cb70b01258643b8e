package sampler

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor/powercap"
	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
	"github.com/wattlens/wattlens/internal/units"
)

// rangedSensor is a counter that wraps at max, driven by the test.
type rangedSensor struct {
	raw, max uint64
	maxPower units.Power
	kind     string
}

func (f *rangedSensor) Name() string { return "ranged" }
func (f *rangedSensor) Read() (power.Reading, error) {
	return power.Reading{Zones: []power.Zone{{ID: "z", Kind: f.kind, Energy: units.Energy(f.raw),
		MaxRange: units.Energy(f.max), MaxPower: f.maxPower, Source: power.Measured}}}, nil
}

func (f *rangedSensor) add(uj uint64) { f.raw = (f.raw + uj) % f.max }

type clock struct{ now time.Time }

func (c *clock) get() time.Time { return c.now }

func newRanged(t *testing.T, sen *rangedSensor) (*Sampler, *clock) {
	t.Helper()
	c := &clock{now: time.Unix(1000, 0)}
	s := New(sen, &fakeProcs{}, attribution.New(attribution.Options{Sensor: "ranged"}), slog.New(slog.NewTextHandler(io.Discard, nil)),
		WithClock(c.get), WithBootTicks(func() uint64 { return 0 }))
	return s, c
}

// TestPollingSeesEveryWrap: a 40 J counter at 31 W wraps more than once in
// a 2 s step. Polled as often as PollEvery says, every joule is booked.
func TestPollingSeesEveryWrap(t *testing.T) {
	const watts = 31
	sen := &rangedSensor{max: 40_000_000, kind: power.KindPackage, maxPower: 100 * units.Watt}
	s, c := newRanged(t, sen)
	step := 2 * time.Second
	s.Tick()
	every := s.PollEvery(step)
	// The package ceiling (1 kW) bounds it, not the 100 W of its limits:
	// 40 J at 1 kW is 40 ms, read every 20 ms.
	if every != 20*time.Millisecond {
		t.Fatalf("PollEvery = %v, want 20ms", every)
	}
	var written uint64
	for tick := 0; tick < 5; tick++ {
		for elapsed := time.Duration(0); elapsed < step; elapsed += every {
			c.now = c.now.Add(every)
			uj := uint64(watts * every.Microseconds())
			sen.add(uj)
			written += uj
			if elapsed+every < step {
				s.Poll()
			}
		}
		snap := s.Tick()
		if got := snap.Host.Power.Watts(); got < watts*0.999 || got > watts*1.001 {
			t.Errorf("tick %d: host power %.3f W, want %d W", tick, got, watts)
		}
	}
	if snap := s.last; uint64(snap.Host.Total) != written {
		t.Errorf("host total %d µJ, written %d µJ", snap.Host.Total, written)
	}
	if s.last.Stats.Wraps < 7 {
		t.Errorf("wraps = %d, want every wrap seen (≥ 7)", s.last.Stats.Wraps)
	}
}

// TestNoPollingWhenTicksAreOftenEnough: a real package range (262 kJ) at
// its ceiling takes minutes to wrap; a 2 s step needs no polls.
func TestNoPollingWhenTicksAreOftenEnough(t *testing.T) {
	sen := &rangedSensor{max: 262_143_328_850, kind: power.KindPackage}
	s, _ := newRanged(t, sen)
	s.Tick()
	if got := s.PollEvery(2 * time.Second); got != 0 {
		t.Errorf("PollEvery(2s) = %v, want 0", got)
	}
	// psys at 5 kW: 52 s to wrap, so a 5-minute step polls every 26 s.
	sen.kind = power.KindPsys
	s, _ = newRanged(t, sen)
	s.Tick()
	if got := s.PollEvery(5 * time.Minute); got < 26*time.Second || got > 27*time.Second {
		t.Errorf("psys PollEvery(5m) = %v, want about 26s", got)
	}
}

// TestBackwardsIsAResetNotAWrap: a counter that drops by 130 J between two
// reads 2 s apart would be a 262 kJ wrap — 131 kW. It is a reset: nothing
// is booked for it, the next intervals are booked as usual, and it is
// counted.
func TestBackwardsIsAResetNotAWrap(t *testing.T) {
	for _, tt := range []struct {
		name string
		drop func(raw uint64) uint64
	}{
		{"130 J lower", func(raw uint64) uint64 { return raw - 130_000_000 }},
		{"to zero", func(uint64) uint64 { return 0 }},
		{"a jump forward no package can make", func(raw uint64) uint64 { return raw + 100_000_000_000 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sen := &rangedSensor{raw: 1_000_000_000, max: 262_143_328_850, kind: power.KindPackage}
			s, c := newRanged(t, sen)
			s.Tick()
			advance := func(uj uint64) {
				c.now = c.now.Add(2 * time.Second)
				sen.add(uj)
			}
			advance(20_000_000) // 10 W
			s.Tick()
			c.now = c.now.Add(2 * time.Second)
			sen.raw = tt.drop(sen.raw)
			snap := s.Tick()
			if snap.Host.Delta != 0 || snap.Stats.Resets != 1 {
				t.Errorf("reset tick: host delta %d µJ, resets %d; want 0 and 1", snap.Host.Delta, snap.Stats.Resets)
			}
			advance(20_000_000)
			snap = s.Tick()
			if snap.Host.Delta != 20_000_000 || snap.Host.Total != 40_000_000 {
				t.Errorf("after: delta %d total %d µJ; want 20 J and 40 J", snap.Host.Delta, snap.Host.Total)
			}
			if snap.Host.Power.Watts() != 10 {
				t.Errorf("power %v W after the reset, want 10", snap.Host.Power.Watts())
			}
		})
	}
}

// TestWrapStillAWrap: a genuine wrap at a plausible power is booked.
func TestWrapStillAWrap(t *testing.T) {
	sen := &rangedSensor{raw: 262_143_328_850 - 5_000_000, max: 262_143_328_850, kind: power.KindPackage}
	s, c := newRanged(t, sen)
	s.Tick()
	c.now = c.now.Add(2 * time.Second)
	sen.add(20_000_000)
	snap := s.Tick()
	if snap.Host.Delta != 20_000_000 || snap.Stats.Wraps != 1 || snap.Stats.Resets != 0 {
		t.Errorf("delta %d wraps %d resets %d; want 20 J, 1, 0", snap.Host.Delta, snap.Stats.Wraps, snap.Stats.Resets)
	}
}

// BenchmarkPoll is what one extra counter read costs: the powercap sensor
// reading the five zones of a two-socket server fixture and the tracker
// unwrapping them (no procfs, no attribution).
func BenchmarkPoll(b *testing.B) {
	root := b.TempDir()
	if err := powercaptest.Build(root, powercaptest.IntelServer2S()); err != nil {
		b.Fatal(err)
	}
	sen, err := powercap.NewAt(powercaptest.PowercapDir(root), nil)
	if err != nil {
		b.Fatal(err)
	}
	s := New(sen, &fakeProcs{}, attribution.New(attribution.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Poll()
	b.ReportAllocs()
	for b.Loop() {
		s.Poll()
	}
}
