package perfrapl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

// fakeOpener hands out counters whose counts the test sets, and records
// what was opened.
type fakeOpener struct {
	counts map[key]uint64 // by (type, config, cpu); absent: the open fails
	fail   error          // returned for absent keys; default ENOENT
	opened []key
	closed int
	errOn  key // a counter whose Read fails
}

type key struct {
	typ    uint32
	config uint64
	cpu    int
}

func (f *fakeOpener) Open(typ uint32, config uint64, cpu int) (Counter, error) {
	k := key{typ, config, cpu}
	if _, ok := f.counts[k]; !ok {
		if f.fail != nil {
			return nil, f.fail
		}
		return nil, fmt.Errorf("%w: perf_event_open: %w", sensor.ErrUnavailable, unix.ENOENT)
	}
	f.opened = append(f.opened, k)
	return &fakeCounter{f: f, k: k}, nil
}

type fakeCounter struct {
	f *fakeOpener
	k key
}

func (c *fakeCounter) Read() (uint64, error) {
	if c.k == c.f.errOn {
		return 0, errors.New("read: no such device")
	}
	return c.f.counts[c.k], nil
}

func (c *fakeCounter) Close() error { c.f.closed++; return nil }

// all makes every event code 1..5 of type typ openable on cpus.
func all(typ uint32, cpus ...int) map[key]uint64 {
	m := map[key]uint64{}
	for _, cpu := range cpus {
		for code := uint64(1); code <= 5; code++ {
			m[key{typ, code, cpu}] = 0
		}
	}
	return m
}

type zoneID struct {
	ID, Kind, Name string
	Socket         int
}

func ids(r power.Reading) []zoneID {
	var out []zoneID
	for _, z := range r.Zones {
		out = append(out, zoneID{z.ID, z.Kind, z.Name, z.Socket})
		if z.Source != power.Measured || z.MaxRange != 0 || z.WrapRange != 0 {
			panic(fmt.Sprintf("zone %s: source %s, range %d/%d", z.ID, z.Source, z.MaxRange, z.WrapRange))
		}
	}
	return out
}

// TestFixtures opens each fixture tree (testdata/README.md says where
// each comes from) and checks the zones and the counters opened.
func TestFixtures(t *testing.T) {
	for _, tt := range []struct {
		tree   string
		typ    uint32
		cpus   []int
		zones  []zoneID
		opened []key
	}{
		{
			tree: "intel-client-skylake", typ: 14, cpus: []int{0},
			zones: []zoneID{
				{"perf:core-0", power.KindCore, "core", 0},
				{"perf:uncore-0", power.KindUncore, "uncore", 0},
				{"perf:package-0", power.KindPackage, "package-0", 0},
				{"perf:psys", power.KindPsys, "psys", -1},
				{"perf:dram-0", power.KindDRAM, "dram", 0},
			},
			opened: []key{{14, 1, 0}, {14, 4, 0}, {14, 2, 0}, {14, 5, 0}, {14, 3, 0}},
		},
		{
			tree: "intel-server-skylake-sp", typ: 15, cpus: []int{0, 28},
			zones: []zoneID{
				{"perf:package-0", power.KindPackage, "package-0", 0},
				{"perf:dram-0", power.KindDRAM, "dram", 0},
				{"perf:package-1", power.KindPackage, "package-1", 1},
				{"perf:dram-1", power.KindDRAM, "dram", 1},
			},
			opened: []key{{15, 2, 0}, {15, 3, 0}, {15, 2, 28}, {15, 3, 28}},
		},
		{
			tree: "intel-server-cascade-lake-ap", typ: 15, cpus: []int{0, 24},
			zones: []zoneID{
				{"perf:package-0-die-0", power.KindPackage, "package-0-die-0", 0},
				{"perf:dram-0-die-0", power.KindDRAM, "dram", 0},
				{"perf:package-0-die-1", power.KindPackage, "package-0-die-1", 0},
				{"perf:dram-0-die-1", power.KindDRAM, "dram", 0},
			},
			opened: []key{{15, 2, 0}, {15, 3, 0}, {15, 2, 24}, {15, 3, 24}},
		},
		{
			// psys is the platform's: read once, on the first package.
			tree: "intel-server-sapphire-rapids", typ: 16, cpus: []int{0, 56},
			zones: []zoneID{
				{"perf:package-0", power.KindPackage, "package-0", 0},
				{"perf:psys", power.KindPsys, "psys", -1},
				{"perf:dram-0", power.KindDRAM, "dram", 0},
				{"perf:package-1", power.KindPackage, "package-1", 1},
				{"perf:dram-1", power.KindDRAM, "dram", 1},
			},
			opened: []key{{16, 2, 0}, {16, 5, 0}, {16, 3, 0}, {16, 2, 56}, {16, 3, 56}},
		},
		{
			tree: "amd-17h-epyc-rome", typ: 11, cpus: []int{0},
			zones:  []zoneID{{"perf:package-0", power.KindPackage, "package-0", 0}},
			opened: []key{{11, 2, 0}},
		},
		{
			tree: "amd-19h-epyc-milan-2s", typ: 11, cpus: []int{0, 64},
			zones: []zoneID{
				{"perf:package-0", power.KindPackage, "package-0", 0},
				{"perf:package-1", power.KindPackage, "package-1", 1},
			},
			opened: []key{{11, 2, 0}, {11, 2, 64}},
		},
	} {
		t.Run(tt.tree, func(t *testing.T) {
			f := &fakeOpener{counts: all(tt.typ, tt.cpus...)}
			s, err := NewWith(sensor.Options{SysFS: filepath.Join("testdata", tt.tree)}, f)
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Read()
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.zones, ids(r)); d != "" {
				t.Errorf("zones (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.opened, f.opened, cmp.AllowUnexported(key{})); d != "" {
				t.Errorf("opened (-want +got):\n%s", d)
			}
			if !strings.Contains(s.Method(), fmt.Sprintf("type %d", tt.typ)) {
				t.Errorf("Method() = %q", s.Method())
			}
			if err := s.Close(); err != nil || f.closed != len(f.opened) {
				t.Errorf("Close: %v, %d of %d closed", err, f.closed, len(f.opened))
			}
		})
	}
}

