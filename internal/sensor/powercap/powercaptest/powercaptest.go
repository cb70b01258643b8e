// Package powercaptest builds powercap sysfs trees for tests, in the shape
// the Linux powercap framework gives them (Documentation/power/powercap/
// powercap.rst), and drives their energy counters: by hand (SetEnergy,
// RemoveZone, RestoreZone) or at a given power (Advancer, and the fakerapl
// command for end-to-end tests).
//
// Trees are generated at test time, in a t.TempDir(): zone names contain
// ':', which Go module zips refuse, so none is ever committed.
//
// Every function takes root, the directory that stands for /sys: the tree
// is <root>/class/powercap, as the sensor's --path.sysfs expects.
package powercaptest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ZoneSpec is one RAPL zone of a fixture.
type ZoneSpec struct {
	// ID is the zone's directory name: "intel-rapl:N" at top level,
	// parent's ID + ":M" for a subzone.
	ID string
	// Name is the name file: package-N, psys, core, uncore, dram.
	Name string
	// Energy is energy_uj's initial value.
	Energy uint64
	// MaxRange is max_energy_range_uj.
	MaxRange uint64
	// Children are the subzones.
	Children []ZoneSpec
}

// Shape says how class/powercap exposes the zones.
type Shape int

const (
	// Kernel is the shape Linux makes: zone directories below
	// devices/virtual/powercap/intel-rapl, subzones nested in their parent,
	// and a symlink in class/powercap for every zone and subzone (so each
	// subzone is reachable two ways).
	Kernel Shape = iota
	// Nested has real zone directories directly in class/powercap and
	// subzones only inside their parent, with no symlink: a copied tree.
	Nested
)

// Layout is a whole fixture tree.
type Layout struct {
	// Zones are the top-level zones of the intel-rapl control type.
	Zones []ZoneSpec
	// MMIO adds the intel-rapl-mmio control type with intel-rapl-mmio:0,
	// a package-0 that duplicates intel-rapl:0 (client Ice Lake and later).
	MMIO bool
	// RootOnly makes every energy_uj mode 0400, as Linux 5.10 and later
	// do (CVE-2020-8694). Tests running as root still read them.
	RootOnly bool
	// Shape is how class/powercap exposes the zones.
	Shape Shape
}

// Typical counter ranges seen on real machines.
const (
	intelRange = 262_143_328_850 // ESU 14: 2^32 × 61.04 µJ
	dramRange  = 65_712_999_613  // server DRAM, fixed 15.3 µJ unit
	amdRange   = 65_532_610_987  // AMD, ESU 16
)

// IntelServer2S is a two-socket Xeon: package-0 and package-1, each with a
// dram subzone (not included in the package's energy).
func IntelServer2S() Layout {
	return Layout{Zones: []ZoneSpec{
		{ID: "intel-rapl:0", Name: "package-0", Energy: 123_456_789_012, MaxRange: intelRange, Children: []ZoneSpec{
			{ID: "intel-rapl:0:0", Name: "dram", Energy: 23_456_789_012, MaxRange: dramRange},
		}},
		{ID: "intel-rapl:1", Name: "package-1", Energy: 98_765_432_109, MaxRange: intelRange, Children: []ZoneSpec{
			{ID: "intel-rapl:1:0", Name: "dram", Energy: 8_765_432_109, MaxRange: dramRange},
		}},
	}}
}

// IntelLaptop is a client part: package-0 with core and uncore, psys as
// intel-rapl:1, and the intel-rapl-mmio duplicate of package-0.
func IntelLaptop() Layout {
	return Layout{MMIO: true, Zones: []ZoneSpec{
		{ID: "intel-rapl:0", Name: "package-0", Energy: 45_678_901_234, MaxRange: intelRange, Children: []ZoneSpec{
			{ID: "intel-rapl:0:0", Name: "core", Energy: 20_123_456_789, MaxRange: intelRange},
			{ID: "intel-rapl:0:1", Name: "uncore", Energy: 1_234_567_890, MaxRange: intelRange},
		}},
		{ID: "intel-rapl:1", Name: "psys", Energy: 87_654_321_098, MaxRange: intelRange},
	}}
}

// AMDSingle is a one-socket AMD Zen (Linux 5.11 and later): package-0 and
// the one core subzone the kernel makes for it. That core zone reads the
// core energy MSR of a single CPU, not the socket's cores; there is no
// dram and no psys on AMD.
func AMDSingle() Layout {
	return Layout{Zones: []ZoneSpec{
		{ID: "intel-rapl:0", Name: "package-0", Energy: 34_567_890_123, MaxRange: amdRange, Children: []ZoneSpec{
			{ID: "intel-rapl:0:0", Name: "core", Energy: 1_098_765_432, MaxRange: amdRange},
		}},
	}}
}

// Empty is a powercap directory with the intel-rapl control type and no
// zone: the framework is there, RAPL is not.
func Empty() Layout { return Layout{} }

// LayoutByName returns the ready layout called name: intel-server-2s,
// intel-laptop, amd or empty (the fakerapl --layout values).
func LayoutByName(name string) (Layout, error) {
	switch name {
	case "intel-server-2s":
		return IntelServer2S(), nil
	case "intel-laptop":
		return IntelLaptop(), nil
	case "amd":
		return AMDSingle(), nil
	case "empty":
		return Empty(), nil
	}
	return Layout{}, fmt.Errorf("unknown layout %q (want intel-server-2s, intel-laptop, amd or empty)", name)
}

// PowercapDir returns <root>/class/powercap.
func PowercapDir(root string) string { return filepath.Join(root, "class", "powercap") }

