package powercap

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
	"github.com/wattlens/wattlens/internal/units"
)

// build writes layout in a fresh directory standing for /sys and returns
// that directory.
func build(t *testing.T, layout powercaptest.Layout) string {
	t.Helper()
	root := t.TempDir()
	if err := powercaptest.Build(root, layout); err != nil {
		t.Fatal(err)
	}
	return root
}

func newSensor(t *testing.T, root string) *Sensor {
	t.Helper()
	s, err := NewAt(powercaptest.PowercapDir(root), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func read(t *testing.T, s *Sensor) []power.Zone {
	t.Helper()
	r, err := s.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return r.Zones
}

func ids(zones []power.Zone) []string {
	var out []string
	for _, z := range zones {
		out = append(out, z.ID)
	}
	return out
}

// asUnprivileged reads like a user other than the files' owner: a file
// without the read bit for others fails with EACCES.
func asUnprivileged(path string, buf []byte) (int, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o004 == 0 {
		return 0, &fs.PathError{Op: "open", Path: path, Err: syscall.EACCES}
	}
	return readInto(path, buf)
}

func measured(id, kind string, socket int, name string, energy, max uint64) power.Zone {
	return power.Zone{ID: id, Kind: kind, Socket: socket, Name: name, Energy: units.Energy(energy), MaxRange: units.Energy(max), Source: power.Measured}
}

func TestZonesOfEachLayout(t *testing.T) {
	const intel, dram, amd = 262_143_328_850, 65_712_999_613, 65_532_610_987
	tests := []struct {
		name   string
		layout powercaptest.Layout
		want   []power.Zone
	}{
		{
			name:   "intel server 2 sockets with dram",
			layout: powercaptest.IntelServer2S(),
			want: []power.Zone{
				measured("intel-rapl:0", power.KindPackage, 0, "package-0", 123_456_789_012, intel),
				measured("intel-rapl:0:0", power.KindDRAM, 0, "dram", 23_456_789_012, dram),
				measured("intel-rapl:1", power.KindPackage, 1, "package-1", 98_765_432_109, intel),
				measured("intel-rapl:1:0", power.KindDRAM, 1, "dram", 8_765_432_109, dram),
			},
		},
		{
			name:   "intel laptop with psys, mmio dropped",
			layout: powercaptest.IntelLaptop(),
			want: []power.Zone{
				measured("intel-rapl:0", power.KindPackage, 0, "package-0", 45_678_901_234, intel),
				measured("intel-rapl:0:0", power.KindCore, 0, "core", 20_123_456_789, intel),
				measured("intel-rapl:0:1", power.KindUncore, 0, "uncore", 1_234_567_890, intel),
				measured("intel-rapl:1", power.KindPsys, -1, "psys", 87_654_321_098, intel),
			},
		},
		{
			name:   "amd single package",
			layout: powercaptest.AMDSingle(),
			want: []power.Zone{
				measured("intel-rapl:0", power.KindPackage, 0, "package-0", 34_567_890_123, amd),
				measured("intel-rapl:0:0", power.KindCore, 0, "core", 1_098_765_432, amd),
			},
		},
		{
			name: "multi-die package and unknown subzone",
			layout: powercaptest.Layout{Zones: []powercaptest.ZoneSpec{
				{ID: "intel-rapl:0", Name: "package-1-die-0", Energy: 5, MaxRange: 100, Children: []powercaptest.ZoneSpec{
					{ID: "intel-rapl:0:0", Name: "mystery", Energy: 7, MaxRange: 100},
				}},
				{ID: "intel-rapl:10", Name: "package-1-die-1", Energy: 6, MaxRange: 100},
				{ID: "intel-rapl:2", Name: "package-0", Energy: 8, MaxRange: 100},
			}},
			want: []power.Zone{
				measured("intel-rapl:0", power.KindPackage, 1, "package-1-die-0", 5, 100),
				measured("intel-rapl:0:0", "mystery", 1, "mystery", 7, 100),
				measured("intel-rapl:2", power.KindPackage, 0, "package-0", 8, 100),
				measured("intel-rapl:10", power.KindPackage, 1, "package-1-die-1", 6, 100),
			},
		},
	}
	// Each tree is read through class/powercap in both shapes, and through
	// the control type's home, devices/virtual/powercap.
	views := []struct {
		name  string
		shape powercaptest.Shape
		dir   func(root string) string
	}{
		{"flat symlinks", powercaptest.Kernel, powercaptest.PowercapDir},
		{"nested", powercaptest.Nested, powercaptest.PowercapDir},
		{"devices dir", powercaptest.Kernel, func(root string) string { return filepath.Join(root, "devices", "virtual", "powercap") }},
	}
	for _, tt := range tests {
		for _, v := range views {
			t.Run(tt.name+"/"+v.name, func(t *testing.T) {
				layout := tt.layout
				layout.Shape = v.shape
				root := build(t, layout)
				s, err := NewAt(v.dir(root), nil)
				if err != nil {
					t.Fatal(err)
				}
				// MaxPower has a test of its own (TestMaxPowerFromConstraints).
				if diff := cmp.Diff(tt.want, read(t, s), cmpopts.IgnoreFields(power.Zone{}, "MaxPower")); diff != "" {
					t.Errorf("Read zones (-want +got):\n%s", diff)
				}
				checkInfos(t, s, tt.want)
			})
		}
	}
}

// checkInfos checks that Zones describes want, with each path a directory
// named after the zone that holds energy_uj.
func checkInfos(t *testing.T, s *Sensor, want []power.Zone) {
	t.Helper()
	infos := s.Zones()
	if len(infos) != len(want) {
		t.Fatalf("Zones: %d zones, want %d", len(infos), len(want))
	}
	for i, info := range infos {
		w := want[i]
		wantInfo := ZoneInfo{ID: w.ID, Kind: w.Kind, Socket: w.Socket, Name: w.Name, Path: info.Path, MaxRange: w.MaxRange}
		if diff := cmp.Diff(wantInfo, info); diff != "" {
			t.Errorf("Zones()[%d] (-want +got):\n%s", i, diff)
		}
		if filepath.Base(info.Path) != w.ID {
			t.Errorf("zone %s: path %s is not its directory", w.ID, info.Path)
		}
		if _, err := os.Stat(filepath.Join(info.Path, "energy_uj")); err != nil {
			t.Errorf("zone %s: %v", w.ID, err)
		}
	}
}

// TestGuestTree reads the minimal tree a wattlens host writes for a guest:
// plain directories, one zone, three files.
func TestGuestTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vm1")
	zoneDir := filepath.Join(dir, "intel-rapl:0")
	if err := os.MkdirAll(zoneDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"name": "package-0\n", "energy_uj": "4242\n", "max_energy_range_uj": "1000000\n"} {
		if err := os.WriteFile(filepath.Join(zoneDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := NewAt(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []power.Zone{measured("intel-rapl:0", power.KindPackage, 0, "package-0", 4242, 1_000_000)}
	if diff := cmp.Diff(want, read(t, s)); diff != "" {
		t.Errorf("Read zones (-want +got):\n%s", diff)
	}
}

func TestNewThroughOptions(t *testing.T) {
	root := build(t, powercaptest.AMDSingle())
	s, err := New(sensor.Options{SysFS: root})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != Name {
		t.Errorf("Name() = %q, want %q", s.Name(), Name)
	}
	r, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"intel-rapl:0", "intel-rapl:0:0"}, ids(r.Zones)); diff != "" {
		t.Errorf("zone IDs (-want +got):\n%s", diff)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name     string
		setUp    func(t *testing.T, root string)
		readFile readFunc
		wantIs   error // nil: neither ErrUnavailable nor ErrPermission
		wantText []string
	}{
		{
			name:     "no powercap directory",
			setUp:    func(t *testing.T, root string) {},
			wantIs:   sensor.ErrUnavailable,
			wantText: []string{"class/powercap", "module is not loaded, or this is a VM"},
		},
		{
			name:     "control type only",
			setUp:    buildLayout(powercaptest.Empty()),
			wantIs:   sensor.ErrUnavailable,
			wantText: []string{"no RAPL zone in"},
		},
		{
			name:     "mmio zone only",
			setUp:    buildLayout(powercaptest.Layout{MMIO: true}),
			wantIs:   sensor.ErrUnavailable,
			wantText: []string{"no RAPL zone in"},
		},
		{
			name:     "energy_uj readable by root only",
			setUp:    buildLayout(powercaptest.Layout{Zones: powercaptest.IntelServer2S().Zones, RootOnly: true}),
			readFile: asUnprivileged,
			wantIs:   sensor.ErrPermission,
			wantText: []string{
				"intel-rapl:0/energy_uj", "root since Linux 5.10 (CVE-2020-8694", "run wattlens as root",
				"group powercap", "0440", "wattlens-powercap.conf", "docs/deploy.md", "Do not make the files world-readable",
			},
		},
		{
			name: "malformed energy_uj",
			setUp: func(t *testing.T, root string) {
				buildLayout(powercaptest.IntelServer2S())(t, root)
				setFile(t, root, "intel-rapl:1:0", "energy_uj", "abc\n")
			},
			wantText: []string{"zone intel-rapl:1:0", `got "abc"`},
		},
		{
			name: "malformed max_energy_range_uj",
			setUp: func(t *testing.T, root string) {
				buildLayout(powercaptest.IntelServer2S())(t, root)
				setFile(t, root, "intel-rapl:0", "max_energy_range_uj", "-1\n")
			},
			wantText: []string{"zone intel-rapl:0", "max_energy_range_uj", `got "-1"`},
		},
		{
			name: "empty name",
			setUp: func(t *testing.T, root string) {
				buildLayout(powercaptest.AMDSingle())(t, root)
				setFile(t, root, "intel-rapl:0", "name", "\n")
			},
			wantText: []string{"zone intel-rapl:0", "want a zone name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.setUp(t, root)
			readFile := tt.readFile
			if readFile == nil {
				readFile = readInto
			}
			s, err := newAt(powercaptest.PowercapDir(root), nil, readFile)
			if err == nil {
				t.Fatalf("newAt: no error, zones %v", s.Zones())
			}
			for _, sentinel := range []error{sensor.ErrUnavailable, sensor.ErrPermission} {
				if got, want := errors.Is(err, sentinel), sentinel == tt.wantIs; got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, sentinel, got, want)
				}
			}
			for _, text := range tt.wantText {
				if !strings.Contains(err.Error(), text) {
					t.Errorf("error %q does not say %q", err, text)
				}
			}
		})
	}
}

// TestRootOnlyForReal checks the permission error with the kernel's own
// access check; it needs a user other than root.
func TestRootOnlyForReal(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads mode 0400 files; TestNewErrors covers this case through asUnprivileged")
	}
	root := build(t, powercaptest.Layout{Zones: powercaptest.IntelLaptop().Zones, RootOnly: true})
	for _, path := range []string{"intel-rapl:0", "intel-rapl:0:0"} {
		if err := os.Chmod(filepath.Join(powercaptest.PowercapDir(root), path, "energy_uj"), 0); err != nil {
			t.Fatal(err)
		}
	}
	_, err := NewAt(powercaptest.PowercapDir(root), nil)
	if !errors.Is(err, sensor.ErrPermission) {
		t.Errorf("NewAt: %v, want ErrPermission", err)
	}
}

