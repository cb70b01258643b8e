package powercaptest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func build(t *testing.T, layout Layout) string {
	t.Helper()
	root := t.TempDir()
	if err := Build(root, layout); err != nil {
		t.Fatal(err)
	}
	return root
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKernelShape checks the tree against what Linux shows on a laptop.
func TestKernelShape(t *testing.T) {
	root := build(t, IntelLaptop())
	class := PowercapDir(root)

	links := map[string]string{}
	entries, err := os.ReadDir(class)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(class, e.Name()))
		if err != nil {
			t.Errorf("%s is not a symlink: %v", e.Name(), err)
		}
		links[e.Name()] = target
	}
	wantLinks := map[string]string{
		"intel-rapl":        "../../devices/virtual/powercap/intel-rapl",
		"intel-rapl:0":      "../../devices/virtual/powercap/intel-rapl/intel-rapl:0",
		"intel-rapl:0:0":    "../../devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0",
		"intel-rapl:0:1":    "../../devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:1",
		"intel-rapl:1":      "../../devices/virtual/powercap/intel-rapl/intel-rapl:1",
		"intel-rapl-mmio":   "../../devices/virtual/powercap/intel-rapl-mmio",
		"intel-rapl-mmio:0": "../../devices/virtual/powercap/intel-rapl-mmio/intel-rapl-mmio:0",
	}
	if diff := cmp.Diff(wantLinks, links); diff != "" {
		t.Errorf("class/powercap links (-want +got):\n%s", diff)
	}

	files := map[string]string{
		"intel-rapl/enabled":                       "1\n",
		"intel-rapl:0/name":                        "package-0\n",
		"intel-rapl:0/energy_uj":                   "45678901234\n",
		"intel-rapl:0/max_energy_range_uj":         "262143328850\n",
		"intel-rapl:0/constraint_1_name":           "short_term\n",
		"intel-rapl:0/intel-rapl:0:1/name":         "uncore\n",
		"intel-rapl:0:1/constraint_0_name":         "long_term\n",
		"intel-rapl:1/name":                        "psys\n",
		"intel-rapl-mmio:0/name":                   "package-0\n",
		"intel-rapl-mmio:0/energy_uj":              "45678901234\n",
		"intel-rapl:0/subsystem/intel-rapl:1/name": "psys\n",
	}
	for path, want := range files {
		if got := readString(t, filepath.Join(class, path)); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(class, "intel-rapl", "energy_uj")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("control type has energy_uj: %v", err)
	}
}

func TestNestedShape(t *testing.T) {
	root := build(t, Layout{Zones: IntelServer2S().Zones, Shape: Nested})
	class := PowercapDir(root)
	var names []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			t.Errorf("symlink %s in a nested tree", path)
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), "intel-rapl") {
			rel, _ := filepath.Rel(class, path)
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"intel-rapl", "intel-rapl:0", "intel-rapl:0/intel-rapl:0:0", "intel-rapl:1", "intel-rapl:1/intel-rapl:1:0"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("zone directories (-want +got):\n%s", diff)
	}
}

func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name   string
		layout Layout
	}{
		{"top-level ID without number", Layout{Zones: []ZoneSpec{{ID: "intel-rapl", Name: "package-0"}}}},
		{"subzone ID not below parent", Layout{Zones: []ZoneSpec{{ID: "intel-rapl:0", Name: "package-0", Children: []ZoneSpec{{ID: "intel-rapl:1:0", Name: "dram"}}}}}},
		{"unknown shape", Layout{Shape: Shape(7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Build(t.TempDir(), tt.layout); err == nil {
				t.Error("Build: no error")
			}
		})
	}
	t.Run("existing tree", func(t *testing.T) {
		root := build(t, Empty())
		if err := Build(root, Empty()); err == nil {
			t.Error("second Build: no error")
		}
	})
}

func TestSetEnergyKeepsMode(t *testing.T) {
	for _, shape := range []Shape{Kernel, Nested} {
		root := build(t, Layout{Zones: IntelServer2S().Zones, RootOnly: true, Shape: shape})
		if err := SetEnergy(root, "intel-rapl:1:0", 12345); err != nil {
			t.Fatal(err)
		}
		dir, err := ZoneDir(root, "intel-rapl:1:0")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "energy_uj")
		if got := readString(t, path); got != "12345\n" {
			t.Errorf("shape %d: energy_uj = %q, want 12345", shape, got)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o400 {
			t.Errorf("shape %d: energy_uj mode %v, want 0400", shape, fi.Mode().Perm())
		}
		if err := SetEnergy(root, "intel-rapl:7", 1); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("SetEnergy on a missing zone: %v, want ErrNotExist", err)
		}
	}
}

// zoneNames lists the zone directories reachable from class/powercap, by
// their path there.
func zoneNames(t *testing.T, root string) []string {
	t.Helper()
	class := PowercapDir(root)
	var out []string
	var walk func(dir, rel string)
	walk = func(dir, rel string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "intel-rapl:") {
				out = append(out, filepath.Join(rel, e.Name()))
				walk(filepath.Join(dir, e.Name()), filepath.Join(rel, e.Name()))
			}
		}
	}
	walk(class, "")
	slices.Sort(out)
	return out
}

func TestRemoveRestore(t *testing.T) {
	for _, shape := range []Shape{Kernel, Nested} {
		for _, id := range []string{"intel-rapl:0", "intel-rapl:0:1"} {
			root := build(t, Layout{Zones: IntelLaptop().Zones, Shape: shape})
			before := zoneNames(t, root)
			if err := RemoveZone(root, id); err != nil {
				t.Fatal(err)
			}
			for _, name := range zoneNames(t, root) {
				if strings.Contains(name, id) {
					t.Errorf("shape %d, %s removed: %s still there", shape, id, name)
				}
			}
			if _, err := ZoneDir(root, id); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("shape %d: ZoneDir(%s) after removal: %v", shape, id, err)
			}
			if err := RestoreZone(root, id); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, zoneNames(t, root)); diff != "" {
				t.Errorf("shape %d, %s restored: zones (-before +after):\n%s", shape, id, diff)
			}
			if err := RestoreZone(root, id); err == nil {
				t.Errorf("shape %d: restoring %s twice: no error", shape, id)
			}
		}
	}
}

