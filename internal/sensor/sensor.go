// Package sensor declares what a power source is to the sampler: a Sensor
// whose Read gives a power.Reading (cumulative energy counters, read
// together, each saying where its figure comes from), and the optional
// abilities a source may have. One package per source lives below this
// one (powercap, estimate, …); the registry package names them.
package sensor

import (
	"errors"
	"log/slog"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/units"
)

// Sensor is a power source.
type Sensor interface {
	// Name is the registry name ("powercap_rapl", "estimate", …).
	Name() string
	// Read returns every zone's counter. An error means the sensor is
	// down for this tick (zones vanished, unreadable, …); the sampler
	// keeps the last good reading and reports the sensor down, and a
	// later successful Read recovers.
	Read() (power.Reading, error)
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

// ProcessSharer is implemented by sensors that know which processes used
// a device (the gpu sensor): ProcessShares returns, per zone ID, how the
// zone's energy between the last two Reads divides among processes.
// Attribution splits such a zone's active energy by these shares instead
// of by CPU time. Zones absent from the map are split by CPU time.
type ProcessSharer interface {
	ProcessShares() map[string]power.Shares
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

// ErrNoReadingYet marks a sensor that is set up but has not had its first
// figure (a BMC that has not answered yet). Combined with others it adds
// no zone until it has one, and the others keep measuring; alone, the
// sampler reports it down with the reason.
var ErrNoReadingYet = errors.New("no reading yet")

// Options is what every sensor constructor receives. Roots are injected so
// tests can point sensors at fixture trees.
type Options struct {
	SysFS  string // default "/sys"
	ProcFS string // default "/proc"
	DevFS  string // default "/dev"
	// VMPath is the guest's share written by the host's qemu exporter
	// (default "/var/wattlens"), used by the vm sensor.
	VMPath string
	// Redfish configures the redfish sensor (the server's BMC).
	Redfish RedfishOptions
	Logger  *slog.Logger
}
