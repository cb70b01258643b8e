package otlp

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// ledger lists the top N processes so that, at every tick, the series of
// wattlens.consumer.energy add up to the host:
//
//	Σ listed processes + other + unattributed + idle = hw.host.energy
//
// exactly, in microjoules, and each is monotonic: the exporter.Ledger
// ("closed into other", docs/exporters.md), as the Prometheus exporter
// keeps it, with OpenTelemetry attributes for labels.
//
// ledger is owned by one goroutine (the sampler's, through Export).
type ledger struct {
	topN  int
	procs *exporter.Ledger[attribute.Set]
}

// procSeries is one listed process at one tick.
type procSeries struct {
	attrs  *attribute.Set
	energy units.Energy
	power  units.Power
	// res is energy by resource (adding up to energy), resDelta the
	// interval's.
	res, resDelta snapshot.ResourceEnergy
}

func newLedger(topN, cmdlineMax int, containers bool) *ledger {
	return &ledger{topN: topN, procs: exporter.NewLedger(func(p *snapshot.Process) attribute.Set {
		return processAttrs(p.Key, p.Meta, cmdlineMax, containers)
	})}
}

// processes records s and returns the listed processes' series and the
// other energy (Total monotonic; Delta and Power the interval's: TopN's
// rest, the processes only).
//
// The other energy comes split by resource too: per resource, what the
// host holds beyond idle, unattributed and the listed series, for Total;
// the rest of the top N for Delta.
func (b *ledger) processes(s *snapshot.Snapshot) ([]procSeries, snapshot.Energy, snapshot.Resources) {
	head, rest, _ := s.TopN(b.topN)
	listed, otherTotal := b.procs.Record(s, head)
	series := make([]procSeries, len(listed))
	hr := s.Resources
	var otherRes snapshot.Resources
	for r := range otherRes.Total {
		otherRes.Total[r] = hr.Host.Total[r] - min(hr.Host.Total[r], hr.Idle.Total[r]+hr.Unattributed.Total[r])
	}
	for i, l := range listed {
		series[i] = procSeries{attrs: l.Labels, energy: l.Energy, power: l.Process.Power, res: l.Resources, resDelta: l.Process.Resources.Delta}
		for r, e := range l.Resources {
			otherRes.Total[r] -= min(e, otherRes.Total[r])
		}
	}
	otherRes.Delta = exporter.RestResources(s, head).Delta
	// The top processes left out drew nothing over the step: the rest's
	// delta is the interval's other.
	other := snapshot.Energy{Source: s.Host.Source, Total: otherTotal, Delta: rest.Delta, Power: units.PowerOf(rest.Delta, s.Interval)}
	return series, other, otherRes
}
