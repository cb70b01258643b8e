package counter

import (
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/units"
)

func TestIntegrator(t *testing.T) {
	t0 := time.Unix(100, 0)
	steps := []struct {
		name string
		at   time.Duration
		p    units.Power
		want units.Energy
	}{
		{"first sample sets the start", 0, 10 * units.Watt, 0},
		{"constant 10 W for 2 s", 2 * time.Second, 10 * units.Watt, 20 * units.Joule},
		{"ramp to 30 W over 1 s: trapezoid", 3 * time.Second, 30 * units.Watt, 40 * units.Joule},
		{"time standing still adds nothing", 3 * time.Second, 50 * units.Watt, 40 * units.Joule},
		{"time going backwards adds nothing", 2 * time.Second, 50 * units.Watt, 40 * units.Joule},
		{"the replaced power counts from where time stood", 3*time.Second + 500*time.Millisecond, 1, 40*units.Joule + 12_500_000},
	}
	var g Integrator
	for _, st := range steps {
		if got := g.Add(t0.Add(st.at), st.p); got != st.want {
			t.Errorf("%s: %d µJ, want %d", st.name, got, st.want)
		}
	}
	// 1 µW for ten half-seconds is 5 µJ in all, though each step is 0.5 µJ.
	var h Integrator
	for i := 0; i <= 10; i++ {
		h.Add(t0.Add(time.Duration(i)*500*time.Millisecond), 1)
	}
	if h.Total() != 5 {
		t.Errorf("carried fractions: %d µJ, want 5", h.Total())
	}
}

func TestIntegratorExactInSmallSteps(t *testing.T) {
	t0 := time.Unix(0, 0)
	var g Integrator
	g.Add(t0, 1) // 1 µW
	// 1 µW for 1 ms is 10^-3 µJ: a thousand steps make exactly 1 µJ.
	var got units.Energy
	for i := 1; i <= 1000; i++ {
		got = g.Add(t0.Add(time.Duration(i)*time.Millisecond), 1)
		if i < 1000 && got != 0 {
			t.Fatalf("step %d: %d µJ before a whole µJ was reached", i, got)
		}
	}
	if got != 1 {
		t.Errorf("after 1 s at 1 µW: %d µJ, want 1", got)
	}
	// A large machine: 10 kW for an hour.
	var big Integrator
	big.Add(t0, 10_000*units.Watt)
	if got := big.Add(t0.Add(time.Hour), 10_000*units.Watt); got != 36_000_000*units.Joule {
		t.Errorf("10 kW for 1 h: %d µJ", got)
	}
}
