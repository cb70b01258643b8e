package qemu

import (
	"strconv"

	"github.com/wattlens/wattlens/internal/units"
)

// The share of one VM, below --qemu.dir:
//
//	<vm>/intel-rapl:0/name                 "package-0"
//	<vm>/intel-rapl:0/energy_uj            the VM's energy in µJ, cumulative, wrapping at
//	<vm>/intel-rapl:0/max_energy_range_uj  this value
//	<vm>/wattlens.json                     Meta: a heartbeat and where the figures come from
//
// The first three have the shape of a Linux powercap zone
// (Documentation/power/powercap/powercap.rst), so a guest reads them with
// the powercap reader (wattlens --vm, or Scaphandre's --vm mode pointed at
// the share).
const (
	ZoneDir      = "intel-rapl:0"
	NameFile     = "name"
	EnergyFile   = "energy_uj"
	MaxRangeFile = "max_energy_range_uj"
	MetaFile     = "wattlens.json"

	// ZoneName is the content of the name file: one package, socket 0.
	ZoneName = "package-0"
)

// DefaultMaxRange is the value energy_uj wraps at unless told otherwise:
// the max_energy_range_uj of a real RAPL package zone with an energy
// status unit of 2^-14 J (2^32 × 61.035 µJ), so guests exercise their wrap
// handling as on bare metal (it wraps after about 44 minutes at 100 W).
const DefaultMaxRange units.Energy = 262143328850

// MetaVersion is the version of the Meta format.
const MetaVersion = 1

// Meta is the content of wattlens.json, rewritten (atomically) after
// energy_uj at every tick. A guest detects a stale share by watching Seq:
// it changes at every write, so a Seq that has not changed for a few
// StepSeconds of the guest's own clock means the host stopped writing
// (guest and host clocks need not agree). Stopped is set when the host's
// exporter shuts down cleanly.
//
// The host's own power is deliberately not written: a guest would learn
// from it how busy the other tenants of its host are.
type Meta struct {
	Version int    `json:"version"`
	VM      string `json:"vm"`
	Seq     uint64 `json:"seq"`
	// UnixNano is the host's wall-clock time of the tick the figures
	// cover the end of.
	UnixNano int64 `json:"unix_nano"`
	// StepSeconds is how often the host writes.
	StepSeconds float64 `json:"step_seconds"`
	// IntervalSeconds, PowerWatts and EnergyUJ are the last interval's
	// length, the VM's average power over it and the counter written to
	// energy_uj.
	IntervalSeconds float64 `json:"interval_seconds"`
	PowerWatts      float64 `json:"power_watts"`
	EnergyUJ        uint64  `json:"energy_uj"`
	MaxRangeUJ      uint64  `json:"max_energy_range_uj"`
	// Source is "measured" or "estimated": how the host got its figures,
	// so an estimated host marks its guests' figures estimated too.
	Source string `json:"source"`
	// Sensor is the host's sensor set ("powercap_rapl", …).
	Sensor  string `json:"sensor"`
	Stopped bool   `json:"stopped,omitempty"`
}

// advance returns counter moved forward by delta, wrapping at max the way
// counter.Delta unwraps it: counter.Delta(old, new, max) == delta for any
// delta up to max.
func advance(old, delta, max units.Energy) units.Energy {
	if max == 0 {
		return old + delta
	}
	old %= max + 1
	delta %= max // more than a whole range in one tick cannot be told apart
	if delta > max-old {
		return old + delta - max
	}
	return old + delta
}

func formatUJ(e units.Energy) []byte {
	return strconv.AppendUint(nil, uint64(e), 10)
}
