package powercap

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/wattlens/wattlens/internal/ascii"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

// controlType is the directory of the MSR-based RAPL control type; its
// zones are named controlType + ":N[:M]". Other control types
// (intel-rapl-mmio, which duplicates package-0) have other prefixes and
// are skipped by name.
const controlType = "intel-rapl"

// discover walks the tree at s.root and returns its RAPL zones, sorted by
// ID, with name and max_energy_range_uj read.
func (s *Sensor) discover() ([]zone, error) {
	entries, err := os.ReadDir(s.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("powercap: %w: no %s: the intel_rapl_common / intel_rapl_msr module is not loaded, or this is a VM",
			sensor.ErrUnavailable, s.root)
	}
	if err != nil {
		return nil, fmt.Errorf("powercap: %w", err)
	}
	w := walker{s: s, seen: make(map[string]bool)}
	for _, e := range entries {
		name, path := e.Name(), filepath.Join(s.root, e.Name())
		switch {
		case name == controlType:
			// The control type directory itself holds the zones when root
			// is /sys/devices/virtual/powercap; elsewhere they are
			// duplicates of the flat symlinks and are dropped as such.
			err = w.walk(path, "")
		case isZoneID(name):
			err = w.visit(path, name)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(w.zones) == 0 {
		return nil, fmt.Errorf("powercap: %w: no RAPL zone in %s: the intel_rapl_msr module is not loaded, the CPU has no RAPL, or this is a VM",
			sensor.ErrUnavailable, s.root)
	}
	slices.SortFunc(w.zones, func(a, b zone) int { return compareIDs(a.tmpl.ID, b.tmpl.ID) })
	inheritSockets(w.zones)
	return w.zones, nil
}

// walker collects zones, each once however many paths lead to it.
type walker struct {
	s     *Sensor
	seen  map[string]bool
	zones []zone
	buf   [128]byte
}

// walk visits the zones in dir: any zone when parent is "", else only
// parent's direct subzones (which keeps the walk finite whatever the
// symlinks).
func (w *walker) walk(dir, parent string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("powercap: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if parent == "" && !isZoneID(name) || parent != "" && !isChildID(name, parent) {
			continue
		}
		if err := w.visit(filepath.Join(dir, name), name); err != nil {
			return err
		}
	}
	return nil
}

// visit records the zone at path, if it is one not seen yet, and walks its
// subzones. A directory without energy_uj, or a dangling link, is not a
// zone.
func (w *walker) visit(path, id string) error {
	if w.seen[id] {
		return nil
	}
	dir, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("powercap: zone %s: %w", id, err)
	}
	energyPath := filepath.Join(dir, "energy_uj")
	if _, err := os.Stat(energyPath); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("powercap: zone %s: %w", id, err)
	}
	w.seen[id] = true
	name, err := w.readName(dir)
	if err != nil {
		return fmt.Errorf("powercap: zone %s: %w", id, err)
	}
	max, err := w.readMaxRange(dir)
	if err != nil {
		return fmt.Errorf("powercap: zone %s: %w", id, err)
	}
	kind, socket := kindOf(name)
	w.zones = append(w.zones, zone{
		tmpl: power.Zone{
			ID: id, Kind: kind, Socket: socket, Name: name,
			MaxRange: units.Energy(max), MaxPower: w.readMaxPower(dir),
			Source: power.Measured,
		},
		dir:        dir,
		energyPath: energyPath,
	})
	return w.walk(dir, id)
}

func (w *walker) readName(dir string) (string, error) {
	path := filepath.Join(dir, "name")
	n, err := w.s.readFile(path, w.buf[:])
	if err != nil {
		return "", err
	}
	name := bytes.TrimSpace(w.buf[:n])
	if len(name) == 0 || n == len(w.buf) {
		return "", fmt.Errorf("%s: want a zone name, got %q", path, w.buf[:n])
	}
	return string(name), nil
}

// readMaxRange reads max_energy_range_uj; 0 (unknown) when the file is
// absent.
func (w *walker) readMaxRange(dir string) (uint64, error) {
	path := filepath.Join(dir, "max_energy_range_uj")
	n, err := w.s.readFile(path, w.buf[:])
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	max, err := parseMicrojoules(w.buf[:n])
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return max, nil
}

// maxConstraints is how many constraint_N files are looked at: RAPL zones
// have at most three (long term, short term, peak power).
const maxConstraints = 4

