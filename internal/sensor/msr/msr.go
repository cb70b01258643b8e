// Package msr is the msr_rapl sensor: RAPL energy status registers read
// directly from <devfs>/cpu/<n>/msr, for machines where the powercap tree
// is missing (old kernels, AMD before Linux 5.11, kernels built without
// intel_rapl).
//
// One CPU per physical package is read. Intel: package (0x611), dram
// (0x619), core/PP0 (0x639), uncore/PP1 (0x641), and psys (0x64D, once, on
// the first package). AMD and Hygon: package (0xC001029B). AMD's per-core
// register 0xC001029A is not read: it is one core's energy, not a socket
// figure, and a core zone built from it would need every core read each
// tick. A register that fails to read or reads zero at start-up is absent
// on this CPU (Linux's rapl_check_domain rule) and dropped.
//
// The registers are 32-bit and wrap (every few minutes at high power with
// 15.3 µJ units). The sensor unwraps them itself with counter.Delta into a
// 64-bit count of raw units, and reports that count converted to µJ with
// MaxRange 0: an already unwrapped counter. Reporting the raw value with
// MaxRange 2^32 × unit instead would be inexact, since the unit (1/2^ESU J)
// is not a whole number of microjoules. The sensor must be read at least
// once per wrap period (2^32 × unit / maximum power, ≈ 5 min for 15.3 µJ
// at 200 W); a longer gap loses whole wraps undetected.
package msr

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
)

// Name is the sensor's registry name.
const Name = "msr_rapl"

// New returns the msr_rapl sensor. It fails with sensor.ErrUnavailable
// when there is no <devfs>/cpu/*/msr (the msr module is not loaded), the
// CPU vendor has no known RAPL registers, or no register can be read; and
// with sensor.ErrPermission when the device files cannot be opened (root
// with CAP_SYS_RAWIO is needed).
func New(opts sensor.Options) (sensor.Sensor, error) {
	devfs := cmp.Or(opts.DevFS, "/dev")
	cpus, err := msrCPUs(devfs)
	if err != nil {
		return nil, err
	}
	id, err := readCPUInfo(cmp.Or(opts.ProcFS, "/proc"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sensor.ErrUnavailable, err)
	}
	pkgs, err := packageCPUs(cmp.Or(opts.SysFS, "/sys"), cpus)
	if err != nil {
		return nil, err
	}
	r := newDevReader(devfs)
	s, err := newSensor(r, id, pkgs, opts.Logger)
	if err != nil {
		return nil, errors.Join(err, r.Close())
	}
	s.closer = r
	s.where = devfs + "/cpu/*/msr"
	return s, nil
}

// domain is one register on one CPU and its running total.
type domain struct {
	id, kind, name string
	socket         int
	cpu            int
	reg            uint32
	unit           energyUnit

	last  uint64 // last raw 32-bit reading
	total uint64 // raw units accumulated since start, unwrapped
}

type msrSensor struct {
	r       RegisterReader
	closer  io.Closer // the device files; nil for a fake reader
	where   string
	vendor  string
	domains []*domain

	mu sync.Mutex
}

// newSensor discovers the domains of every package through r. pkgs maps
// package index → the CPU to read it on.
func newSensor(r RegisterReader, id cpuID, pkgs map[int]int, logger *slog.Logger) (*msrSensor, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("sensor", Name)
	spec, ok := vendorByID(id.vendor)
	if !ok {
		return nil, fmt.Errorf("%w: no known RAPL registers for CPU vendor %q", sensor.ErrUnavailable, id.vendor)
	}
	q := spec.quirkFor(id.family, id.model)
	s := &msrSensor{r: r, vendor: spec.name}
	first := true
	for _, pkg := range slices.Sorted(maps.Keys(pkgs)) {
		cpu := pkgs[pkg]
		v, err := r.ReadMSR(cpu, spec.unitReg)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return nil, permissionError(err)
			}
			log.Debug("rapl unit register unreadable", "cpu", cpu, "package", pkg, "err", err)
			continue
		}
		esu := unitFromPowerUnitReg(v)
		for _, ds := range spec.domains {
			if ds.platform && !first {
				continue
			}
			d, err := probe(r, ds, pkg, cpu, q.unitFor(ds.kind, esu))
			if err != nil {
				if errors.Is(err, fs.ErrPermission) {
					return nil, permissionError(err)
				}
				log.Debug("rapl register absent", "cpu", cpu, "package", pkg, "reg", fmt.Sprintf("%#x", ds.reg), "err", err)
				continue
			}
			s.domains = append(s.domains, d)
		}
		first = false
	}
	if len(s.domains) == 0 {
		return nil, fmt.Errorf("%w: no readable RAPL energy register (%s CPU family %d model %#x)",
			sensor.ErrUnavailable, spec.name, id.family, id.model)
	}
	return s, nil
}

var errZero = errors.New("register reads zero")

// probe reads a register once; it fails when the register is absent.
func probe(r RegisterReader, ds domainSpec, pkg, cpu int, u energyUnit) (*domain, error) {
	v, err := r.ReadMSR(cpu, ds.reg)
	if err != nil {
		return nil, err
	}
	raw := v & counterMask
	if raw == 0 {
		return nil, errZero
	}
	d := &domain{
		id:     fmt.Sprintf("msr:%s-%d", ds.name, pkg),
		kind:   ds.kind,
		name:   ds.name, // powercap's child zone names: dram, core, uncore
		socket: pkg,
		cpu:    cpu,
		reg:    ds.reg,
		unit:   u,
		last:   raw,
		total:  raw,
	}
	switch {
	case ds.platform:
		d.id, d.socket = "msr:"+ds.name, -1
	case ds.kind == power.KindPackage:
		d.name = fmt.Sprintf("%s-%d", ds.name, pkg)
	}
	return d, nil
}

func permissionError(err error) error {
	return fmt.Errorf("%w: %w: reading RAPL MSRs needs root with CAP_SYS_RAWIO", sensor.ErrPermission, err)
}

// Name implements sensor.Sensor.
func (s *msrSensor) Name() string { return Name }

// Read implements sensor.Sensor: it reads every register, unwraps each
// 32-bit value against the last one, and reports the running totals in µJ
// with MaxRange 0.
func (s *msrSensor) Read() (power.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	zones := make([]power.Zone, 0, len(s.domains))
	for _, d := range s.domains {
		v, err := s.r.ReadMSR(d.cpu, d.reg)
		if err != nil {
			return power.Reading{}, fmt.Errorf("msr_rapl %s: %w", d.id, err)
		}
		cur := v & counterMask
		delta, _ := counter.Delta(d.last, cur, counterRange)
		d.last = cur
		d.total += delta
		zones = append(zones, power.Zone{
			ID:     d.id,
			Kind:   d.kind,
			Socket: d.socket,
			Name:   d.name,
			Energy: d.unit.microjoules(d.total),
			// The register wraps every 2^32 units: the sampler reads
			// often enough that it cannot wrap twice between reads.
			WrapRange: d.unit.microjoules(counterRange),
			Source:    power.Measured,
		})
	}
	return power.Reading{Zones: zones}, nil
}

// Method implements sensor.Describer.
func (s *msrSensor) Method() string {
	var units []string
	for _, d := range s.domains {
		u := d.unit.String()
		if !slices.Contains(units, u) {
			units = append(units, u)
		}
	}
	where := cmp.Or(s.where, "MSRs")
	return fmt.Sprintf("%s RAPL registers via %s (energy unit %s)", s.vendor, where, strings.Join(units, ", "))
}

// Close implements sensor.Closer: it closes the device files.
func (s *msrSensor) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}