// TestEnergy checks the count → µJ conversion at rapl.c's scale of 2^-32
// J, exact to the microjoule, and that the counts are read each tick.
func TestEnergy(t *testing.T) {
	f := &fakeOpener{counts: all(11, 0)}
	s, err := NewWith(sensor.Options{SysFS: "testdata/amd-17h-epyc-rome"}, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		count uint64
		want  units.Energy
	}{
		{0, 0},
		{1, 0},                           // 0.23 nJ
		{1 << 32, 1_000_000},             // 1 J
		{3 << 31, 1_500_000},             // 1.5 J
		{4295, 1},                        // 4295 × 2^-32 J = 1.00000761 µJ
		{4294, 0},                        // 0.99977 µJ, rounded down
		{1 << 62, 1_073_741_824_000_000}, // 2^30 J: no overflow in the product
	} {
		f.counts[key{11, 2, 0}] = tt.count
		r, err := s.Read()
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Zones[0].Energy; got != tt.want {
			t.Errorf("count %d: %d µJ, want %d", tt.count, got, tt.want)
		}
	}
	f.errOn = key{11, 2, 0}
	if _, err := s.Read(); err == nil || !strings.Contains(err.Error(), "perf:package-0") {
		t.Errorf("Read with a failing counter: %v", err)
	}
}

