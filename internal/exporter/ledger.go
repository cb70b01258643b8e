package exporter

import (
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Ledger is what an exporter that exposes the top N processes as
// cumulative series (the promexp and otlp exporters) keeps across ticks,
// so that every series is monotonic while the set of exposed processes
// changes and, at every tick,
//
//	Σ exposed processes + other + unattributed + idle = host
//
// exactly, in microjoules. The design is "closed into other"
// (docs/exporters.md): a process has a series only while it is in the top
// N of the tick. The energy it had when it entered the exposed set stays
// in other (it was counted there while the process was outside), so its
// series shows its total minus that closed part. When it leaves, its
// series ends and its whole total is counted in other again. If it
// re-enters, the part counted in other so far is closed anew and the
// series restarts from the energy since then. Each term of other only
// ever grows, so other is monotonic.
//
// L is an exporter's labels of one process (Prometheus label values,
// OpenTelemetry attributes), built when the process enters the exposed
// set and again when its metadata is read anew after an exec: the series
// goes on under the new program's labels, from the same total.
//
// A Ledger is owned by one goroutine (the sampler's, through Export).
type Ledger[L any] struct {
	labels func(*snapshot.Process) L
	// Keep, when set, names the processes of head that enter the exposed
	// set even in a step in which they drew no energy: processes a user
	// asked for by name, whose series must exist while they are quiet.
	// They do not go in and out, since they stay named.
	Keep func(*snapshot.Process) bool

	gen     uint64
	prev    *snapshot.Snapshot // the last snapshot recorded
	exposed map[procinfo.Key]*exposed[L]

	// scratch
	entrants map[procinfo.Key]*exposed[L]
	heads    []*exposed[L]
	shown    []*snapshot.Process
}

type exposed[L any] struct {
	labels L
	meta   *procinfo.Meta // what labels were built from
	// closed is the part of the process's total counted in other before
	// it entered the exposed set, and closedRes the same by resource.
	closed    units.Energy
	closedRes snapshot.ResourceEnergy
	gen       uint64
}

// Series is one exposed process at one tick.
type Series[L any] struct {
	Labels  *L
	Process *snapshot.Process
	// Energy is the process's series: its total less the part closed
	// into other; Resources the same by resource, which add up to it.
	Energy    units.Energy
	Resources snapshot.ResourceEnergy
}

// NewLedger returns a Ledger that builds a process's labels with labels.
func NewLedger[L any](labels func(*snapshot.Process) L) *Ledger[L] {
	return &Ledger[L]{
		labels:   labels,
		exposed:  make(map[procinfo.Key]*exposed[L]),
		entrants: make(map[procinfo.Key]*exposed[L]),
	}
}

// Record records snapshot s, whose top N is head (snapshot.TopN), and
// returns the series of the exposed processes, in head's order, and the
// total of other: the host's total less idle, unattributed and the
// series. A process of the top N that drew no energy over the step enters
// only if it is exposed already: its new series would start at zero (the
// top N is filled up by total energy when fewer processes than N drew
// any), and in and out it would go. What is left out stays in other; its
// power is zero, so the power split still adds up.
func (l *Ledger[L]) Record(s *snapshot.Snapshot, head []snapshot.Process) ([]Series[L], units.Energy) {
	l.gen++
	clear(l.entrants)
	l.heads = l.heads[:0]
	l.shown = l.shown[:0]
	for i := range head {
		p := &head[i]
		e, ok := l.exposed[p.Key]
		switch {
		case !ok && p.Delta == 0 && (l.Keep == nil || !l.Keep(p)):
			continue
		case !ok:
			e = &exposed[L]{labels: l.labels(p), meta: p.Meta}
			l.exposed[p.Key] = e
			l.entrants[p.Key] = e
		case e.meta != p.Meta:
			// A new entry, not a write to this one: the series that the
			// last Record returned point at its labels, and a scrape may
			// be reading them on another goroutine.
			relabelled := *e
			relabelled.labels, relabelled.meta = l.labels(p), p.Meta
			e = &relabelled
			l.exposed[p.Key] = e
		}
		e.gen = l.gen
		l.heads = append(l.heads, e)
		l.shown = append(l.shown, p)
	}
	// An entrant that was in the previous snapshot was counted in other
	// with its total then: that part stays there.
	if len(l.entrants) > 0 && l.prev != nil {
		for i := range l.prev.Processes {
			q := &l.prev.Processes[i]
			if e, ok := l.entrants[q.Key]; ok {
				e.closed, e.closedRes = q.Total, q.Resources.Total
			}
		}
	}
	// A process that left the exposed set goes back to other whole.
	if len(l.exposed) > len(l.shown) {
		for k, e := range l.exposed {
			if e.gen != l.gen {
				delete(l.exposed, k)
			}
		}
	}
	l.prev = s

	series := make([]Series[L], len(l.shown))
	var sum units.Energy
	for i, p := range l.shown {
		e := l.heads[i]
		energy := p.Total - min(e.closed, p.Total)
		sum += energy
		series[i] = Series[L]{Labels: &e.labels, Process: p, Energy: energy}
		for r, t := range p.Resources.Total {
			series[i].Resources[r] = t - min(e.closedRes[r], t)
		}
	}
	var other units.Energy
	if counted := s.Idle.Total + s.Unattributed.Total + sum; s.Host.Total > counted {
		other = s.Host.Total - counted
	}
	return series, other
}
