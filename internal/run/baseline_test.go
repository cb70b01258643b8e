package run

import (
	"math"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/units"
)

func TestIdleFromBaseline(t *testing.T) {
	// A host whose truth is 20 W + 15 W per busy CPU, 4 CPUs.
	truth := func(busy ...float64) []baselinePoint {
		var pts []baselinePoint
		for _, b := range busy {
			pts = append(pts, baselinePoint{watts: 20 + 15*b, busy: b, utilisation: b / 4})
		}
		return pts
	}
	tests := []struct {
		name       string
		pts        []baselinePoint
		wantWatts  float64
		wantOrigin string
	}{
		{name: "varied load: the intercept", pts: truth(0.5, 1.5, 0.8, 2, 1.1), wantWatts: 20, wantOrigin: IdleBaselineFit},
		{name: "quiet and steady: the mean", pts: truth(0.1, 0.1, 0.1, 0.1), wantWatts: 21.5, wantOrigin: IdleBaselineQuiet},
		{name: "busy and steady: the lowest, an upper bound", pts: truth(2, 2.05, 2, 2.02), wantWatts: 50, wantOrigin: IdleBaselineBusy},
		{name: "nothing measured", wantWatts: 0, wantOrigin: IdleNone},
		{
			name:       "a falling line is no fit",
			pts:        []baselinePoint{{watts: 50, busy: 0, utilisation: 0.5}, {watts: 40, busy: 1, utilisation: 0.5}, {watts: 30, busy: 2, utilisation: 0.5}},
			wantWatts:  30,
			wantOrigin: IdleBaselineBusy,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, origin := idleFromBaseline(tt.pts)
			if origin != tt.wantOrigin || math.Abs(p.Watts()-tt.wantWatts) > 0.01 {
				t.Errorf("idle = %.3f W (%s), want %.3f W (%s)", p.Watts(), origin, tt.wantWatts, tt.wantOrigin)
			}
		})
	}
}

func TestRusTicks(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want uint64
	}{
		{0, 0},
		{1500 * time.Microsecond, 1},
		{14 * time.Millisecond, 1},
		{15 * time.Millisecond, 2},
		{3100 * time.Millisecond, 310},
	}
	for _, tt := range tests {
		if got := rusTicks(tt.in); got != tt.want {
			t.Errorf("rusTicks(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestCPUPrice(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	// 20 W idle + 15 W per busy CPU, over two ticks.
	ticks := []tick{
		{interval: sec(1), host: units.FromJoules(20 + 15*1.5), point: baselinePoint{busy: 1.5}},
		{interval: sec(0.5), host: units.FromJoules((20 + 15*0.2) * 0.5), point: baselinePoint{busy: 0.2}},
	}
	if got := cpuPrice(ticks, 20*units.Watt); got < 14.99 || got > 15.01 {
		t.Errorf("price %.4f J per CPU-second, want 15", got)
	}
	if got := cpuPrice(ticks, 100*units.Watt); got != 0 {
		t.Errorf("price above an idle higher than the host: %v, want 0", got)
	}
	// The baseline's points: one quiet, two with busy CPUs, at 20 W + 15 W
	// per busy CPU.
	base := []baselinePoint{{watts: 20, seconds: 0.1}, {watts: 20 + 15*0.5, busy: 0.5, seconds: 0.1}, {watts: 20 + 15*0.1, busy: 0.1, seconds: 0.2}}
	if got := baselinePrice(base, 20*units.Watt); got < 14.99 || got > 15.01 {
		t.Errorf("baseline price %.4f J per CPU-second, want 15", got)
	}
	if got := baselinePrice(base[:1], 20*units.Watt); got != 0 {
		t.Errorf("baseline price with no busy CPU: %v, want 0", got)
	}
}

// TestSeriesPeakIgnoresTheTail: the peak is the highest power over a full
// step; the few milliseconds from the last tick to the exit, where a
// fraction of a joule reads as watts, never set it (`run -- sleep 2`
// reported 1.2–7.1 W peaks against averages of 0.03 W).
func TestSeriesPeakIgnoresTheTail(t *testing.T) {
	start := time.Unix(1000, 0)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tk := func(at, interval time.Duration, cmdJ float64) tick {
		t := tick{time: start.Add(at), interval: interval, host: units.FromJoules(8 * interval.Seconds())}
		t.res[power.ResourceCPU.Index()] = units.FromJoules(cmdJ)
		return t
	}
	tests := []struct {
		name  string
		ticks []tick
		want  float64 // watts
	}{
		// sleep 2 at step 1 s: two quiet steps, then 0.02 J in 5 ms (4 W).
		{"quiet steps and a tail", []tick{tk(ms(1000), ms(1000), 0), tk(ms(2000), ms(1000), 0), tk(ms(2005), ms(5), 0.02)}, 0},
		{"busy steps and a tail", []tick{tk(ms(1000), ms(1000), 3), tk(ms(2000), ms(1000), 5), tk(ms(2009), ms(9), 0.2)}, 5},
		// Half a step counts as a full one.
		{"half a step", []tick{tk(ms(1000), ms(1000), 1), tk(ms(1500), ms(500), 1)}, 2},
		// No full step at all: no peak of its own (the caller takes the average).
		{"only a short interval", []tick{tk(ms(300), ms(300), 0.6)}, 0},
	}
	for _, tt := range tests {
		pts, peak := series(tt.ticks, start, time.Second, 0, false)
		if len(pts) != len(tt.ticks) {
			t.Errorf("%s: %d points, want one per tick (%d)", tt.name, len(pts), len(tt.ticks))
		}
		if got := peak.Watts(); math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("%s: peak %.4f W, want %.4f W", tt.name, got, tt.want)
		}
	}
}
