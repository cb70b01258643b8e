// Package sensor declares what a power source gives the sampler: cumulative
// energy counters, read together, each saying where its figure comes from.
// One package per source lives below this one (powercap, estimate, …); the
// registry table in registry.go names them.
package sensor

import (
	"errors"
	"log/slog"

	"github.com/wattlens/wattlens/internal/units"
)

// Source says where a figure comes from.
type Source string

// Sources.
const (
	Measured  Source = "measured"
	Estimated Source = "estimated"
)

// Zone kinds. A zone's kind decides whether it counts towards host energy
// (see attribution.HostEnergy): psys when present, else packages + dram;
// gpu zones always add.
const (
	KindPackage = "package"
	KindCore    = "core"
	KindUncore  = "uncore"
	KindDRAM    = "dram"
	KindPsys    = "psys"
	KindGPU     = "gpu"
)

// Zone is one cumulative energy counter at the moment it was read.
type Zone struct {
	// ID is stable for the life of the zone and unique within a reading,
	// e.g. "intel-rapl:0:1" or "estimate:cpu". Deltas pair zones by ID.
	ID string
	// Kind is one of the Kind* constants.
	Kind string
	// Socket is the package index the zone belongs to, -1 when none.
	Socket int
	// Name is the zone's own name where it has one ("package-0", "dram").
	Name string
	// Energy is the raw counter value.
	Energy units.Energy
	// MaxRange is the value at which Energy wraps to zero; 0 when unknown.
	MaxRange units.Energy
	// Source says whether the counter is measured or estimated.
	Source Source
}

// Reading is one read of every zone of a sensor.
type Reading struct {
	Zones []Zone
}

// Sensor is a power source.
type Sensor interface {
	// Name is the registry name ("powercap_rapl", "estimate", …).
	Name() string
	// Read returns every zone's counter. An error means the sensor is
	// down for this tick (zones vanished, unreadable, …); the sampler
	// keeps the last good reading and reports the sensor down, and a
	// later successful Read recovers.
	Read() (Reading, error)
}

// IdleModeller is implemented by sensors that know the machine's idle power
// from a model (the estimate sensor). Attribution uses it as the idle
// baseline unless --idle-power overrides it.
type IdleModeller interface {
	IdlePower() units.Power
}

// Describer is implemented by sensors that can say in one line how they
// get their figures (the estimate sensor's model, for instance); exporters
// show it next to estimated figures.
type Describer interface {
	Method() string
}

// Shares maps a PID to its share of one zone's energy over the interval
// since the previous Read; the shares sum to 1, or the map is empty when
// no process used the device.
type Shares map[int]float64

// ProcessSharer is implemented by sensors that know which processes used
// a device (the gpu sensor): ProcessShares returns, per zone ID, how the
// zone's energy between the last two Reads divides among processes.
// Attribution splits such a zone's active energy by these shares instead
// of by CPU time. Zones absent from the map are split by CPU time.
type ProcessSharer interface {
	ProcessShares() map[string]Shares
}

// Closer is implemented by sensors that hold resources.
type Closer interface {
	Close() error
}

// ErrUnavailable marks a sensor that cannot work on this machine at all
// (no powercap directory, no zones). Constructors wrap it with the reason.
var ErrUnavailable = errors.New("sensor unavailable")

// ErrPermission marks a sensor whose counters exist but cannot be read by
// this user (energy_uj is root-only since Linux 5.10, CVE-2020-8694).
var ErrPermission = errors.New("permission denied")

// Options is what every sensor constructor receives. Roots are injected so
// tests can point sensors at fixture trees.
type Options struct {
	SysFS  string // default "/sys"
	ProcFS string // default "/proc"
	DevFS  string // default "/dev"
	// VMPath is the guest's share written by the host's qemu exporter
	// (default "/var/wattlens"), used by the vm sensor.
	VMPath string
	Logger *slog.Logger
}
