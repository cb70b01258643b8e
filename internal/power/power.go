// Package power is the vocabulary of energy measurement that sensors
// produce and the sampler, attribution and exporters read: a Zone (one
// cumulative energy counter, its kind, its range and the power it can
// draw), a Reading (every zone of one read), where a figure comes from
// (Source), and how a device's energy divides among processes (Shares).
// It depends on units only, so that what reads a reading need not import
// the sensors that make it.
package power

import "github.com/wattlens/wattlens/internal/units"

// Source says where a figure comes from.
type Source string

// Sources.
const (
	Measured  Source = "measured"
	Estimated Source = "estimated"
)

// Zone kinds. A zone's kind decides whether it counts towards host energy
// (see attribution.HostEnergy): a KindWall zone when present, else psys,
// else packages + dram (+ platform); gpu zones add unless a zone at the
// wall (Zone.AtWall) holds them.
const (
	KindPackage = "package"
	KindCore    = "core"
	KindUncore  = "uncore"
	KindDRAM    = "dram"
	KindPsys    = "psys"
	KindGPU     = "gpu"
	// KindPlatform is the rest of the machine at the wall (board, fans,
	// drives, power supply losses), as a model estimates it: it adds to
	// packages and DRAM, and is inside psys.
	KindPlatform = "platform"
	// KindWall is a meter at the machine's power input that is not a
	// RAPL domain (a BMC read over Redfish): it holds everything, psys,
	// packages, DRAM and GPUs included, so those become its parts.
	KindWall = "wall"
	// KindStorage is one block device (a disk, an SSD, a virtual disk)
	// and KindNetwork one network interface, as a model estimates them:
	// like platform they add to packages and DRAM on a host without psys
	// or a wall meter, and are inside psys and the wall where those
	// exist. One zone per device ("estimate:storage:nvme0n1",
	// "estimate:network:eth0").
	KindStorage = "storage"
	KindNetwork = "network"
)

// Resource is what a zone's energy is spent on, and so by what measure of
// use it goes to processes (attribution): CPU time for cpu, memory and
// platform, bytes read and written for storage, network bytes for
// network, the device's per-process share for gpu.
type Resource string

// Resources.
const (
	ResourceCPU      Resource = "cpu"      // packages, cores, uncore
	ResourceMemory   Resource = "memory"   // DRAM
	ResourceStorage  Resource = "storage"  // block devices
	ResourceNetwork  Resource = "network"  // network interfaces
	ResourceGPU      Resource = "gpu"      // accelerators
	ResourcePlatform Resource = "platform" // the rest: board, fans, power supply losses
)

// NumResources is the number of resources; Resources lists them in the
// order of their Index.
const NumResources = 6

// Resources lists every resource in the order of Index, the order
// exporters show them in.
var Resources = [NumResources]Resource{ResourceCPU, ResourceMemory, ResourceStorage, ResourceNetwork, ResourceGPU, ResourcePlatform}

// Index is r's position in Resources; platform for an unknown resource.
func (r Resource) Index() int {
	for i, x := range Resources {
		if x == r {
			return i
		}
	}
	return NumResources - 1
}

// ResourceOf returns the resource zones of kind k are spent on. psys and
// a wall meter hold several resources: their energy beyond the zones
// inside them is the platform's.
func ResourceOf(k string) Resource {
	switch k {
	case KindPackage, KindCore, KindUncore:
		return ResourceCPU
	case KindDRAM:
		return ResourceMemory
	case KindStorage:
		return ResourceStorage
	case KindNetwork:
		return ResourceNetwork
	case KindGPU:
		return ResourceGPU
	default: // platform, psys, wall, unknown powercap zones
		return ResourcePlatform
	}
}

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
	// WrapRange, when not 0, is the energy over which the raw hardware
	// counter behind an already unwrapped Energy wraps (a RAPL MSR's 2^32
	// units, with MaxRange 0): the sensor must be read before that much
	// energy has passed. 0 means MaxRange is the range that matters.
	WrapRange units.Energy
	// MaxPower is the most the zone can draw by its hardware limits
	// (powercap's constraint files); 0 when unknown. See PowerBound.
	MaxPower units.Power
	// Source says whether the counter is measured or estimated.
	Source Source
	// Wall is set by a sensor whose zone, of a kind other than KindWall,
	// meters the whole machine at its power input: an ACPI power meter
	// read through hwmon, a psys zone that holds the GPUs too. See AtWall.
	Wall bool
}

// AtWall reports whether z meters the whole machine at its power input (a
// wall meter), so that it holds every other zone, GPUs included: a
// KindWall zone (a BMC's meter), or a zone its sensor marked Wall.
func (z Zone) AtWall() bool {
	return z.Wall || z.Kind == KindWall
}

// Ceilings are the powers no zone of a kind draws, used where the hardware
// gives no limit of its own: they bound how much a counter can advance in
// a given time, which decides both how often counters are read (so that
// none wraps twice unseen) and when a decrease is a reset rather than a
// wrap (a wrap implying more than the ceiling is impossible). They are
// set well above the largest parts sold in 2026 (a 500 W server CPU
// package, 12-channel DDR5 memory, a 1 kW GPU).
var ceilings = map[string]units.Power{
	KindPackage: 1000 * units.Watt,
	KindCore:    1000 * units.Watt,
	KindUncore:  500 * units.Watt,
	KindDRAM:    500 * units.Watt,
	KindPsys:    5000 * units.Watt,
	KindGPU:     2000 * units.Watt,
	// One drive or one network interface; a PCIe card is bounded by its
	// slot's 75 W and auxiliary connectors well below this.
	KindStorage: 500 * units.Watt,
	KindNetwork: 500 * units.Watt,
	// A BMC may meter a whole multi-node chassis or a rack-scale system
	// (an NVL72 rack draws some 120 kW).
	KindWall: 200_000 * units.Watt,
}

// DefaultCeiling is the ceiling of zones of a kind not in the table
// (platform, a wall meter, an unknown powercap zone).
const DefaultCeiling = 10000 * units.Watt

// Ceiling returns the documented ceiling of zones of kind k.
func Ceiling(k string) units.Power {
	if c, ok := ceilings[k]; ok {
		return c
	}
	return DefaultCeiling
}

// PowerBound is the most power z can draw: the ceiling of its kind, or
// its MaxPower when the hardware says it may draw more. A zone's own
// limits never lower the bound: they are writable (an operator can cap a
// package below what it drew a moment ago), and a bound below the true
// draw would take real energy for a reset and discard it.
func (z Zone) PowerBound() units.Power {
	return max(z.MaxPower, Ceiling(z.Kind))
}

// Span is the energy after which z's raw counter wraps: WrapRange when
// set, else MaxRange; 0 when it does not wrap (or the range is unknown).
func (z Zone) Span() units.Energy {
	if z.WrapRange > 0 {
		return z.WrapRange
	}
	return z.MaxRange
}

// Reading is one read of every zone of a sensor.
type Reading struct {
	Zones []Zone
}

// Shares maps a PID to its share of one zone's energy over the interval
// since the previous Read; the shares sum to 1, or the map is empty when
// no process used the device.
type Shares map[int]float64
