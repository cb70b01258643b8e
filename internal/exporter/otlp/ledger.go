package otlp

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// ledger keeps what the export needs across ticks so that every energy sum
// is monotonic while the set of listed processes changes, and so that, at
// every tick, the series of wattlens.consumer.energy add up to the host:
//
//	Σ listed processes + other + unattributed + idle = hw.host.energy
//
// exactly, in microjoules. It is the Prometheus exporter's design ("closed
// into other", docs/exporters.md): a process has a series only while it is in
// the top N. The energy it had when it entered stays in other (it was
// counted there while the process was outside), so its series shows its
// total minus that closed part; when it leaves, its whole total is counted
// in other again. Each term of other only grows, so other is monotonic.
//
// ledger is owned by one goroutine (the sampler's, through Export).
type ledger struct {
	topN       int
	cmdlineMax int
	containers bool

	gen     uint64
	prev    *snapshot.Snapshot
	exposed map[procinfo.Key]*exposedProc
}

type exposedProc struct {
	attrs  attribute.Set
	meta   *procinfo.Meta // what attrs were built from
	closed units.Energy   // the part of its total booked to other before it entered
	gen    uint64
}

// procSeries is one listed process at one tick.
type procSeries struct {
	attrs  *attribute.Set
	energy units.Energy
	power  units.Power
}

func newLedger(topN, cmdlineMax int, containers bool) *ledger {
	return &ledger{topN: topN, cmdlineMax: cmdlineMax, containers: containers, exposed: map[procinfo.Key]*exposedProc{}}
}

// processes records s and returns the listed processes' series and the
// other energy (Total monotonic; Power the interval's).
func (b *ledger) processes(s *snapshot.Snapshot) ([]procSeries, snapshot.Energy) {
	b.gen++
	head, rest, _ := s.TopN(b.topN)
	entrants := map[procinfo.Key]*exposedProc{}
	var shown []*snapshot.Process
	var heads []*exposedProc
	for i := range head {
		p := &head[i]
		e, ok := b.exposed[p.Key]
		switch {
		case !ok && p.Delta == 0:
			// Its series would start at zero and come and go: it stays in
			// other, with no power, so the split still adds up.
			continue
		case !ok:
			e = &exposedProc{attrs: processAttrs(p.Key, p.Meta, b.cmdlineMax, b.containers), meta: p.Meta}
			b.exposed[p.Key] = e
			entrants[p.Key] = e
		case e.meta != p.Meta:
			// Metadata read again after an exec: the same total goes on
			// under the new program's attributes.
			e.attrs, e.meta = processAttrs(p.Key, p.Meta, b.cmdlineMax, b.containers), p.Meta
		}
		e.gen = b.gen
		shown = append(shown, p)
		heads = append(heads, e)
	}
	if len(entrants) > 0 && b.prev != nil {
		for i := range b.prev.Processes {
			q := &b.prev.Processes[i]
			if e, ok := entrants[q.Key]; ok {
				e.closed = q.Total
			}
		}
	}
	for k, e := range b.exposed {
		if e.gen != b.gen {
			delete(b.exposed, k)
		}
	}
	b.prev = s

	series := make([]procSeries, len(shown))
	var sum, restPowerDelta units.Energy
	for i, p := range shown {
		energy := p.Total - min(heads[i].closed, p.Total)
		sum += energy
		series[i] = procSeries{attrs: &heads[i].attrs, energy: energy, power: p.Power}
	}
	// The interval's other: TopN's rest (processes only), plus the top
	// processes that drew nothing and were left out.
	restPowerDelta = rest.Delta
	for i := range head {
		if _, ok := b.exposed[head[i].Key]; !ok {
			restPowerDelta += head[i].Delta
		}
	}
	other := snapshot.Energy{Source: s.Host.Source, Delta: restPowerDelta, Power: units.PowerOf(restPowerDelta, s.Interval)}
	if booked := s.Idle.Total + s.Unattributed.Total + sum; s.Host.Total > booked {
		other.Total = s.Host.Total - booked
	}
	return series, other
}
