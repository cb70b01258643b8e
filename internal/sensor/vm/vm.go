// Package vm is the guest side of wattlens's VM support: the sensor that
// `wattlens --vm` uses inside a qemu/KVM guest whose host runs the wattlens
// qemu exporter.
//
// The host writes, for this guest, a powercap-shaped tree (the share,
// whose names and wattlens.json schema internal/vmshare defines) into a directory shared into the guest over
// virtiofs or 9p and mounted at --vm.path (default /var/wattlens):
//
//	intel-rapl:0/name                 package-0
//	intel-rapl:0/energy_uj            the VM's energy, µJ, cumulative
//	intel-rapl:0/max_energy_range_uj  where energy_uj wraps
//	wattlens.json                     heartbeat, host step and source
//
// The share is opened with the powercap reader (powercap.NewAt), which
// checks its shape. The counter is then taken from wattlens.json, where
// the host writes energy_uj, max_energy_range_uj and counter_epoch
// together in one atomically replaced file: read from the separate files,
// a counter could be paired with the range or epoch of another series
// (the host writes them one after the other, and virtiofs may cache each
// for a while). A share without wattlens.json (another tool's) is read
// from intel-rapl:0's files. The zone is one package: every guest CPU
// belongs to it; wraps are unwrapped by attribution as on bare metal.
// The VM's energy is all its own (the host booked its idle power already),
// so the sensor models an idle power of zero, and the guest's processes
// share all of it by CPU time.
//
// The counter epoch names one continuous series of the host's counter: a
// new one starts when the host cannot carry its counter on (see
// vmshare.Meta.CounterEpoch), and the counter then restarts lower. The
// epoch is part of the zone ID, "intel-rapl:0@<epoch>" ("intel-rapl:0" for
// epoch 0, the series of a host that records none; vmshare.EpochZoneID), so attribution sees a new
// zone and takes a new baseline, rather than read the drop as a wrap and
// book the guest a whole range of energy it never used.
//
// The heartbeat's seq changes at every host write. When it has not changed
// for 3 host steps (at least 5 s) of the guest's own clock, the share is
// stale (the host agent stopped, or no longer sees this VM) and Read
// fails, so the guest reports wattlens_sensor_up 0 rather than 0 W.
package vm

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wattlens/wattlens/internal/fdio"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/powercap"
	"github.com/wattlens/wattlens/internal/units"
	"github.com/wattlens/wattlens/internal/vmshare"
)

// Name is the sensor's registry name.
const Name = "vm"

// DefaultPath is where the guest mounts its share unless told otherwise.
const DefaultPath = "/var/wattlens"

// Staleness thresholds: a share is stale when its heartbeat has not
// changed for StaleSteps host steps, never less than MinStale; without a
// heartbeat giving the step, DefaultStale.
const (
	StaleSteps   = 3
	MinStale     = 5 * time.Second
	DefaultStale = 30 * time.Second
	// startSkew is how far the guest's wall clock may be from the host's
	// before a share found old at start-up is taken as stale at once.
	startSkew = time.Minute
)

// mountHelp is said when the share is missing.
const mountHelp = "mount the directory that the host's `wattlens qemu` writes for this VM " +
	"(<qemu.dir>/<vm name>) there, read-only: `mount -t virtiofs wattlens " + DefaultPath + "` " +
	"or `mount -t 9p -o trans=virtio,version=9p2000.L,ro wattlens " + DefaultPath + "`, " +
	"or give its mount point with --vm.path; see docs/vm.md"

// meta is what the sensor read of wattlens.json: the heartbeat, and
// whether it holds the counter (hasEnergy is false in a share another
// tool wrote: the counter is then read from the zone's files).
type meta struct {
	vmshare.Meta
	hasEnergy bool
}

// Option adjusts a Sensor.
type Option func(*Sensor)

// WithClock replaces the clock the staleness check uses (tests).
func WithClock(now func() time.Time) Option { return func(s *Sensor) { s.now = now } }

// Sensor reads a guest's share. Its methods are safe for concurrent use.
type Sensor struct {
	path string
	pc   *powercap.Sensor
	log  *slog.Logger
	now  func() time.Time

	mu         sync.Mutex
	hasMeta    bool
	last       meta
	lastChange time.Time // guest clock when last.Seq was first seen
	source     power.Source
	// epoch is the counter epoch of the last heartbeat read.
	epoch uint64
	// reopen is set when the powercap reader must be opened again before
	// it is next used (its max_energy_range_uj may be another series'):
	// after a failed read, and when the epoch changes.
	reopen bool
}

