// Package estimate is the sensor for machines without energy counters:
// virtual machines, cloud instances, anything without RAPL. It turns CPU
// utilisation into power with the model of internal/model (documented in
// docs/estimation.md) and integrates that power over time into cumulative
// energy counters. Every zone it reports is Source Estimated.
//
// It reads, under the procfs root, cpuinfo (CPU model, sockets, threads,
// the hypervisor flag), meminfo (MemTotal) and stat (CPU time), and under
// the sysfs root class/dmi/id/sys_vendor and product_name (virtual
// machine detection) and devices/system/cpu/online; where the kernel
// lets it, it counts last-level-cache misses on every online CPU with
// perf_event_open(2) to drive the memory term by traffic (memtraffic.go),
// else the memory term follows CPU utilisation.
//
// Zones: estimate:cpu (KindPackage), estimate:dram (KindDRAM),
// estimate:platform (power.KindPlatform: board, fans and power supply
// losses), and one zone per disk, estimate:storage:<name>
// (power.KindStorage), and per network interface with hardware behind it,
// estimate:network:<name> (power.KindNetwork). Their sum is the estimated
// power at the wall, and IdlePower is the idle of that same sum, so host
// energy must count all these kinds.
//
// The devices come from <sysfs>/block and <sysfs>/class/net (read once, at
// start) and their activity from <procfs>/diskstats (io_ticks) and
// <procfs>/net/dev (bytes) at every read; their idle and busy power are
// published per-class figures (devices.go). The platform term fitted to
// SPECpower already holds the drives and NICs of the servers it was fitted
// to, so the devices' idle power is taken out of it (down to zero, the
// rest adding), and the validated wall figure of a machine like those
// stays what it was.
package estimate

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	// facts, not machine: the tests name their fake machine so.
	facts "github.com/wattlens/wattlens/internal/machine"
	"github.com/wattlens/wattlens/internal/model"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/perfrapl"
	"github.com/wattlens/wattlens/internal/units"
)

// Name is the sensor's registry name.
const Name = "estimate"

// Zone IDs.
const (
	ZoneCPU      = "estimate:cpu"
	ZoneDRAM     = "estimate:dram"
	ZonePlatform = "estimate:platform"
	// ZoneStoragePrefix and ZoneNetworkPrefix, followed by the device's
	// name, are the IDs of device zones.
	ZoneStoragePrefix = "estimate:storage:"
	ZoneNetworkPrefix = "estimate:network:"
)

// Sensor is the estimate sensor. It is safe for concurrent use.
type Sensor struct {
	stat    *procstat.Reader // for /proc/stat only
	now     func() time.Time
	model   model.Model
	method  string
	cpuZone int // socket of the CPU zone: 0, or -1 when it spans several
	mu      sync.Mutex
	started bool
	prev    procinfo.CPUTimes
	prevAt  time.Time
	util    float64
	energy  [3]float64 // joules: cpu, dram, platform

	facts   facts.Reader
	devices []*device
	carve   float64 // watts of the devices' idle taken out of the platform term
	extra   float64 // watts of the devices' idle beyond it
	log     *slog.Logger
	warned  bool

	traffic *traffic // nil: memory follows CPU utilisation
	memHow  string   // what drives memory's active part, and why
	memFrac float64  // memory's active fraction of the last interval
}

// New builds the sensor from the machine it runs on.
func New(opts sensor.Options) (sensor.Sensor, error) {
	return NewWithClock(opts, time.Now)
}

// NewWithClock is New with the clock injected; now must be monotonic
// (time.Now is).
func NewWithClock(opts sensor.Options, now func() time.Time) (*Sensor, error) {
	return newSensor(opts, now, perfrapl.Kernel{ProcFS: or(opts.ProcFS, "/proc")})
}

