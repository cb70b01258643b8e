package power

// Device is one storage device or network interface whose activity a
// reader counts on a host that measures its power (a wall meter), with the
// published figures that are the prior of what its activity costs. The
// device activity reader (estimate.Activity) lists them once, at start.
type Device struct {
	// ID names the device in an Activity and in the learned
	// coefficients: "storage:<name>" or "network:<name>".
	ID       string
	Resource Resource // ResourceStorage or ResourceNetwork
	Name     string   // "nvme0n1", "eth0"
	Class    string   // the device class (machine.Storage*, machine.Net*)
	// FullScale is how far the device's counter advances in one second
	// when it is busy all the time: 1000 for io_ticks (milliseconds), the
	// link's bytes per second for a network interface. Activity over an
	// interval is Δcounter / (FullScale·Δt), at most 1.
	FullScale float64
	// Idle and Active are the published power of the device class, idle
	// and busy all the time, in watts; Source says where they come from.
	Idle, Active float64
	Source       string
}

// ActiveFraction is the share of dtSec seconds the device was busy, from
// its counter's advance delta over them: delta / (FullScale·dtSec), at most
// 1; 0 when the interval or the full scale is not positive.
func (d Device) ActiveFraction(delta uint64, dtSec float64) float64 {
	if d.FullScale <= 0 || dtSec <= 0 {
		return 0
	}
	return min(float64(delta)/(d.FullScale*dtSec), 1)
}

// Activity holds, by Device.ID, each device's cumulative counter at one
// read: io_ticks in milliseconds for a disk (/proc/diskstats), received
// plus transmitted bytes for an interface (/proc/net/dev). A device
// missing from it was not read this time.
type Activity map[string]uint64
