package qemu

import (
	"strconv"

	"github.com/wattlens/wattlens/internal/units"
	"github.com/wattlens/wattlens/internal/vmshare"
)

// DefaultMaxRange is the value energy_uj wraps at unless told otherwise
// (vmshare.DefaultMaxRange).
const DefaultMaxRange = units.Energy(vmshare.DefaultMaxRange)

// MaxRangeLimit is the largest max_energy_range_uj New accepts
// (vmshare.MaxRangeLimit).
const MaxRangeLimit = units.Energy(vmshare.MaxRangeLimit)

// advance returns counter moved forward by delta, wrapping at max the way
// counter.Delta unwraps it: counter.Delta(old, new, max) == delta for any
// delta up to max.
func advance(old, delta, max units.Energy) units.Energy {
	if max == 0 {
		return old + delta
	}
	if old > max { // never, from the exporter; max+1 cannot overflow here
		old %= max + 1
	}
	delta %= max // more than a whole range in one tick cannot be told apart
	if delta > max-old {
		return delta - (max - old) // old + delta - max, without overflow
	}
	return old + delta
}

func formatUJ(e units.Energy) []byte {
	return strconv.AppendUint(nil, uint64(e), 10)
}