func buildLayout(layout powercaptest.Layout) func(t *testing.T, root string) {
	return func(t *testing.T, root string) {
		t.Helper()
		if err := powercaptest.Build(root, layout); err != nil {
			t.Fatal(err)
		}
	}
}

func setFile(t *testing.T, root, id, name, content string) {
	t.Helper()
	if err := powercaptest.SetFile(root, id, name, content); err != nil {
		t.Fatal(err)
	}
}

func setEnergy(t *testing.T, root, id string, uj uint64) {
	t.Helper()
	if err := powercaptest.SetEnergy(root, id, uj); err != nil {
		t.Fatal(err)
	}
}

// TestMaxPowerFromConstraints: a zone's most power is twice its largest
// power limit; no readable constraint leaves it unknown.
func TestMaxPowerFromConstraints(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  units.Power
	}{
		{"long and short term", map[string]string{"constraint_0_power_limit_uw": "15000000\n", "constraint_1_power_limit_uw": "25000000\n", "constraint_0_max_power_uw": "15000000\n"}, 50 * units.Watt},
		{"max power above the limits", map[string]string{"constraint_0_power_limit_uw": "200000000\n", "constraint_2_max_power_uw": "350000000\n"}, 700 * units.Watt},
		{"none", nil, 0},
		{"malformed ones skipped", map[string]string{"constraint_0_power_limit_uw": "lots\n", "constraint_1_power_limit_uw": "10000000\n"}, 20 * units.Watt},
		{"zeros", map[string]string{"constraint_0_power_limit_uw": "0\n"}, 0},
		{"absurd limit ignored", map[string]string{"constraint_0_power_limit_uw": "99999999999999\n"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "intel-rapl:0")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			files := map[string]string{"name": "package-0\n", "energy_uj": "5\n", "max_energy_range_uj": "262143328850\n"}
			for k, v := range tt.files {
				files[k] = v
			}
			for k, v := range files {
				if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := NewAt(filepath.Dir(dir), nil)
			if err != nil {
				t.Fatal(err)
			}
			z := read(t, s)
			if len(z) != 1 || z[0].MaxPower != tt.want {
				t.Fatalf("zones %+v, want one with MaxPower %v", z, tt.want)
			}
		})
	}
}
