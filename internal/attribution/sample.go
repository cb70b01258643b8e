package attribution

import (
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
)

// Sample is everything the sampler read at one tick, stamped with one time.
type Sample struct {
	// Time is when the reads were made (with its monotonic reading).
	Time time.Time
	// BootTicks is the same instant in USER_HZ ticks since boot
	// (CLOCK_BOOTTIME), the clock of a process's start time; 0 when
	// unknown. It lets a process born during the interval count all its
	// CPU time, not only what it used after it was first seen.
	BootTicks uint64
	Zones     []power.Zone
	// Shares, per zone ID, divide a device's energy among processes by
	// their use of it (GPU utilisation) instead of by CPU time.
	Shares map[string]power.Shares
	Procs  []procinfo.Proc
	// NetNS is the network bytes (received plus transmitted) of each
	// network namespace, by inode (procinfo.Proc.NetNS), since its
	// interfaces came up; nil when not read. Read only: the reader reuses
	// the map.
	NetNS map[uint64]uint64
	CPU   procinfo.CPUTimes
	// Activity is the devices' activity counters (Options.Platform's
	// devices), nil when not read. Read only: the reader reuses the map.
	Activity power.Activity
	// Wraps and Resets count, since the sampler started, the counter
	// wraps and resets it unwrapped before handing the zones over (see
	// sampler's tracker); they add to those attribution sees itself.
	Wraps, Resets int
	// Disturbed marks an interval that spans a sensor outage or a
	// counter reset: its power says nothing about idle, so it does not
	// feed idle learning.
	Disturbed bool
	// ProcStats and ReadDuration describe the read itself.
	ProcStats    procinfo.Stats
	ReadDuration time.Duration
}
