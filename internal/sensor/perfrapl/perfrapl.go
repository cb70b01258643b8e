// Package perfrapl is the perf_rapl sensor: the RAPL energy counters of
// the kernel's "power" perf PMU (arch/x86/events/rapl.c), read with
// perf_event_open(2).
//
// It reads, below <sysfs>/bus/event_source/devices/power:
//
//	type                 the PMU's perf_event_attr.type (assigned at boot)
//	cpumask              one CPU per package (or die): where to open each counter
//	format/event         "config:0-7": where an event's code goes in config
//	events/energy-pkg    "event=0x02"; energy-ram, energy-psys, energy-cores, energy-gpu likewise
//	events/energy-*.scale  2.3283064365386962890625e-10 (2^-32 J per count)
//	events/energy-*.unit   Joules
//
// and opens one counter per event on a CPU of the cpumask, once per
// package (psys once, on the first package, as the msr sensor does: it is
// the platform's, not a package's). Events map to the powercap sensor's
// zone kinds: energy-pkg → package, energy-ram → dram, energy-psys → psys,
// energy-cores → core, energy-gpu → uncore (PP1). The kernel keeps each
// count in 64 bits from the 32-bit MSR, so the counters do not wrap.
//
// Unlike powercap's energy_uj (mode 0400 root since Linux 5.10,
// CVE-2020-8694), perf needs no uid 0: CPU-wide events need CAP_PERFMON
// (or perf_event_paranoid ≤ 0). Without it the error says so.
package perfrapl

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

// Name is the sensor's registry name.
const Name = "perf_rapl"

// New returns the perf_rapl sensor. It fails with sensor.ErrUnavailable
// when there is no power PMU, and with sensor.ErrPermission when the
// kernel refuses the counters to this user.
func New(opts sensor.Options) (sensor.Sensor, error) {
	return NewWith(opts, Kernel{ProcFS: opts.ProcFS})
}

// NewWith returns the sensor with its counters opened through o.
func NewWith(opts sensor.Options, o Opener) (*Sensor, error) {
	sysfs := cmp.Or(opts.SysFS, "/sys")
	p, err := readPMU(sysfs)
	if err != nil {
		return nil, fmt.Errorf("perf_rapl: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sensor{pmu: p, log: logger.With("sensor", Name)}
	for _, sk := range p.skipped {
		s.log.Debug("power PMU event not used", "event", sk)
	}
	if err := s.open(sysfs, o); err != nil {
		return nil, errors.Join(fmt.Errorf("perf_rapl: %w", err), s.Close())
	}
	if _, err := s.Read(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Sensor reads the power PMU's counters. Its methods are safe for
// concurrent use.
type Sensor struct {
	pmu *pmu
	log *slog.Logger

	mu       sync.Mutex
	counters []*counter
}

// counter is one open event on one package.
type counter struct {
	c      Counter
	ev     event
	cpu    int
	tmpl   power.Zone
	shift  uint    // µJ = count × 10^6 >> shift, when the scale is 2^-shift J
	factor float64 // µJ per count otherwise
}

// open opens every event on one CPU of each package.
func (s *Sensor) open(sysfs string, o Opener) error {
	type unit struct{ cpu, pkg, die int }
	var units []unit
	dies := map[int]int{} // package → how many cpumask CPUs it has
	for _, cpu := range s.pmu.cpus {
		pkg, die, err := topology(sysfs, cpu)
		if err != nil {
			return err
		}
		units = append(units, unit{cpu, pkg, die})
		dies[pkg]++
	}
	slices.SortStableFunc(units, func(a, b unit) int { return cmp.Or(cmp.Compare(a.pkg, b.pkg), cmp.Compare(a.die, b.die)) })
	var skipped []string
	for i, u := range units {
		for _, ev := range s.pmu.events {
			if ev.platform && i > 0 {
				continue
			}
			c, err := o.Open(s.pmu.typ, ev.config, u.cpu)
			if errors.Is(err, sensor.ErrPermission) {
				return err
			}
			if err != nil {
				s.log.Debug("power PMU event does not open", "event", ev.name, "cpu", u.cpu, "err", err)
				skipped = append(skipped, err.Error())
				continue
			}
			s.counters = append(s.counters, newCounter(c, ev, u.cpu, u.pkg, u.die, dies[u.pkg] > 1))
		}
	}
	if len(s.counters) == 0 {
		return fmt.Errorf("%w: no power PMU event opens: %s", sensor.ErrUnavailable, strings.Join(skipped, "; "))
	}
	return nil
}

func newCounter(c Counter, ev event, cpu, pkg, die int, multiDie bool) *counter {
	name, id := ev.zone, "perf:"+ev.zone
	socket := pkg
	suffix := "-" + strconv.Itoa(pkg)
	if multiDie {
		suffix += "-die-" + strconv.Itoa(die)
	}
	switch {
	case ev.platform:
		socket = -1
	case ev.kind == power.KindPackage:
		name += suffix // powercap's "package-0", "package-0-die-1"
		id += suffix
	default:
		id += suffix // "perf:dram-0"; the name stays powercap's child name
	}
	k := &counter{c: c, ev: ev, cpu: cpu, tmpl: power.Zone{
		ID: id, Kind: ev.kind, Socket: socket, Name: name, Source: power.Measured,
	}}
	if frac, exp := math.Frexp(ev.scale); frac == 0.5 && exp <= 1 && exp > -63 {
		k.shift = uint(1 - exp) // scale = 2^(exp-1)
	} else {
		k.factor = ev.scale * 1e6
	}
	return k
}

// microjoules converts a count to µJ: exactly (rounded down) for rapl.c's
// 2^-32 J, by floating point for any other scale.
func (k *counter) microjoules(count uint64) units.Energy {
	if k.factor == 0 {
		hi, lo := bits.Mul64(count, 1_000_000)
		if k.shift == 0 {
			return units.Energy(lo)
		}
		return units.Energy(hi<<(64-k.shift) | lo>>k.shift)
	}
	return units.Energy(float64(count) * k.factor)
}

// Name implements sensor.Sensor.
func (s *Sensor) Name() string { return Name }

// Read implements sensor.Sensor: every counter, one after the other.
// The counts start at 0 when the sensor opens them and never wrap.
func (s *Sensor) Read() (power.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	zones := make([]power.Zone, 0, len(s.counters))
	for _, k := range s.counters {
		v, err := k.c.Read()
		if err != nil {
			return power.Reading{}, fmt.Errorf("perf_rapl %s: %w", k.tmpl.ID, err)
		}
		z := k.tmpl
		z.Energy = k.microjoules(v)
		zones = append(zones, z)
	}
	return power.Reading{Zones: zones}, nil
}

// Method implements sensor.Describer.
func (s *Sensor) Method() string {
	var evs, cpus []string
	for _, k := range s.counters {
		if !slices.Contains(evs, k.ev.name) {
			evs = append(evs, k.ev.name)
		}
		if c := strconv.Itoa(k.cpu); !slices.Contains(cpus, c) {
			cpus = append(cpus, c)
		}
	}
	return fmt.Sprintf("perf_event_open of the power PMU (type %d): %s on CPU %s", s.pmu.typ, strings.Join(evs, ", "), strings.Join(cpus, ", "))
}

// Close implements sensor.Closer: it closes every counter.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, k := range s.counters {
		errs = append(errs, k.c.Close())
	}
	s.counters = nil
	return errors.Join(errs...)
}
