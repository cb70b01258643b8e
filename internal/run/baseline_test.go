package run

import (
	"math"
	"testing"
	"time"

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
