// Package counter holds the one place where the delta of a cumulative
// hardware energy counter is computed: wraparound at a known range, and
// resets, are decided here and nowhere else.
package counter

// Kind says what happened between two readings of a counter.
type Kind int

const (
	// Normal: the counter moved forward (or stayed put).
	Normal Kind = iota
	// Wrapped: the counter passed its range and started again from zero.
	Wrapped
	// Reset: the counter went backwards with no known range, or read
	// beyond its range; the interval's delta is unknown and taken as the
	// new reading's distance from zero only when that is safe (see Delta).
	Reset
)

// Delta returns the amount a counter advanced from prev to cur.
//
// max is the counter's range: the value at which it wraps back to zero
// (powercap's max_energy_range_uj, or 2^32 × unit for a RAPL MSR). The
// kernel documents max_energy_range_uj as the range of energy_uj, so a
// counter wraps from max to 0: after a wrap the advance is
// (max - prev) + cur (+1 for the step from max to 0 is below a
// microjoule's resolution and ignored, as every other tool does).
//
// A counter that goes backwards with max == 0 (range unknown) is a reset:
// Delta returns 0 and Reset, never a negative or huge value. A reading
// above max is also treated as a reset: the range is wrong, so no
// arithmetic on it can be trusted.
func Delta(prev, cur, max uint64) (uint64, Kind) {
	if max != 0 && (cur > max || prev > max) {
		return 0, Reset
	}
	if cur >= prev {
		return cur - prev, Normal
	}
	if max == 0 {
		return 0, Reset
	}
	return (max - prev) + cur, Wrapped
}

// BoundedDelta is Delta with a plausibility bound: bound is the most a
// counter can advance over the time since prev was read (its maximum power
// × the elapsed time; see Bound). An advance beyond it — a decrease that
// would be a wrap implying an impossible power, or a jump forward no
// hardware can make — is a reset: 0 and Reset, so that no impossible
// energy is ever booked. bound 0 means no bound (Delta).
func BoundedDelta(prev, cur, max, bound uint64) (uint64, Kind) {
	d, kind := Delta(prev, cur, max)
	if bound != 0 && d > bound {
		return 0, Reset
	}
	return d, kind
}
