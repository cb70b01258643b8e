package hwmon

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wattlens/wattlens/internal/power"
)

// channel is one energy or power attribute of a hwmon device
// (Documentation/hwmon/sysfs-interface.rst).
type channel struct {
	typ   string // "energy" or "power"
	index int    // N of energyN_* / powerN_*
	file  string // the value file: energyN_input, powerN_input or powerN_average
	label string // contents of <typ>N_label, "" when absent
}

// zoneSpec is what a driver says a channel measures.
type zoneSpec struct {
	kind   string // power.Kind*
	socket int
	name   string
	wall   bool // the channel meters the whole machine (power.Zone.Wall)
}

// driver knows the meaning of one family of hwmon drivers' channels.
// classify returns ok == false for a channel that must not become a zone.
type driver struct {
	names    []string // the device's "name" attribute
	classify func(channel) (zoneSpec, bool)
}

// drivers is the ordered list of drivers whose channels the sensor trusts.
// A device whose name is not listed is skipped: an unknown power rail may
// overlap anything (a PSU, a VRM, a GPU, a sub-rail of the package), so it
// could not be added into host energy safely.
var drivers = []driver{
	{
		// amd_energy (drivers/hwmon/amd_energy.c, out of tree since Linux
		// 5.13) and its fork zenergy: energyN_input in µJ, accumulated to
		// 64 bits by the driver, labelled Ecore000… (one per core) and
		// Esocket0… (one per socket).
		names:    []string{"amd_energy", "zenergy"},
		classify: classifyAMDEnergy,
	},
	{
		// ACPI power meter (drivers/hwmon/acpi_power_meter.c,
		// Documentation/hwmon/acpi_power_meter.rst): power1_average in µW,
		// averaged by the firmware/BMC over power1_average_interval ms,
		// measured at the system's power input. It is the whole platform:
		// KindPsys, so attribution counts it instead of, never on top of,
		// packages and DRAM; and it is at the wall (power.Zone.Wall), so
		// it holds the GPUs too.
		names:    []string{"power_meter"},
		classify: classifyPowerMeter,
	},
}

func driverFor(name string) (driver, bool) {
	for _, d := range drivers {
		for _, n := range d.names {
			if n == name {
				return d, true
			}
		}
	}
	return driver{}, false
}

// classifyAMDEnergy keeps the socket counters. Per-core counters are not
// zones: they are contained in their socket's counter, and one zone per
// core (hundreds on a server) would all carry the same kind and socket
// labels.
func classifyAMDEnergy(ch channel) (zoneSpec, bool) {
	if ch.typ != "energy" {
		return zoneSpec{}, false
	}
	n, ok := strings.CutPrefix(ch.label, "Esocket")
	if !ok {
		return zoneSpec{}, false
	}
	socket, err := strconv.Atoi(n)
	if err != nil || socket < 0 {
		return zoneSpec{}, false
	}
	return zoneSpec{kind: power.KindPackage, socket: socket, name: fmt.Sprintf("package-%d", socket)}, true
}

func classifyPowerMeter(ch channel) (zoneSpec, bool) {
	if ch.typ != "power" {
		return zoneSpec{}, false
	}
	name := "power_meter"
	if ch.index != 1 {
		name = fmt.Sprintf("power_meter-%d", ch.index)
	}
	return zoneSpec{kind: power.KindPsys, socket: -1, name: name, wall: true}, true
}