// newSensor is NewWithClock with the perf events opened through o.
func newSensor(opts sensor.Options, now func() time.Time, o groupOpener) (*Sensor, error) {
	procfs, sysfs := or(opts.ProcFS, "/proc"), or(opts.SysFS, "/sys")
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("sensor", Name)
	stat := procstat.NewReader(procfs)
	if _, err := stat.CPUTimes(); err != nil {
		return nil, fmt.Errorf("%w: %w", sensor.ErrUnavailable, err)
	}
	m, evidence := describeMachine(procfs, sysfs, log)
	md := model.For(m)
	s := &Sensor{stat: stat, now: now, model: md, cpuZone: 0, facts: facts.New(procfs, sysfs), log: log}
	if !m.VM && m.Sockets > 1 {
		s.cpuZone = -1
	}
	s.devices = findDevices(s.facts, log)
	var idle float64
	for _, d := range s.devices {
		idle += d.power.Idle
	}
	s.carve = min(idle, md.Idle().Platform)
	s.extra = idle - s.carve
	s.traffic, s.memHow = memoryDriver(o, sysfs, md, log)
	s.method = evidence + "; " + md.Method() + "; " + s.memHow +
		fmt.Sprintf("; %.2f W of the devices' idle taken out of the platform term; ", s.carve) + describeDevices(s.devices)
	log.Info("estimate sensor ready", "vm", m.VM, "cpu", md.Match().CPU.Name, "idle_watts", math.Round((md.Idle().Wall+s.extra)*100)/100,
		"devices", len(s.devices))
	log.Debug("estimate method", "method", s.method)
	return s, nil
}

// describeMachine reads what the model needs; what cannot be read is
// logged and left at its zero value (the model then uses its generic row).
func describeMachine(procfs, sysfs string, log *slog.Logger) (model.Machine, string) {
	var m model.Machine
	var ci model.CPUInfo
	rd := facts.New(procfs, sysfs)
	if raw, err := rd.CPUInfo(); err != nil && !isParseError(err) {
		log.Warn("cpuinfo unreadable, using generic CPU figures", "err", err)
	} else {
		if err == nil {
			ci, err = model.CPUInfoOf(raw)
		}
		if err != nil {
			log.Warn("cpuinfo unparsable, using generic CPU figures", "err", err)
		}
	}
	m.CPU, m.Query, m.Sockets, m.Cores, m.Threads = ci.ModelName, ci.Query(), ci.Sockets, ci.Cores, ci.Threads
	total, err := rd.MemTotal()
	switch {
	case err != nil && !isParseError(err):
		log.Warn("meminfo unreadable, memory power left out", "err", err)
	case err != nil:
		log.Warn("meminfo unparsable, memory power left out", "err", err)
	default:
		m.MemoryGB = float64(total) / (1 << 30)
	}
	vm, evidence := facts.IsVM(ci.Hypervisor, rd.DMI())
	m.VM = vm
	return m, evidence
}

func isParseError(err error) bool {
	var pe *facts.ParseError
	return errors.As(err, &pe)
}

// Name implements sensor.Sensor.
func (s *Sensor) Name() string { return Name }

// Read implements sensor.Sensor: it reads /proc/stat, takes the
// utilisation since the previous Read, and adds the model's power at that
// utilisation times the elapsed time to the counters. The first Read only
// starts the interval and returns zero counters.
func (s *Sensor) Read() (power.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.stat.CPUTimes()
	if err != nil {
		return power.Reading{}, err
	}
	now := s.now()
	if s.started {
		if dt := now.Sub(s.prevAt).Seconds(); dt > 0 {
			if u, ok := t.UtilisationSince(s.prev); ok {
				s.util = u // else the last utilisation holds
			}
			s.memFrac = s.util
			if s.traffic != nil {
				if bytes, ok := s.traffic.read(); ok {
					s.memFrac = s.traffic.fraction(bytes, dt)
				} // else no counter answered: CPU utilisation for this interval
			}
			b := s.model.PowerMem(s.util, s.memFrac)
			s.energy[0] += b.CPU * dt
			s.energy[1] += b.Memory * dt
			s.energy[2] += max(b.Platform-s.carve, 0) * dt
		}
	}
	if !s.started && s.traffic != nil {
		s.traffic.read() // start the counts
	}
	s.readDevices(now.Sub(s.prevAt), s.started)
	s.started, s.prev, s.prevAt = true, t, now
	return s.reading(), nil
}

// memoryDriver opens the memory-traffic counters and says what drives
// memory's active part: the traffic where they open, else CPU
// utilisation, with the reason. It never fails.
func memoryDriver(o groupOpener, sysfs string, md model.Model, log *slog.Logger) (*traffic, string) {
	peak, peakHow := md.PeakMemoryBandwidth()
	t, err := openTraffic(o, sysfs, peak)
	if err != nil {
		log.Info("memory traffic not counted, memory power follows CPU utilisation", "err", err)
		return nil, "memory's active part is driven by CPU utilisation (memory-traffic counters do not open: " + err.Error() + ")"
	}
	return t, t.describe(peakHow)
}

