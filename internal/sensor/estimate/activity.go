package estimate

import (
	"errors"
	"log/slog"

	facts "github.com/wattlens/wattlens/internal/machine"
	"github.com/wattlens/wattlens/internal/model"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
)

// Activity reads, on a host whose power is measured, what the estimate
// sensor reads to estimate it: the disks' and network interfaces'
// activity counters (<procfs>/diskstats io_ticks, <procfs>/net/dev bytes)
// and, once, the devices and the model's figures that are the prior of a
// wall meter's remainder (attribution's platform fit). It makes no zone:
// the meter gives the energy, the activity says what it was spent on. The
// sampler reads it beside the sensor at every tick. It is not safe for
// concurrent use (the sampler owns it).
type Activity struct {
	facts   facts.Reader
	devices []power.Device
	model   model.Model
	out     power.Activity
	log     *slog.Logger
	warned  bool
}

// NewActivity lists the devices under <sysfs>/block and <sysfs>/class/net
// (as the estimate sensor does) and describes the machine for the model's
// figures; what cannot be read is logged and left out (no devices: the
// fit has its CPU term only, from the sampler's CPU times).
func NewActivity(opts sensor.Options) *Activity {
	procfs, sysfs := or(opts.ProcFS, "/proc"), or(opts.SysFS, "/sys")
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "activity")
	m, _ := describeMachine(procfs, sysfs, log)
	a := &Activity{facts: facts.New(procfs, sysfs), model: model.For(m), log: log, out: power.Activity{}}
	for _, d := range findDevices(a.facts, log) {
		a.devices = append(a.devices, d.dev)
	}
	return a
}

// Devices returns the devices whose activity Read counts.
func (a *Activity) Devices() []power.Device { return a.devices }

// PlatformPrior returns the model's figures for this machine, in watts:
// the platform's (board, fans, power supply; no CPU, no DRAM) power at
// idle and its rise from idle to full CPU load, and the same for the whole
// machine at the wall (docs/estimation.md). They are a prior only: a wall
// meter's remainder is fitted to them (attribution.Platform).
func (a *Activity) PlatformPrior() (idle, cpu, wallIdle, wallCPU float64) {
	i, f := a.model.Idle(), a.model.Power(1)
	return i.Platform, max(f.Platform-i.Platform, 0), i.Wall, max(f.Wall-i.Wall, 0)
}

// Read returns each device's counter by Device.ID. The map is reused by
// the next Read. A counter file that cannot be read is logged once and
// its devices are left out (no activity known for the interval).
func (a *Activity) Read() (power.Activity, error) {
	clear(a.out)
	if len(a.devices) == 0 {
		return a.out, nil
	}
	ticks, err1 := a.facts.DiskIOTicks()
	bytes, err2 := a.facts.NetDevBytes()
	err := errors.Join(err1, err2)
	if err != nil && !a.warned {
		a.warned = true
		a.log.Warn("device counters unreadable, their activity left out", "err", err)
	}
	for _, d := range a.devices {
		src := ticks
		if d.Resource == power.ResourceNetwork {
			src = bytes
		}
		if v, ok := src[d.Name]; ok {
			a.out[d.ID] = v
		}
	}
	return a.out, err
}
