package estimate

import (
	"fmt"
	"strings"
	"time"

	facts "github.com/wattlens/wattlens/internal/machine"
	"github.com/wattlens/wattlens/internal/power"
)

// devicePower is a device class's power at the wall side of the device:
// Idle when it does nothing, Active when it is busy all the time. Power in
// between is linear in the active fraction. Every figure is published;
// Source says where (docs/estimation.md, "Storage and network").
type devicePower struct {
	Idle, Active float64 // watts
	Source       string
}

// storageClasses are the per-class figures of block devices.
var storageClasses = map[string]devicePower{
	// Seagate Constellation ES.2 SAS Product Manual, Rev. G, table 3
	// (2 TB, 3.5", 7 200 rpm): average idle 0.46 A at 5 V + 0.39 A at
	// 12 V = 6.98 W; typical random-read operating current 0.50 A at 5 V +
	// 0.69 A at 12 V = 10.78 W.
	facts.StorageHDD: {Idle: 6.98, Active: 10.78, Source: "Seagate Constellation ES.2 SAS product manual rev. G, table 3 (3.5\" 7200 rpm, 2 TB)"},
	// Intel SSD DC S4500 Series Product Specification, "Power":
	// Active/Idle up to 5.6 W / 1.1 W (typ.).
	facts.StorageSSD: {Idle: 1.1, Active: 5.6, Source: "Intel SSD DC S4500 product specification (SATA, active/idle 5.6/1.1 W typ.)"},
	// Intel SSD DC P3600 Series Product Specification, "Power":
	// Active/Idle up to 25 W / 4 W (typ.).
	facts.StorageNVMe: {Idle: 4, Active: 25, Source: "Intel SSD DC P3600 product specification (NVMe, active/idle 25/4 W typ.)"},
	// No published figure exists for a cloud volume: its backend (a
	// storage array or a distributed store) serves many volumes, and its
	// idle belongs to none of them. A virtual disk gets no idle power and,
	// when busy, the active increment of the SATA SSD row (5.6 − 1.1 W),
	// the host-side device class most cloud volumes are built on. An
	// assumption, said so in Method().
	facts.StorageVirtual: {Idle: 0, Active: 4.5, Source: "no published figure for a cloud volume: no idle, the SATA SSD row's active increment (assumption)"},
}

// Network port power by link speed, measured at the wall with the link up
// and no traffic: the port's operating power.
//   - ≤ 1 Gb/s: 3.4 W, a Gigabit Ethernet adapter plugged in, measured by
//     van der Ham and van Beijnum, "Ethernet energy efficiency" (muada.com,
//     2014-03-03); it includes a Thunderbolt bridge, so it is an upper
//     bound for a port on a server board.
//   - ≤ 10 Gb/s, or speed unknown: 5 W, an Intel X520 10 GbE NIC with its
//     cable, 37 W against 32 W without the card (jungle-it.blogspot.com,
//     2023-09, Kill-A-Watt at the wall).
//   - faster: 10 W, a Mellanox ConnectX-4 25 GbE NIC with its cable, 42 W
//     against 32 W (same measurement).
//
// An idle port draws half its operating power: Intel's I210 adapter brief
// ("Power Management Technologies") gives Energy Efficient Ethernet's
// low-power idle as about 50 % of normal operating power. A port that
// does not negotiate EEE idles nearer its operating power (Sohan et al.,
// "Characterizing 10 Gbps network interface energy consumption", Cambridge
// UCAM-CL-TR-784, 2010, found NIC power nearly flat with throughput), so
// the active term is an upper bound and the idle one a lower bound.
func netPower(class string, speedMbps int) devicePower {
	port, src := 5.0, "Intel X520 10 GbE measured at the wall (jungle-it, 2023)"
	switch {
	case speedMbps > 0 && speedMbps <= 1000:
		port, src = 3.4, "Gigabit Ethernet adapter measured at the wall (muada.com, 2014)"
	case speedMbps > 10000:
		port, src = 10, "Mellanox ConnectX-4 25 GbE measured at the wall (jungle-it, 2023)"
	}
	src += "; idle = 50 % of it (Intel I210 brief, EEE low-power idle)"
	if class == facts.NetVirtual {
		// The host's NIC is shared by its guests: a virtual NIC is given
		// no idle, and the port's active increment when busy.
		return devicePower{Idle: 0, Active: port / 2, Source: "virtual NIC: no idle; active increment of " + src}
	}
	return devicePower{Idle: port / 2, Active: port, Source: src}
}

// defaultLinkMbps is the line rate a link of unknown speed is judged by
// (a virtio NIC reports -1): 10 Gb/s, the speed class its power comes from.
const defaultLinkMbps = 10000

// device is one storage device or network interface the sensor models.
type device struct {
	id, kind, name, class string
	power                 devicePower
	dev                   power.Device
	last                  uint64  // io_ticks (ms) or rx+tx bytes at the previous read
	seen                  bool    // last is set
	active                float64 // the active fraction of the last interval, 0..1
	energy                float64 // joules
}

// activity is the active fraction over dt of a device whose counter went
// from d.last to now: io_ticks milliseconds over the interval's, or bytes
// over what the link could carry (power.Device.ActiveFraction, the same
// measure attribution's platform fit uses on a measured host). A counter
// that went back (a device re-plugged, an interface re-created) starts
// again.
func (d *device) activity(now uint64, dt time.Duration) float64 {
	if !d.seen || now < d.last {
		return 0
	}
	return d.dev.ActiveFraction(now-d.last, dt.Seconds())
}

// watts is the device's power at active fraction a.
func (d *device) watts(a float64) float64 {
	return d.power.Idle + (d.power.Active-d.power.Idle)*a
}

// describeDevices is the Method() clause for the devices.
func describeDevices(devs []*device) string {
	if len(devs) == 0 {
		return "storage and network: no device found"
	}
	parts := make([]string, 0, len(devs))
	for _, d := range devs {
		parts = append(parts, fmt.Sprintf("%s %s (%s): %.2f W idle, %.2f W busy [%s]", d.kind, d.name, d.class, d.power.Idle, d.power.Active, d.power.Source))
	}
	return "storage activity = Δio_ticks/Δt (/proc/diskstats), network activity = Δ(rx+tx bytes)·8/(link speed·Δt) (/proc/net/dev); " +
		strings.Join(parts, "; ")
}
