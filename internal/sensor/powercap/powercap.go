// Package powercap is the powercap_rapl sensor: the RAPL energy counters
// that the Linux powercap framework exposes for Intel and AMD processors.
//
// It reads, below <sysfs>/class/powercap (or any directory of the same
// shape, see NewAt):
//
//	intel-rapl:N/name                         package-N or psys
//	intel-rapl:N/energy_uj                    cumulative energy, µJ
//	intel-rapl:N/max_energy_range_uj         the value energy_uj wraps at
//	intel-rapl:N:M/{name,energy_uj,max_energy_range_uj}   core, uncore, dram
//
// as defined by the kernel's Documentation/power/powercap/powercap.rst and
// Documentation/ABI/testing/sysfs-class-powercap. Subzones are found both as
// the flat symlinks the kernel puts in /sys/class/powercap and as
// directories nested in their parent zone; a zone seen both ways counts
// once. The intel-rapl-mmio control type duplicates package-0 and is
// ignored. Since Linux 5.10 (CVE-2020-8694) energy_uj is readable by root
// only; that case is reported as sensor.ErrPermission with the fix.
//
// The package does not use procfs/sysfs.GetRaplZones: it neither walks
// nested subzones nor drops the mmio duplicate, gives no zone IDs or
// parents, and reads from a fixed sysfs mount point, whereas the vm sensor
// reads a powercap-shaped tree at an arbitrary directory.
package powercap

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

// Name is the sensor's registry name.
const Name = "powercap_rapl"

// ZoneInfo describes one discovered zone, for the info command.
type ZoneInfo struct {
	ID     string // zone directory name, "intel-rapl:0:2"
	Kind   string // power.Kind* constant, or the zone's name when unknown
	Socket int    // package index, -1 when none
	Name   string // contents of the name file
	// Path is the zone's directory with symlinks resolved; energy_uj is
	// read from Path/energy_uj.
	Path string
	// MaxRange is max_energy_range_uj, read at discovery; 0 when absent.
	MaxRange units.Energy
}

// readFunc reads the file at path into buf and returns the byte count.
// Tests swap it to play an unprivileged user.
type readFunc func(path string, buf []byte) (int, error)

// Sensor reads the energy counters of every RAPL zone under one root.
// Its methods are safe for concurrent use.
type Sensor struct {
	root     string
	logger   *slog.Logger
	readFile readFunc

	mu    sync.Mutex
	zones []zone
	down  bool
	buf   [64]byte // energy_uj holds at most 20 digits and a newline
}

// zone is a discovered zone: what Read reports, less the energy, and where
// the energy is.
type zone struct {
	tmpl       power.Zone
	dir        string
	energyPath string
}

// New returns the powercap_rapl sensor reading <opts.SysFS>/class/powercap.
func New(opts sensor.Options) (sensor.Sensor, error) {
	sysfs := opts.SysFS
	if sysfs == "" {
		sysfs = "/sys"
	}
	s, err := NewAt(filepath.Join(sysfs, "class", "powercap"), opts.Logger)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// NewAt returns a sensor reading the powercap-shaped tree at root: the
// directory that holds intel-rapl:0 and its siblings. A tree with only
// intel-rapl:0/{name,energy_uj,max_energy_range_uj} (the one a wattlens
// host writes for its guests) is enough.
//
// Errors wrap sensor.ErrUnavailable when there is no tree or no RAPL zone
// in it, and sensor.ErrPermission when energy_uj cannot be read by this
// user.
func NewAt(root string, logger *slog.Logger) (*Sensor, error) {
	return newAt(root, logger, readInto)
}

func newAt(root string, logger *slog.Logger, readFile readFunc) (*Sensor, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sensor{root: root, logger: logger.With("sensor", Name), readFile: readFile}
	zones, err := s.discover()
	if err != nil {
		return nil, err
	}
	s.zones = zones
	if _, err := s.read(); err != nil {
		return nil, err
	}
	s.logger.Debug("powercap zones discovered", "root", root, "zones", len(zones))
	return s, nil
}

// Name implements sensor.Sensor.
func (s *Sensor) Name() string { return Name }

// Read returns the energy_uj of every zone. energy_uj is re-opened on each
// read rather than kept open: the trees a wattlens host writes for its
// guests (and the test fixtures) replace it by rename, and a kept
// descriptor would read the old file for ever.
//
// When a zone vanishes or cannot be read, Read fails and the sensor is
// down; each later Read discovers the zones again (re-reading
// max_energy_range_uj) and recovers once every zone known before is back
// and readable; zones that appeared meanwhile are picked up then. A
// healthy sensor does not look for new zones.
func (s *Sensor) Read() (power.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		zones, err := s.rediscover()
		if err != nil {
			return power.Reading{}, err
		}
		s.zones = zones
	}
	r, err := s.read()
	if err != nil {
		s.down = true
		return power.Reading{}, err
	}
	if s.down {
		s.down = false
		s.logger.Info("sensor recovered", "zones", len(s.zones))
	}
	return r, nil
}