// tree writes a power PMU tree into a new directory; files maps a path
// below the PMU to its content.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	base := map[string]string{
		"type": "11\n", "cpumask": "0\n", "format/event": "config:0-7\n",
		"events/energy-pkg": "event=0x02\n", "events/energy-pkg.scale": "2.3283064365386962890625e-10\n",
		"events/energy-pkg.unit":                                "Joules\n",
		"/devices/system/cpu/cpu0/topology/physical_package_id": "0\n",
	}
	for k, v := range files {
		base[k] = v
	}
	for k, v := range base {
		if v == "<absent>" {
			continue
		}
		p := filepath.Join(root, pmuDir, k)
		if strings.HasPrefix(k, "/") {
			p = filepath.Join(root, k)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestBadTrees(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  string // in the error
	}{
		{"no PMU", nil, "no RAPL perf PMU"},
		{"type not a number", map[string]string{"type": "power\n"}, "want a PMU type number"},
		{"empty cpumask", map[string]string{"cpumask": "\n"}, "want a CPU list"},
		{"bad cpumask", map[string]string{"cpumask": "0-x\n"}, "want a CPU list"},
		{"unit not joules", map[string]string{"events/energy-pkg.unit": "Watts\n"}, `want "Joules", got "Watts"`},
		{"scale not a number", map[string]string{"events/energy-pkg.scale": "tiny\n"}, "want a positive number"},
		{"negative scale", map[string]string{"events/energy-pkg.scale": "-1\n"}, "want a positive number"},
		{"no scale", map[string]string{"events/energy-pkg.scale": "<absent>"}, "energy-pkg.scale"},
		{"bad event term", map[string]string{"events/energy-pkg": "event=zz\n"}, `event term "event=zz"`},
		{"event too wide", map[string]string{"events/energy-pkg": "event=0x100\n"}, "wider than 8 bits"},
		{"unknown term", map[string]string{"events/energy-pkg": "umask=1\n"}, `no config format for "umask"`},
		{"unknown event only", map[string]string{"events/energy-pkg": "<absent>", "events/energy-foo": "event=0x09\n"}, "no usable energy event"},
		{"type is a directory", map[string]string{"type": "<absent>", "type/x": "1\n"}, "not a regular file"},
		{"no topology", map[string]string{"/devices/system/cpu/cpu0/topology/physical_package_id": "<absent>"}, "physical_package_id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sysfs := t.TempDir()
			if tt.files != nil {
				sysfs = tree(t, tt.files)
			}
			_, err := NewWith(sensor.Options{SysFS: sysfs}, &fakeOpener{counts: all(11, 0)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
			if !errors.Is(err, sensor.ErrUnavailable) {
				t.Errorf("error %v is not ErrUnavailable", err)
			}
		})
	}
}

// TestOpenFailures: an event that does not open is dropped; a refusal
// for want of privilege stops the sensor with the privilege named.
func TestOpenFailures(t *testing.T) {
	f := &fakeOpener{counts: map[key]uint64{{14, 2, 0}: 7 << 32}}
	s, err := NewWith(sensor.Options{SysFS: "testdata/intel-client-skylake"}, f)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.Read()
	if d := cmp.Diff([]zoneID{{"perf:package-0", power.KindPackage, "package-0", 0}}, ids(r)); d != "" {
		t.Errorf("zones (-want +got):\n%s", d)
	}

	_, err = NewWith(sensor.Options{SysFS: "testdata/intel-client-skylake"}, &fakeOpener{})
	if !errors.Is(err, sensor.ErrUnavailable) || !strings.Contains(err.Error(), "no power PMU event opens") {
		t.Errorf("nothing opens: %v", err)
	}

	procfs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(procfs, "sys/kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(procfs, "sys/kernel/perf_event_paranoid"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := Kernel{ProcFS: procfs}
	for _, errno := range []unix.Errno{unix.EACCES, unix.EPERM} {
		f := &fakeOpener{counts: map[key]uint64{}, fail: k.openError(14, 2, 0, errno)}
		_, err = NewWith(sensor.Options{SysFS: "testdata/intel-client-skylake"}, f)
		if !errors.Is(err, sensor.ErrPermission) || !strings.Contains(err.Error(), "perf_event_paranoid is 2; grant CAP_PERFMON, or run as root") {
			t.Errorf("%v: %v", errno, err)
		}
	}
	if got := Paranoid(t.TempDir()); !strings.HasPrefix(got, "perf_event_paranoid is unknown (") {
		t.Errorf("Paranoid without the file = %q", got)
	}
}

func TestParseCPUList(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{in: "0", want: []int{0}},
		{in: "0,28\n", want: []int{0, 28}},
		{in: "0-2,8", want: []int{0, 1, 2, 8}},
		{in: "8,0,0", want: []int{0, 8}},
		{in: "", bad: true},
		{in: "1-0", bad: true},
		{in: "-1", bad: true},
		{in: "0-99999999", bad: true},
	} {
		got, err := parseCPUList(tt.in)
		if (err != nil) != tt.bad || !tt.bad && !cmp.Equal(got, tt.want) {
			t.Errorf("parseCPUList(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestParseEventSpec(t *testing.T) {
	format := map[string]bitField{"event": {0, 7}, "umask": {8, 15}, "edge": {18, 18}}
	for _, tt := range []struct {
		in   string
		want uint64
		bad  bool
	}{
		{in: "event=0x02", want: 2},
		{in: "event=0x3c,umask=0x01", want: 0x013c},
		{in: "event=1,edge", want: 1 | 1<<18},
		{in: "event=0x1ff", bad: true},
		{in: "cmask=1", bad: true},
		{in: "event=", bad: true},
	} {
		got, err := parseEventSpec(tt.in, format)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("parseEventSpec(%q) = %#x, %v", tt.in, got, err)
		}
	}
	for _, s := range []string{"config1:0-7", "config:8-1", "config:0-64", "config:0-3,8-11"} {
		if _, err := parseFormat(s); err == nil {
			t.Errorf("parseFormat(%q) accepted", s)
		}
	}
}

// TestFIFO: a FIFO where an attribute should be is refused, not waited on.
func TestFIFO(t *testing.T) {
	sysfs := tree(t, map[string]string{"cpumask": "<absent>"})
	if err := unix.Mkfifo(filepath.Join(sysfs, pmuDir, "cpumask"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewWith(sensor.Options{SysFS: sysfs}, &fakeOpener{counts: all(11, 0)})
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("FIFO cpumask: %v", err)
	}
}