// MemoryDriver says what drives memory's active part, and why: the
// memory traffic counted by perf events, or CPU utilisation where they
// cannot be opened.
func (s *Sensor) MemoryDriver() string { return s.memHow }

// Close implements sensor.Closer: it closes the memory-traffic counters.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.traffic == nil {
		return nil
	}
	err := s.traffic.close()
	s.traffic = nil
	return err
}

// findDevices lists the disks and network interfaces to model; what cannot
// be listed is logged and left out.
func findDevices(rd facts.Reader, log *slog.Logger) []*device {
	var out []*device
	disks, err := rd.BlockDevices()
	if err != nil {
		log.Warn("block devices unreadable, storage power left out", "err", err)
	}
	for _, b := range disks {
		d := &device{id: ZoneStoragePrefix + b.Name, kind: "storage", name: b.Name, class: b.Class, power: storageClasses[b.Class]}
		d.dev = power.Device{ID: "storage:" + b.Name, Resource: power.ResourceStorage, FullScale: 1000}
		out = append(out, d)
	}
	nics, err := rd.NetInterfaces()
	if err != nil {
		log.Warn("network interfaces unreadable, network power left out", "err", err)
	}
	for _, n := range nics {
		speed := n.SpeedMbps
		if speed <= 0 {
			speed = defaultLinkMbps
		}
		d := &device{id: ZoneNetworkPrefix + n.Name, kind: "network", name: n.Name, class: n.Class,
			power: netPower(n.Class, n.SpeedMbps)}
		d.dev = power.Device{ID: "network:" + n.Name, Resource: power.ResourceNetwork, FullScale: float64(speed) * 1e6 / 8} // judged against the line rate
		out = append(out, d)
	}
	for _, d := range out {
		d.dev.Name, d.dev.Class = d.name, d.class
		d.dev.Idle, d.dev.Active, d.dev.Source = d.power.Idle, d.power.Active, d.power.Source
	}
	return out
}

// readDevices reads the devices' counters and integrates their power over
// dt (when integrate; the first read only sets the counters). A device
// missing from the counters this time draws its idle power; a counter file
// that cannot be read is logged once and counts as no activity.
func (s *Sensor) readDevices(dt time.Duration, integrate bool) {
	if len(s.devices) == 0 {
		return
	}
	ticks, err1 := s.facts.DiskIOTicks()
	bytes, err2 := s.facts.NetDevBytes()
	if err := errors.Join(err1, err2); err != nil && !s.warned {
		s.warned = true
		s.log.Warn("device counters unreadable, devices counted as idle", "err", err)
	}
	for _, d := range s.devices {
		src := ticks
		if d.kind == "network" {
			src = bytes
		}
		v, ok := src[d.name]
		if integrate && dt > 0 {
			a := 0.0
			if ok {
				a = d.activity(v, dt)
			}
			d.active = a
			d.energy += d.watts(a) * dt.Seconds()
		}
		if ok {
			d.last, d.seen = v, true
		}
	}
}

func (s *Sensor) reading() power.Reading {
	zone := func(id, kind, name string, socket int, joules float64) power.Zone {
		return power.Zone{ID: id, Kind: kind, Socket: socket, Name: name, Energy: units.FromJoules(joules), Source: power.Estimated}
	}
	zones := []power.Zone{
		zone(ZoneCPU, power.KindPackage, "package", s.cpuZone, s.energy[0]),
		zone(ZoneDRAM, power.KindDRAM, "dram", -1, s.energy[1]),
		zone(ZonePlatform, power.KindPlatform, "platform", -1, s.energy[2]),
	}
	for _, d := range s.devices {
		kind := power.KindStorage
		if d.kind == "network" {
			kind = power.KindNetwork
		}
		zones = append(zones, zone(d.id, kind, d.name, -1, d.energy))
	}
	return power.Reading{Zones: zones}
}

// IdlePower implements sensor.IdleModeller: the model's power at zero
// utilisation and the devices' idle, summed over every zone (the wall).
func (s *Sensor) IdlePower() units.Power {
	return units.FromWatts(s.model.Idle().Wall + s.extra)
}

// Method implements sensor.Describer.
func (s *Sensor) Method() string { return s.method }

// Model returns the power model the sensor uses.
func (s *Sensor) Model() model.Model { return s.model }

// Utilisation returns the utilisation of the last interval (0..1).
func (s *Sensor) Utilisation() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.util
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