func energyOf(t *testing.T, root, id string) string {
	t.Helper()
	dir, err := ZoneDir(root, id)
	if err != nil {
		t.Fatal(err)
	}
	return readString(t, filepath.Join(dir, "energy_uj"))
}

func TestAdvancerStep(t *testing.T) {
	root := build(t, IntelServer2S())
	// intel-rapl:0 starts at 123456789012 and intel-rapl:1:0 at
	// 8765432109, brought within 4 J: 789012 and 1432109.
	adv := NewAdvancer(root, map[string]float64{"intel-rapl:0": 10, "intel-rapl:1:0": 1}, 4_000_000)
	steps := []struct {
		d               time.Duration
		wantPkg, wantDr string
		writtenPkg      float64
	}{
		{d: time.Second, wantPkg: "2789012\n", wantDr: "2432109\n", writtenPkg: 10},                   // 789012 + 10e6 mod 4e6
		{d: 1500 * time.Nanosecond, wantPkg: "2789027\n", wantDr: "2432110\n", writtenPkg: 10.000015}, // 1.5 µJ: 1 now, carry .5
		{d: 1500 * time.Nanosecond, wantPkg: "2789042\n", wantDr: "2432112\n", writtenPkg: 10.00003},
	}
	for i, s := range steps {
		if err := adv.Step(s.d); err != nil {
			t.Fatal(err)
		}
		if got := energyOf(t, root, "intel-rapl:0"); got != s.wantPkg {
			t.Errorf("step %d: intel-rapl:0 energy_uj = %q, want %q", i, got, s.wantPkg)
		}
		if got := energyOf(t, root, "intel-rapl:1:0"); got != s.wantDr {
			t.Errorf("step %d: intel-rapl:1:0 energy_uj = %q, want %q", i, got, s.wantDr)
		}
		if got := adv.Written("intel-rapl:0"); got != s.writtenPkg {
			t.Errorf("step %d: Written = %v, want %v", i, got, s.writtenPkg)
		}
	}
	if got := readString(t, filepath.Join(PowercapDir(root), "intel-rapl:0", "max_energy_range_uj")); got != "4000000\n" {
		t.Errorf("max_energy_range_uj = %q, want the advancer's range", got)
	}
	if got := adv.Written("intel-rapl:1"); got != 0 {
		t.Errorf("undriven zone: Written = %v, want 0", got)
	}
}

// TestAdvancerSkipsRemovedZone checks that a zone that is away gets
// nothing for that time, and the others go on.
func TestAdvancerSkipsRemovedZone(t *testing.T) {
	root := build(t, IntelServer2S())
	adv := NewAdvancer(root, map[string]float64{"intel-rapl:0": 2, "intel-rapl:1": 3}, 0)
	if err := adv.Step(time.Second); err != nil {
		t.Fatal(err)
	}
	if err := RemoveZone(root, "intel-rapl:1"); err != nil {
		t.Fatal(err)
	}
	if err := adv.Step(time.Second); err == nil {
		t.Error("Step with a zone removed: no error")
	}
	if err := RestoreZone(root, "intel-rapl:1"); err != nil {
		t.Fatal(err)
	}
	if err := adv.Step(time.Second); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{"intel-rapl:0": adv.Written("intel-rapl:0"), "intel-rapl:1": adv.Written("intel-rapl:1")}
	want := map[string]float64{"intel-rapl:0": 6, "intel-rapl:1": 6}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Written (-want +got):\n%s", diff)
	}
	if got, want := energyOf(t, root, "intel-rapl:1"), "98771432109\n"; got != want {
		t.Errorf("intel-rapl:1 energy_uj = %q, want %q", got, want)
	}
}

func TestWrapAdd(t *testing.T) {
	tests := []struct {
		name        string
		e, add, max uint64
		want        uint64
	}{
		{"no wrap", 10, 5, 100, 15},
		{"to the range wraps to zero", 95, 5, 100, 0},
		{"wrap", 95, 10, 100, 5},
		{"add beyond range", 95, 1010, 100, 5},
		{"no range", 1 << 40, 5, 0, 1<<40 + 5},
		{"huge range", 1<<64 - 2, 3, 1<<64 - 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wrapAdd(tt.e, tt.add, tt.max); got != tt.want {
				t.Errorf("wrapAdd(%d, %d, %d) = %d, want %d", tt.e, tt.add, tt.max, got, tt.want)
			}
		})
	}
}

// TestStart: the tree is built and its counter moves while the test runs.
func TestStart(t *testing.T) {
	root := t.TempDir()
	adv := Start(t, root, IntelServer2S(), map[string]float64{"intel-rapl:0": 1000}, 0)
	dir, err := ZoneDir(root, "intel-rapl:0")
	if err != nil {
		t.Fatal(err)
	}
	first, err := readUint(filepath.Join(dir, "energy_uj"))
	if err != nil {
		t.Fatal(err)
	}
	if err := adv.Step(time.Second); err != nil {
		t.Fatal(err)
	}
	second, err := readUint(filepath.Join(dir, "energy_uj"))
	if err != nil {
		t.Fatal(err)
	}
	if second <= first {
		t.Errorf("energy_uj went from %d to %d after a step at 1000 W", first, second)
	}
}