// powerMargin multiplies a zone's largest power limit into the most it can
// draw: a limit is an average over a time window, which the zone may
// exceed for shorter times (PL2 over PL1, turbo bursts).
const powerMargin = 2

// readMaxPower returns the most the zone can draw, from its constraints
// (constraint_N_max_power_uw and constraint_N_power_limit_uw, in µW; see
// the kernel's Documentation/power/powercap/powercap.rst): powerMargin ×
// the largest of them, or 0 when the zone has none that can be read (the
// kind's ceiling then applies, power.Ceiling). Unreadable or malformed
// constraint files are skipped: they only tighten a bound.
func (w *walker) readMaxPower(dir string) units.Power {
	var most uint64
	for i := range maxConstraints {
		for _, f := range [...]string{"max_power_uw", "power_limit_uw"} {
			path := filepath.Join(dir, fmt.Sprintf("constraint_%d_%s", i, f))
			n, err := w.s.readFile(path, w.buf[:])
			if err != nil {
				continue
			}
			if v, err := parseMicrojoules(w.buf[:n]); err == nil {
				most = max(most, v)
			}
		}
	}
	if most == 0 || most > uint64(power.DefaultCeiling) {
		return 0
	}
	return units.Power(most * powerMargin)
}

// kindOf maps a zone name to its kind and, for a package, its socket:
// "package-1" (or "package-1-die-0" on multi-die parts) → package, 1;
// psys, core, uncore, dram → themselves, -1; anything else keeps its name
// as kind.
func kindOf(name string) (kind string, socket int) {
	switch name {
	case "psys":
		return power.KindPsys, -1
	case "core":
		return power.KindCore, -1
	case "uncore":
		return power.KindUncore, -1
	case "dram":
		return power.KindDRAM, -1
	}
	if rest, ok := strings.CutPrefix(name, "package-"); ok {
		num, _, _ := strings.Cut(rest, "-")
		if n, err := strconv.Atoi(num); err == nil && n >= 0 {
			return power.KindPackage, n
		}
	}
	return safeKind(name), -1
}

// safeKind keeps an unknown zone name as its kind, as a plain token: a
// name file is the kernel's, but the tree may be a copy or a VM share, and
// kinds end up in metric labels and terminal output.
func safeKind(name string) string {
	const maxLen = 32
	b := []byte(name)
	if len(b) > maxLen {
		b = b[:maxLen]
	}
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "unknown"
	}
	return string(b)
}

// inheritSockets gives each subzone without a socket of its own its
// parent's. zones are sorted, so parents come first.
func inheritSockets(zones []zone) {
	socket := make(map[string]int, len(zones))
	for i := range zones {
		z := &zones[i].tmpl
		if z.Socket < 0 {
			if parent, ok := parentID(z.ID); ok {
				if s, ok := socket[parent]; ok {
					z.Socket = s
				}
			}
		}
		socket[z.ID] = z.Socket
	}
}

// isZoneID reports whether name is an intel-rapl zone directory name:
// "intel-rapl:" followed by one or more ':'-separated numbers.
func isZoneID(name string) bool {
	rest, ok := strings.CutPrefix(name, controlType+":")
	if !ok {
		return false
	}
	for part := range strings.SplitSeq(rest, ":") {
		if !ascii.IsDigits(part) {
			return false
		}
	}
	return true
}

// isChildID reports whether name is a direct subzone of parent.
func isChildID(name, parent string) bool {
	rest, ok := strings.CutPrefix(name, parent+":")
	return ok && ascii.IsDigits(rest)
}

func parentID(id string) (string, bool) {
	i := strings.LastIndexByte(id, ':')
	if i < 0 || !isZoneID(id[:i]) {
		return "", false
	}
	return id[:i], true
}

// compareIDs orders zone IDs by their numbers, so intel-rapl:2 comes
// before intel-rapl:10 and a parent before its subzones.
func compareIDs(a, b string) int {
	pa := strings.Split(strings.TrimPrefix(a, controlType+":"), ":")
	pb := strings.Split(strings.TrimPrefix(b, controlType+":"), ":")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, _ := strconv.Atoi(pa[i])
		nb, _ := strconv.Atoi(pb[i])
		if na != nb {
			if na < nb {
				return -1
			}
			return 1
		}
	}
	return len(pa) - len(pb)
}
