// Package snapshottest builds hand-made snapshots for the tests of what
// reads them (the exporters): measured figures over an interval, and a
// host total that is exactly what the consumers add up to, as attribution
// guarantees of a real snapshot.
//
// It is a test helper: import it from _test.go files (and other test
// helpers) only.
package snapshottest

import (
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Interval is the interval of the fixtures: the default step, 2 s.
const Interval = 2 * time.Second

// Energy returns measured figures: total since start, delta over
// Interval, and the average power of delta over Interval.
func Energy(total, delta units.Energy) snapshot.Energy {
	return snapshot.Energy{Total: total, Delta: delta, Power: units.PowerOf(delta, Interval), Source: power.Measured}
}

// Joules is Energy in whole joules.
func Joules(total, delta units.Energy) snapshot.Energy {
	return Energy(total*units.Joule, delta*units.Joule)
}

// Balance sets s.Host to what s's consumers add up to, with Energy: its
// processes, exited processes, unattributed energy and idle, for the
// interval and since start. It returns s.
func Balance(s *snapshot.Snapshot) *snapshot.Snapshot {
	total := s.Exited + s.Unattributed.Total + s.Idle.Total
	delta := s.Unattributed.Delta + s.Idle.Delta
	for _, p := range s.Processes {
		total += p.Total
		delta += p.Delta
	}
	s.Host = Energy(total, delta)
	return s
}
