package redfish

import (
	"time"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/units"
)

// meter turns the BMC's power samples into a cumulative energy counter
// that a tick can read at any moment.
//
// Between two samples the energy is the trapezoid of the exact integrator
// (counter.Integrator). A read between samples, or while the BMC does not
// answer, adds the last power held since the last sample (so the tick sees
// energy flowing, not a counter that stands still until the next sample).
// When the next sample comes, the integral up to it replaces that
// extrapolation: if it is larger the counter catches up at once; if it is
// smaller the counter holds still until the integral passes it. The
// counter never goes backwards, and over any span longer than the gap it
// equals the trapezoid integral of the samples: energy across an outage is
// (P_before + P_after) / 2 × gap, nothing lost and nothing counted twice.
//
// A catch-up after a long gap is booked at no more than maxRate (when not
// 0), spread over the reads that follow: the sampler takes a counter that
// jumps faster than its zone can draw for a reset and books nothing.
type meter struct {
	g        counter.Integrator
	have     bool
	lastT    time.Time
	lastP    units.Power
	reported units.Energy
	maxRate  units.Power
	lastRead time.Time // zero before the first read
}

// sample records power p measured at t.
func (m *meter) sample(t time.Time, p units.Power) {
	if m.have && t.Before(m.lastT) {
		return
	}
	m.g.Add(t, p)
	m.have, m.lastT, m.lastP = true, t, p
}

// read returns the counter at now: the integral up to the last sample plus
// the last power held since, never less than what was returned before.
// ok is false before the first sample.
func (m *meter) read(now time.Time) (units.Energy, bool) {
	if !m.have {
		return 0, false
	}
	e := m.g.Total()
	if dt := now.Sub(m.lastT); dt > 0 {
		e += m.lastP.EnergyOver(dt)
	}
	if m.maxRate > 0 && !m.lastRead.IsZero() {
		e = min(e, m.reported+m.maxRate.EnergyOver(now.Sub(m.lastRead)))
	}
	if e > m.reported {
		m.reported = e
	}
	if now.After(m.lastRead) {
		m.lastRead = now
	}
	return m.reported, true
}