// Zones returns the zones found at the last discovery.
func (s *Sensor) Zones() []ZoneInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	infos := make([]ZoneInfo, len(s.zones))
	for i, z := range s.zones {
		infos[i] = ZoneInfo{
			ID:       z.tmpl.ID,
			Kind:     z.tmpl.Kind,
			Socket:   z.tmpl.Socket,
			Name:     z.tmpl.Name,
			Path:     z.dir,
			MaxRange: z.tmpl.MaxRange,
		}
	}
	return infos
}

// read reads every zone's counter once.
func (s *Sensor) read() (power.Reading, error) {
	out := make([]power.Zone, len(s.zones))
	for i, z := range s.zones {
		e, err := s.readEnergy(z)
		if err != nil {
			return power.Reading{}, zoneError(z, err)
		}
		out[i] = z.tmpl
		out[i].Energy = units.Energy(e)
	}
	return power.Reading{Zones: out}, nil
}

func (s *Sensor) readEnergy(z zone) (uint64, error) {
	n, err := s.readFile(z.energyPath, s.buf[:])
	if err != nil {
		return 0, err
	}
	if n == len(s.buf) {
		return 0, fmt.Errorf("%s: longer than %d bytes", z.energyPath, len(s.buf)-1)
	}
	e, err := parseMicrojoules(s.buf[:n])
	if err != nil {
		return 0, fmt.Errorf("%s: %w", z.energyPath, err)
	}
	if max := uint64(z.tmpl.MaxRange); max != 0 && e > max {
		return 0, fmt.Errorf("%s: %d is beyond max_energy_range_uj %d", z.energyPath, e, max)
	}
	return e, nil
}

// rediscover finds the zones again after a failed read and checks that
// every zone known before is there.
func (s *Sensor) rediscover() ([]zone, error) {
	zones, err := s.discover()
	if err != nil {
		return nil, fmt.Errorf("sensor down: %w", err)
	}
	found := make(map[string]bool, len(zones))
	for _, z := range zones {
		found[z.tmpl.ID] = true
	}
	for _, z := range s.zones {
		if !found[z.tmpl.ID] {
			return nil, fmt.Errorf("powercap: sensor down: zone %s (%s) has not come back", z.tmpl.ID, z.dir)
		}
	}
	return zones, nil
}

// permissionHelp is the fix for root-only energy_uj, said once at
// start-up: the one docs/deploy.md gives (a powercap group, mode 0440),
// never world-readable counters.
const permissionHelp = "energy_uj is readable only by root since Linux 5.10 (CVE-2020-8694, PLATYPUS): " +
	"run wattlens as root, or give a group read access and run wattlens in it: " +
	"'groupadd --system powercap', then install deploy/systemd/wattlens-powercap.conf in /etc/tmpfiles.d/ " +
	"(it sets energy_uj to mode 0440, owner root, group powercap, at every boot) and add wattlens's user to the powercap group; " +
	"see docs/deploy.md. Do not make the files world-readable (0444): that reopens the power side channel the restriction closed"

// zoneError wraps a failure to read zone z, turning a permission error into
// sensor.ErrPermission with the fix.
func zoneError(z zone, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("powercap: zone %s: cannot read %s: %w: %s", z.tmpl.ID, z.energyPath, sensor.ErrPermission, permissionHelp)
	}
	return fmt.Errorf("powercap: zone %s: %w", z.tmpl.ID, err)
}
