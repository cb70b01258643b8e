package sampler

import (
	"log/slog"
	"time"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/units"
)

// MinPoll is the shortest period at which counters are read between
// ticks. A zone whose counter could wrap in less than twice that (a tiny
// range, a huge power bound) is read at MinPoll and the sampler says once
// that it cannot keep up.
const MinPoll = 10 * time.Millisecond

// changeSlack is added to twice the time since a counter last moved when
// bounding how far it can have advanced: RAPL counters are updated about
// every millisecond, not continuously.
const changeSlack = 100 * time.Millisecond

// tracker unwraps every counter of the sensor between ticks, so that
// attribution receives counters that only move forward. It is fed each
// reading — those of ticks and those of polls in between — and keeps, per
// zone, the last raw value and a running total.
//
// A counter may wrap at most once between two reads: the sampler reads
// at least every period() (half the shortest time in which any zone could
// pass its whole range at its power bound), whatever the step. A decrease
// is a wrap when the energy it implies fits the zone's power bound over
// the time since the counter last moved (×2, plus changeSlack, so that a
// counter updated in chunks is not mistaken); otherwise it is a reset and
// nothing is booked for that read. A jump forward beyond the bound is a
// reset too: no impossible energy reaches the books.
type tracker struct {
	log    *slog.Logger
	zones  map[string]*track
	seen   map[string]bool
	wraps  int
	resets int
	// disturbed is set by a reset and cleared by the tick that reports it.
	disturbed bool
	every     time.Duration // period() of the last reading
}

type track struct {
	raw     uint64
	total   units.Energy // unwrapped, starts at the first raw value
	changed time.Time    // when raw last moved (or was first read)
}

func newTracker(log *slog.Logger) *tracker {
	return &tracker{log: log, zones: map[string]*track{}, seen: map[string]bool{}}
}

// observe feeds the reading taken at now and replaces, in zones, each
// counter by its unwrapped total (MaxRange 0). Zones not in the reading
// are forgotten.
func (t *tracker) observe(now time.Time, zones []power.Zone) {
	clear(t.seen)
	every := time.Duration(0)
	for i := range zones {
		z := &zones[i]
		t.seen[z.ID] = true
		raw, span := uint64(z.Energy), z.Span()
		tr, ok := t.zones[z.ID]
		if !ok {
			tr = &track{raw: raw, total: z.Energy, changed: now}
			t.zones[z.ID] = tr
		} else {
			t.advance(tr, z, raw, now)
		}
		if p := readEvery(*z, span); p > 0 && (every == 0 || p < every) {
			every = p
		}
		z.Energy, z.MaxRange = tr.total, 0
	}
	for id := range t.zones {
		if !t.seen[id] {
			delete(t.zones, id)
		}
	}
	t.every = every
}

func (t *tracker) advance(tr *track, z *power.Zone, raw uint64, now time.Time) {
	since := now.Sub(tr.changed)
	bound := z.PowerBound().EnergyOver(2*since + changeSlack)
	d, kind := counter.BoundedDelta(tr.raw, raw, uint64(z.MaxRange), uint64(bound))
	switch kind {
	case counter.Wrapped:
		t.wraps++
	case counter.Reset:
		t.resets++
		t.disturbed = true
		t.log.Warn("energy counter went backwards or jumped beyond what the zone can draw: taken as a reset, nothing booked for this read",
			"zone", z.ID, "previous_uj", tr.raw, "current_uj", raw, "range_uj", uint64(z.MaxRange),
			"since_change", since.Round(time.Millisecond), "bound_watts", z.PowerBound().Watts())
	}
	if raw != tr.raw {
		tr.changed = now
	}
	tr.raw = raw
	tr.total += units.Energy(d)
}

// readEvery is how often a zone with the given span must be read so that
// it cannot wrap twice unseen: half the time it takes to pass the span at
// its power bound; 0 when it never wraps.
func readEvery(z power.Zone, span units.Energy) time.Duration {
	if span == 0 {
		return 0
	}
	bound := z.PowerBound()
	if bound == 0 {
		return 0
	}
	full := time.Duration(float64(span) / float64(bound) * float64(time.Second))
	return full / 2
}
