package counter

import (
	"math/bits"
	"time"

	"github.com/wattlens/wattlens/internal/units"
)

// Integrator turns power samples into a cumulative energy counter, for
// sources that report power rather than energy (hwmon power meters, GPUs
// without an energy counter, models). Between two samples at t0 and t1 it
// adds (P0 + P1) / 2 × (t1 − t0) (the trapezoid rule). It works in exact
// integers: µW × ns / (2×10^9) gives µJ, and the remainder of that division
// is carried to the next step, so no fraction of a microjoule is dropped.
// The zero value is ready to use.
type Integrator struct {
	have  bool
	lastP uint64    // µW
	lastT time.Time // monotonic
	total uint64    // µJ
	rem   uint64    // carried remainder, in µJ / (2×10^9)
}

const trapezoidDivisor = 2 * uint64(time.Second) // ½ and ns → s

// Add records power p sampled at t and returns the energy so far. The
// first sample only sets the starting point. A sample whose time does not
// move forward replaces the last power and adds nothing.
func (g *Integrator) Add(t time.Time, p units.Power) units.Energy {
	if g.have {
		if dt := t.Sub(g.lastT); dt > 0 {
			g.step(g.lastP+uint64(p), uint64(dt))
		}
	}
	if !g.have || !t.Before(g.lastT) {
		g.lastT = t
	}
	g.have, g.lastP = true, uint64(p)
	return units.Energy(g.total)
}

// Total returns the energy so far.
func (g *Integrator) Total() units.Energy { return units.Energy(g.total) }

func (g *Integrator) step(sumP, dt uint64) {
	hi, lo := bits.Mul64(sumP, dt)
	var carry uint64
	lo, carry = bits.Add64(lo, g.rem, 0)
	hi += carry
	if hi >= trapezoidDivisor { // > 10^28 µW·ns in one step: not a real reading
		return
	}
	q, r := bits.Div64(hi, lo, trapezoidDivisor)
	g.total += q
	g.rem = r
}
