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
//
// It also splits by resource every account that has no split yet
// (Split), and sets the host's split to what they add up to (the exited
// processes' energy counted as cpu), so that the per-resource sums hold
// too.
func Balance(s *snapshot.Snapshot) *snapshot.Snapshot {
	total := s.Exited + s.Unattributed.Total + s.Idle.Total
	delta := s.Unattributed.Delta + s.Idle.Delta
	for _, p := range s.Processes {
		total += p.Total
		delta += p.Delta
	}
	s.Host = Energy(total, delta)
	return SplitResources(s)
}

// SplitResources splits by resource every account of s that has no split
// yet (Split), and sets the host's split to what they add up to (the
// exited processes' energy counted as cpu), so that the per-resource sums
// hold as they do in a snapshot attribution makes. It returns s.
func SplitResources(s *snapshot.Snapshot) *snapshot.Snapshot {
	if s == nil {
		return nil
	}
	fill := func(r *snapshot.Resources, e snapshot.Energy) {
		if r.Total.Sum() == 0 && r.Delta.Sum() == 0 {
			*r = snapshot.Resources{Delta: Split(e.Delta), Total: Split(e.Total)}
		}
	}
	fill(&s.Resources.Idle, s.Idle)
	fill(&s.Resources.Unattributed, s.Unattributed)
	host := snapshot.Resources{}
	host.Total[power.ResourceCPU.Index()] = s.Exited
	add := func(r snapshot.Resources) {
		for i := range r.Delta {
			host.Delta[i] += r.Delta[i]
			host.Total[i] += r.Total[i]
		}
	}
	add(s.Resources.Idle)
	add(s.Resources.Unattributed)
	for i := range s.Processes {
		fill(&s.Processes[i].Resources, s.Processes[i].Energy)
		add(s.Processes[i].Resources)
	}
	s.Resources.Host = host
	for i := range s.Groups {
		fill(&s.Groups[i].Resources, s.Groups[i].Energy)
	}
	return s
}

// Split is a fixture's split of e by resource: a tenth each to memory,
// storage and network, the rest to cpu, in whole microjoules.
func Split(e units.Energy) snapshot.ResourceEnergy {
	var r snapshot.ResourceEnergy
	tenth := e / 10
	r[power.ResourceMemory.Index()] = tenth
	r[power.ResourceStorage.Index()] = tenth
	r[power.ResourceNetwork.Index()] = tenth
	r[power.ResourceCPU.Index()] = e - 3*tenth
	return r
}