// New returns the vm sensor reading opts.VMPath (default DefaultPath).
func New(opts sensor.Options) (sensor.Sensor, error) {
	path := opts.VMPath
	if path == "" {
		path = DefaultPath
	}
	s, err := NewAt(path, opts.Logger)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// NewAt returns a sensor reading the share mounted at path.
//
// A missing share, or one without intel-rapl:0, is an error wrapping
// sensor.ErrUnavailable that says how to mount it. A share whose
// energy_uj cannot be read wraps sensor.ErrPermission.
func NewAt(path string, logger *slog.Logger, opts ...Option) (*Sensor, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sensor{path: path, log: logger.With("sensor", Name), now: time.Now, source: power.Measured}
	for _, o := range opts {
		o(s)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("vm: %w: no share at %s: %s", sensor.ErrUnavailable, path, mountHelp)
	case err != nil:
		return nil, fmt.Errorf("vm: share at %s: %w", path, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("vm: %w: %s is not a directory: %s", sensor.ErrUnavailable, path, mountHelp)
	}
	pc, err := powercap.NewAt(path, logger)
	switch {
	case errors.Is(err, sensor.ErrPermission):
		return nil, fmt.Errorf("vm: %w", err)
	case errors.Is(err, sensor.ErrUnavailable):
		return nil, fmt.Errorf("vm: %w: %s holds no intel-rapl:0 zone: the share is not mounted there "+
			"(an empty mount point), or the host has not seen this VM yet: %s", sensor.ErrUnavailable, path, mountHelp)
	case err != nil:
		return nil, fmt.Errorf("vm: share at %s: %w", path, err)
	}
	s.pc = pc
	m, err := s.readMeta()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.log.Warn("share has no heartbeat file: a stale share cannot be told from an idle VM "+
			"(the host runs an older wattlens, or another tool writes the share)", "path", filepath.Join(path, vmshare.MetaFile))
	case err != nil:
		return nil, fmt.Errorf("vm: share at %s: %w", path, err)
	default:
		s.observe(m, true)
		s.epoch = m.CounterEpoch
	}
	return s, nil
}

// Name implements sensor.Sensor.
func (s *Sensor) Name() string { return Name }

// Read returns the VM's energy counter as one package zone, socket 0,
// marked with the host's source, under an ID that names the counter's
// epoch (EpochZoneID). It fails while the share is stale or the host has
// stopped writing it.
func (s *Sensor) Read() (power.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.read()
	if err != nil {
		s.reopen = true
		return power.Reading{}, err
	}
	for i := range r.Zones {
		r.Zones[i].Source = s.source
	}
	return r, nil
}

func (s *Sensor) read() (power.Reading, error) {
	m, ok, err := s.checkFresh()
	if err != nil {
		return power.Reading{}, err
	}
	if ok && m.CounterEpoch != s.epoch {
		s.log.Info("the host's counter started a new epoch: taking a new baseline",
			"path", s.path, "counter_epoch", m.CounterEpoch, "was", s.epoch)
		s.epoch = m.CounterEpoch
		s.reopen = true
	}
	if ok && m.hasEnergy {
		e := m.EnergyUJ
		if m.MaxRangeUJ != 0 && e > m.MaxRangeUJ {
			return power.Reading{}, fmt.Errorf("vm: share at %s: %s: energy_uj %d is beyond max_energy_range_uj %d",
				s.path, vmshare.MetaFile, e, m.MaxRangeUJ)
		}
		return power.Reading{Zones: []power.Zone{{
			ID: vmshare.EpochZoneID(vmshare.ZoneDir, s.epoch), Kind: power.KindPackage, Socket: 0, Name: vmshare.ZoneName,
			Energy: units.Energy(e), MaxRange: units.Energy(m.MaxRangeUJ), MaxPower: shareMaxPower,
		}}}, nil
	}
	// No counter in the heartbeat: the zone's files.
	if s.reopen {
		pc, err := powercap.NewAt(s.path, s.log)
		if err != nil {
			return power.Reading{}, fmt.Errorf("vm: share at %s: %w", s.path, err)
		}
		s.pc, s.reopen = pc, false
	}
	r, err := s.pc.Read()
	if err != nil {
		return power.Reading{}, fmt.Errorf("vm: share at %s: %w", s.path, err)
	}
	for i := range r.Zones {
		r.Zones[i].ID = vmshare.EpochZoneID(r.Zones[i].ID, s.epoch)
		r.Zones[i].MaxPower = shareMaxPower
	}
	return r, nil
}

// shareMaxPower bounds the power of a VM's share: no more than its host
// draws, and no host draws more than power.DefaultCeiling. A share's
// counter moves in steps of the host's interval, so the bound of its kind
// (a package) is not a bound for it.
const shareMaxPower = power.DefaultCeiling

// IdlePower implements sensor.IdleModeller: zero, because the host booked
// its idle power itself and what it writes for this VM is all the VM's.
func (s *Sensor) IdlePower() units.Power { return 0 }

// Method implements sensor.Describer.
func (s *Sensor) Method() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := "share written by the host's wattlens qemu exporter at " + s.path
	if s.hasMeta && s.last.Sensor != "" {
		m += fmt.Sprintf(" (host sensor %s, %s)", s.last.Sensor, s.source)
	}
	return m
}

