// Package vmshare is the contract between the two sides of wattlens's VM
// support: the host's qemu exporter (internal/exporter/qemu), which writes
// one share per guest, and the guest's vm sensor (internal/sensor/vm),
// which reads it. It holds the share's file names, the schema of
// wattlens.json (Meta) and the rule that turns a counter epoch into a
// zone ID, so both sides read them from one place. It imports nothing of
// the project.
//
// The share of one VM, below the host's --qemu.dir and mounted in the
// guest at --vm.path:
//
//	<vm>/intel-rapl:0/name                 "package-0"
//	<vm>/intel-rapl:0/energy_uj            the VM's energy in µJ, cumulative, wrapping at
//	<vm>/intel-rapl:0/max_energy_range_uj  this value
//	<vm>/wattlens.json                     Meta: a heartbeat and where the figures come from
//
// The first three have the shape of a Linux powercap zone
// (Documentation/power/powercap/powercap.rst), so a guest reads them with
// any powercap reader (Scaphandre's --vm mode pointed at the share, say).
// wattlens --vm checks that shape, then takes the counter, its range and
// its epoch from wattlens.json, where they are written together (Meta).
package vmshare

import (
	"encoding/json"
	"strconv"
)

// The names in a share.
const (
	// ZoneDir is the zone's directory in the share, and the zone ID of
	// epoch 0.
	ZoneDir      = "intel-rapl:0"
	NameFile     = "name"
	EnergyFile   = "energy_uj"
	MaxRangeFile = "max_energy_range_uj"
	// MetaFile is the heartbeat file, next to ZoneDir.
	MetaFile = "wattlens.json"

	// ZoneName is the content of the name file: one package, socket 0.
	ZoneName = "package-0"
)

// DefaultMaxRange is the value energy_uj wraps at unless told otherwise,
// in µJ: the max_energy_range_uj of a real RAPL package zone with an
// energy status unit of 2^-14 J (2^32 × 61.035 µJ), so guests exercise
// their wrap handling as on bare metal (it wraps after about 44 minutes
// at 100 W).
const DefaultMaxRange uint64 = 262143328850

// MaxRangeLimit is the largest max_energy_range_uj a host writes, in µJ:
// 2^63-1 (about 290 years at 1 kW), so energy_uj fits the signed 64-bit
// integers some readers parse it into.
const MaxRangeLimit uint64 = 1<<63 - 1

// MetaVersion is the version of the Meta format. Version 2 added
// CounterEpoch.
const MetaVersion = 2

// Meta is the content of wattlens.json, rewritten (atomically) after
// energy_uj at every tick. A guest detects a stale share by watching Seq:
// it changes at every write, so a Seq that has not changed for a few
// StepSeconds of the guest's own clock means the host stopped writing
// (guest and host clocks need not agree). Stopped is set when the host's
// exporter shuts down cleanly.
//
// EnergyUJ, MaxRangeUJ and CounterEpoch are written together in this one
// file, so a reader that takes them from here (the vm sensor does) never
// pairs a counter with the range or epoch of another series, whatever the
// order in which it sees the files, or its caches keep them.
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
	// CounterEpoch names one continuous series of energy_uj: the host's
	// wall-clock time, in Unix nanoseconds, when the series started (never
	// 0 for a series started by a version-2 exporter). Within one epoch,
	// energy_uj only moves forward, wrapping at MaxRangeUJ; a new epoch
	// starts whenever the exporter cannot carry on the counter it finds in
	// the share (a new share, a share it cannot read, a changed range), so
	// a reader that sees the epoch change must take a new baseline rather
	// than read a backwards move as a wrap (see EpochZoneID). 0 (or
	// absent, from a version-1 exporter) is the series written before
	// epochs were recorded, which an exporter carrying it on keeps.
	CounterEpoch uint64 `json:"counter_epoch"`
	// Source is "measured" or "estimated": how the host got its figures,
	// so an estimated host marks its guests' figures estimated too.
	Source string `json:"source"`
	// Sensor is the host's sensor set ("powercap_rapl", …).
	Sensor  string `json:"sensor"`
	Stopped bool   `json:"stopped,omitempty"`
}

// ParseMeta parses the content of wattlens.json. hasEnergy is false when
// the file holds no energy_uj (a share another tool wrote): the counter is
// then to be read from the zone's files.
func ParseMeta(b []byte) (m Meta, hasEnergy bool, err error) {
	var v struct {
		Meta
		// EnergyUJ, shallower than Meta's, takes energy_uj, so that its
		// absence can be told from 0.
		EnergyUJ *uint64 `json:"energy_uj"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v.Meta, false, err
	}
	if v.EnergyUJ != nil {
		v.Meta.EnergyUJ = *v.EnergyUJ
	}
	return v.Meta, v.EnergyUJ != nil, nil
}

// EpochZoneID returns the zone ID under which a guest reports the counter
// of epoch read from the zone id: id for epoch 0, else id@epoch. A new
// epoch is then a new zone to attribution, which takes a new baseline,
// rather than read the counter's restart as a wrap and book the guest a
// whole range of energy it never used.
func EpochZoneID(id string, epoch uint64) string {
	if epoch == 0 {
		return id
	}
	return id + "@" + strconv.FormatUint(epoch, 10)
}