// Build writes layout's tree at <root>/class/powercap (and, for the Kernel
// shape, <root>/devices/virtual/powercap). It refuses to build over an
// existing tree.
func Build(root string, layout Layout) error {
	class := PowercapDir(root)
	if _, err := os.Lstat(class); err == nil {
		return fmt.Errorf("powercaptest: %s already exists", class)
	}
	if err := os.MkdirAll(class, 0o755); err != nil {
		return err
	}
	b := builder{root: root, class: class, layout: layout}
	if err := b.controlType("intel-rapl", layout.Zones); err != nil {
		return fmt.Errorf("powercaptest: %w", err)
	}
	if layout.MMIO {
		if err := b.controlType("intel-rapl-mmio", []ZoneSpec{mmioZone(layout.Zones)}); err != nil {
			return fmt.Errorf("powercaptest: %w", err)
		}
	}
	return nil
}

// mmioZone is intel-rapl-mmio:0, a copy of intel-rapl:0 without subzones.
func mmioZone(zones []ZoneSpec) ZoneSpec {
	z := ZoneSpec{Name: "package-0", MaxRange: intelRange}
	for _, p := range zones {
		if p.ID == "intel-rapl:0" {
			z = p
		}
	}
	return ZoneSpec{ID: "intel-rapl-mmio:0", Name: z.Name, Energy: z.Energy, MaxRange: z.MaxRange}
}

type builder struct {
	root, class string
	layout      Layout
}

// controlType writes control type ct and its zones.
func (b builder) controlType(ct string, zones []ZoneSpec) error {
	var ctDir, zoneParent string
	switch b.layout.Shape {
	case Kernel:
		ctDir = filepath.Join(b.root, "devices", "virtual", "powercap", ct)
		zoneParent = ctDir
	case Nested:
		ctDir = filepath.Join(b.class, ct)
		zoneParent = b.class
	default:
		return fmt.Errorf("unknown shape %d", b.layout.Shape)
	}
	if err := os.MkdirAll(ctDir, 0o755); err != nil {
		return err
	}
	if err := writeFiles(ctDir, []file{{"enabled", "1", 0o644}, {"uevent", "", 0o644}}); err != nil {
		return err
	}
	if err := b.link(ctDir); err != nil {
		return err
	}
	for _, z := range zones {
		if !strings.HasPrefix(z.ID, ct+":") || strings.Count(z.ID, ":") != 1 {
			return fmt.Errorf("zone ID %q: want %s:N at top level", z.ID, ct)
		}
		if err := b.zone(zoneParent, z, true); err != nil {
			return err
		}
	}
	return nil
}

// zone writes zone z, and its subzones, in parent.
func (b builder) zone(parent string, z ZoneSpec, top bool) error {
	dir := filepath.Join(parent, z.ID)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	energyMode := fs.FileMode(0o444)
	if b.layout.RootOnly {
		energyMode = 0o400
	}
	files := []file{
		{"name", z.Name, 0o444},
		{"energy_uj", fmt.Sprint(z.Energy), energyMode},
		{"max_energy_range_uj", fmt.Sprint(z.MaxRange), 0o444},
		{"max_power_range_uw", "0", 0o444},
		{"enabled", "1", 0o644},
		{"uevent", "", 0o644},
		{"constraint_0_name", "long_term", 0o444},
		{"constraint_0_power_limit_uw", "15000000", 0o644},
		{"constraint_0_time_window_us", "27983872", 0o644},
		{"constraint_0_max_power_uw", "15000000", 0o444},
	}
	if top {
		files = append(files,
			file{"constraint_1_name", "short_term", 0o444},
			file{"constraint_1_power_limit_uw", "25000000", 0o644},
			file{"constraint_1_time_window_us", "2440", 0o644},
			file{"constraint_1_max_power_uw", "0", 0o444},
		)
	}
	if err := writeFiles(dir, files); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "power"), 0o755); err != nil {
		return err
	}
	if err := b.link(dir); err != nil {
		return err
	}
	for _, c := range z.Children {
		if !strings.HasPrefix(c.ID, z.ID+":") || strings.Count(c.ID, ":") != strings.Count(z.ID, ":")+1 {
			return fmt.Errorf("subzone ID %q: want %s:M", c.ID, z.ID)
		}
		if err := b.zone(dir, c, false); err != nil {
			return err
		}
	}
	return nil
}

// link makes, for the Kernel shape, the class/powercap symlink to dir and
// dir's subsystem link back to class/powercap, as sysfs has.
func (b builder) link(dir string) error {
	if b.layout.Shape != Kernel {
		return nil
	}
	return linkZone(b.class, dir, true)
}

// linkZone symlinks class/<base of dir> to dir, relative as sysfs does, and
// with subsystem also dir/subsystem back to class.
func linkZone(class, dir string, subsystem bool) error {
	target, err := filepath.Rel(class, dir)
	if err != nil {
		return err
	}
	if err := os.Symlink(target, filepath.Join(class, filepath.Base(dir))); err != nil {
		return err
	}
	if !subsystem {
		return nil
	}
	back, err := filepath.Rel(dir, class)
	if err != nil {
		return err
	}
	return os.Symlink(back, filepath.Join(dir, "subsystem"))
}

type file struct {
	name, content string
	mode          fs.FileMode
}

func writeFiles(dir string, files []file) error {
	var errs []error
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		content := f.content
		if content != "" {
			content += "\n"
		}
		errs = append(errs, os.WriteFile(path, []byte(content), f.mode), os.Chmod(path, f.mode))
	}
	return errors.Join(errs...)
}