// checkFresh reads the heartbeat and fails when the share is stale. ok is
// false for a share that never had a heartbeat.
func (s *Sensor) checkFresh() (m meta, ok bool, err error) {
	m, err = s.readMeta()
	switch {
	case errors.Is(err, fs.ErrNotExist) && !s.hasMeta:
		return m, false, nil // never had one: nothing to check by
	case err != nil:
		return m, false, fmt.Errorf("vm: share at %s: heartbeat: %w", s.path, err)
	}
	s.observe(m, false)
	if m.Stopped {
		return m, false, fmt.Errorf("vm: the host's wattlens stopped writing the share at %s", s.path)
	}
	limit := s.staleAfter()
	if age := s.now().Sub(s.lastChange); age > limit {
		return m, false, fmt.Errorf("vm: share at %s is stale: not updated for %s (more than %s): "+
			"the host's wattlens qemu exporter is not running, or no longer sees this VM",
			s.path, age.Round(time.Second), limit)
	}
	return m, true, nil
}

// observe records a heartbeat. At start-up, a heartbeat whose host time is
// far older than the guest's clock (more than the staleness limit plus a
// minute of clock skew) counts as already stale until it changes.
func (s *Sensor) observe(m meta, start bool) {
	now := s.now()
	if start || !s.hasMeta || m.Seq != s.last.Seq {
		s.lastChange = now
		if start {
			host := time.Unix(0, m.UnixNano)
			if age := now.Sub(host); m.UnixNano > 0 && age > s.staleAfterFor(m)+startSkew {
				s.lastChange = now.Add(-s.staleAfterFor(m) - time.Nanosecond)
			}
		}
	}
	s.hasMeta = true
	s.last = m
	switch power.Source(m.Source) {
	case power.Estimated:
		s.source = power.Estimated
	default:
		s.source = power.Measured
	}
}

func (s *Sensor) staleAfter() time.Duration { return s.staleAfterFor(s.last) }

func (s *Sensor) staleAfterFor(m meta) time.Duration {
	if !(m.StepSeconds > 0) || m.StepSeconds > 3600 {
		return DefaultStale
	}
	return max(time.Duration(StaleSteps*m.StepSeconds*float64(time.Second)), MinStale)
}

// readMeta reads and parses wattlens.json.
func (s *Sensor) readMeta() (meta, error) {
	b, err := readSmall(filepath.Join(s.path, vmshare.MetaFile))
	if err != nil {
		return meta{}, err
	}
	m, hasEnergy, err := vmshare.ParseMeta(b)
	if err != nil {
		return meta{}, fmt.Errorf("%s: %w", vmshare.MetaFile, err)
	}
	return meta{Meta: m, hasEnergy: hasEnergy}, nil
}

// readSmall reads at most 64 KiB of a regular file; a FIFO or socket in
// the share is refused at once rather than waited on (fdio.Open).
func readSmall(path string) ([]byte, error) {
	return fdio.ReadFile(path, 64*1024)
}
