package hwmon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

// sysfs is a generated /sys with hwmon devices laid out as the kernel
// does: /sys/class/hwmon/hwmonN is a symlink to the device's hwmon
// directory under /sys/devices.
type sysfs struct {
	t    testing.TB
	root string
}

func newSysfs(t *testing.T) *sysfs {
	t.Helper()
	s := &sysfs{t: t, root: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(s.root, "class", "hwmon"), 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// device creates /sys/devices/<parent>/hwmon/<id> with files and links it
// from /sys/class/hwmon/<id>. It returns the device's directory.
func (s *sysfs) device(id, parent string, files map[string]string) string {
	s.t.Helper()
	dir := filepath.Join(s.root, "devices", parent, "hwmon", id)
	s.files(dir, files)
	if err := os.Symlink(dir, filepath.Join(s.root, "class", "hwmon", id)); err != nil {
		s.t.Fatal(err)
	}
	return dir
}

// legacyDevice lays a device out as drivers registered with the old
// hwmon_device_register do (acpi_power_meter): the attributes, name
// included, live on the parent device, and hwmonN only links back to it
// through "device". It returns the parent's directory.
func (s *sysfs) legacyDevice(id, parent string, files map[string]string) string {
	s.t.Helper()
	parentDir := filepath.Join(s.root, "devices", parent)
	s.files(parentDir, files)
	dir := s.device(id, parent, map[string]string{"uevent": ""})
	if err := os.Symlink(parentDir, filepath.Join(dir, "device")); err != nil {
		s.t.Fatal(err)
	}
	return parentDir
}

func (s *sysfs) files(dir string, files map[string]string) {
	s.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	for name, content := range files {
		s.write(filepath.Join(dir, name), content)
	}
}

func (s *sysfs) write(path, content string) {
	s.t.Helper()
	if err := os.WriteFile(path, []byte(content+"\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sysfs) opts() sensor.Options { return sensor.Options{SysFS: s.root} }

// Real drivers' attribute sets.

func coretemp() map[string]string {
	return map[string]string{
		"name": "coretemp", "temp1_input": "45000", "temp1_label": "Package id 0",
		"temp1_crit": "100000", "temp2_input": "43000", "temp2_label": "Core 0",
	}
}

func nct6775() map[string]string {
	return map[string]string{
		"name": "nct6798", "in0_input": "1032", "in1_input": "1016", "fan1_input": "1080",
		"fan2_input": "0", "temp1_input": "36000", "pwm1": "128", "pwm1_enable": "5",
	}
}

// amdEnergy has two cores and two sockets, as amd_energy numbers them:
// the cores first, then the sockets.
func amdEnergy(core0, core1, sock0, sock1 uint64) map[string]string {
	return map[string]string{
		"name":           "amd_energy",
		"energy1_input":  fmt.Sprint(core0),
		"energy1_label":  "Ecore000",
		"energy2_input":  fmt.Sprint(core1),
		"energy2_label":  "Ecore001",
		"energy3_input":  fmt.Sprint(sock0),
		"energy3_label":  "Esocket0",
		"energy4_input":  fmt.Sprint(sock1),
		"energy4_label":  "Esocket1",
		"energy10_input": "5", // a channel without a label is not a socket
	}
}

func powerMeter(uw uint64) map[string]string {
	return map[string]string{
		"name":                        "power_meter",
		"power1_average":              fmt.Sprint(uw),
		"power1_average_interval":     "1000",
		"power1_average_interval_max": "60000", "power1_average_interval_min": "1000",
		"power1_is_battery": "0", "power1_accuracy": "95.0%",
		"power1_model_number": "DELL", "power1_oem_info": "", "power1_serial_number": "",
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)} }

func mustNew(t *testing.T, s *sysfs, c *fakeClock) *hwmonSensor {
	t.Helper()
	h, err := newSensor(s.opts(), c.now)
	if err != nil {
		t.Fatalf("newSensor: %v", err)
	}
	return h
}

func mustRead(t *testing.T, s sensor.Sensor) []power.Zone {
	t.Helper()
	r, err := s.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return r.Zones
}

func TestDiscoveryMixedMachine(t *testing.T) {
	s := newSysfs(t)
	s.device("hwmon0", "platform/coretemp.0", coretemp())
	s.device("hwmon1", "platform/nct6775.656", nct6775())
	s.device("hwmon2", "platform/amd_energy.0", amdEnergy(11, 12, 1_000_000, 2_000_000))
	s.legacyDevice("hwmon3", "LNXSYSTM:00/LNXSYBUS:00/ACPI000D:00", powerMeter(350_000_000))
	c := newClock()
	h := mustNew(t, s, c)

	c.advance(2 * time.Second)
	want := []power.Zone{
		{ID: "hwmon:hwmon2:energy3", Kind: power.KindPackage, Socket: 0, Name: "package-0", Energy: 1_000_000, Source: power.Measured},
		{ID: "hwmon:hwmon2:energy4", Kind: power.KindPackage, Socket: 1, Name: "package-1", Energy: 2_000_000, Source: power.Measured},
		// 350 W for 2 s since the sensor started.
		{ID: "hwmon:hwmon3:power1", Kind: power.KindPsys, Socket: -1, Name: "power_meter", Wall: true, Energy: 700 * units.Joule, Source: power.Measured},
	}
	if diff := cmp.Diff(want, mustRead(t, h)); diff != "" {
		t.Errorf("zones (-want +got):\n%s", diff)
	}
	if got := h.Name(); got != Name {
		t.Errorf("Name() = %q", got)
	}
	if m := h.Method(); !strings.Contains(m, "power1_average (power integrated over time)") {
		t.Errorf("Method() = %q", m)
	}
}

// TestPowerIntegrationSequence steps a power meter through changes of
// power, a clock that does not move, a vanished file and its return.
func TestPowerIntegrationSequence(t *testing.T) {
	s := newSysfs(t)
	dir := s.legacyDevice("hwmon0", "LNXSYSTM:00/LNXSYBUS:00/ACPI000D:00", powerMeter(100_000_000)) // 100 W at start
	c := newClock()
	h := mustNew(t, s, c)
	value := filepath.Join(dir, "power1_average")

	steps := []struct {
		name    string
		advance time.Duration
		power   string // written before the read; "" removes the file
		want    units.Energy
		wantErr bool
	}{
		{name: "ramp 100 W → 200 W over 2 s", advance: 2 * time.Second, power: "200000000", want: 300 * units.Joule},
		{name: "steady 200 W for 2 s", advance: 2 * time.Second, power: "200000000", want: 700 * units.Joule},
		{name: "clock still", advance: 0, power: "200000000", want: 700 * units.Joule},
		{name: "200 W → 1 µW over 1 ms", advance: time.Millisecond, power: "1", want: 700*units.Joule + 100_000},
		{name: "file vanishes", advance: time.Second, power: "", wantErr: true},
		{name: "file returns: 1 µW → 0 over the 2 s gap", advance: time.Second, power: "0", want: 700*units.Joule + 100_001},
		{name: "0 W → 1 W over 0.5 s", advance: 500 * time.Millisecond, power: "1000000", want: 700*units.Joule + 350_001},
	}
	for _, st := range steps {
		c.advance(st.advance)
		if st.power == "" {
			if err := os.Remove(value); err != nil {
				t.Fatal(err)
			}
		} else {
			s.write(value, st.power)
		}
		r, err := h.Read()
		if st.wantErr {
			if err == nil {
				t.Fatalf("%s: Read succeeded", st.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: Read: %v", st.name, err)
		}
		if got := r.Zones[0].Energy; got != st.want {
			t.Fatalf("%s: energy %d µJ, want %d", st.name, got, st.want)
		}
	}
}

func TestEnergyCounterPassesThrough(t *testing.T) {
	s := newSysfs(t)
	dir := s.device("hwmon4", "platform/amd_energy.0", amdEnergy(1, 2, 500, 600))
	h := mustNew(t, s, newClock())
	for _, v := range []uint64{500, 9_000_000, 1 << 40, 3} { // the last: driver reloaded, a reset
		s.write(filepath.Join(dir, "energy3_input"), fmt.Sprint(v))
		zones := mustRead(t, h)
		if zones[0].ID != "hwmon:hwmon4:energy3" || zones[0].Energy != units.Energy(v) || zones[0].MaxRange != 0 {
			t.Fatalf("zone = %+v, want energy %d and no range", zones[0], v)
		}
	}
}

// TestAttributesInHwmonDir covers drivers registered with
// hwmon_device_register_with_info: the attributes live in hwmonN itself
// (and "device" is a parent without a name).
func TestAttributesInHwmonDir(t *testing.T) {
	s := newSysfs(t)
	dir := s.device("hwmon1", "platform/ACPI000D:00", powerMeter(80_000_000))
	s.files(filepath.Join(dir, "device"), map[string]string{"uevent": "", "modalias": "acpi:ACPI000D:"})
	c := newClock()
	h := mustNew(t, s, c)
	c.advance(10 * time.Second)
	zones := mustRead(t, h)
	if len(zones) != 1 || zones[0].ID != "hwmon:hwmon1:power1" || zones[0].Kind != power.KindPsys || zones[0].Energy != 800*units.Joule {
		t.Errorf("zones = %+v", zones)
	}
}

func TestPowerInputPreferredToAverage(t *testing.T) {
	dir := t.TempDir()
	for name, v := range map[string]string{"power1_average": "1", "power1_input": "2", "power2_average": "3", "energy1_input": "4", "power1_label": "System"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	chs, err := readChannels(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []channel{
		{typ: "energy", index: 1, file: filepath.Join(dir, "energy1_input")},
		{typ: "power", index: 1, file: filepath.Join(dir, "power1_input"), label: "System"},
		{typ: "power", index: 2, file: filepath.Join(dir, "power2_average")},
	}
	if diff := cmp.Diff(want, chs, cmp.AllowUnexported(channel{})); diff != "" {
		t.Errorf("channels (-want +got):\n%s", diff)
	}
}

func TestNewErrors(t *testing.T) {
	t.Run("no hwmon class", func(t *testing.T) {
		_, err := newSensor(sensor.Options{SysFS: t.TempDir()}, newClock().now)
		if !errors.Is(err, sensor.ErrUnavailable) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("temperature and fan devices only", func(t *testing.T) {
		s := newSysfs(t)
		s.device("hwmon0", "platform/coretemp.0", coretemp())
		s.device("hwmon1", "platform/nct6775.656", nct6775())
		_, err := newSensor(s.opts(), newClock().now)
		if !errors.Is(err, sensor.ErrUnavailable) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unknown power driver", func(t *testing.T) {
		s := newSysfs(t)
		s.device("hwmon0", "i2c-1/1-0040", map[string]string{"name": "ina226", "power1_input": "1500000"})
		_, err := newSensor(s.opts(), newClock().now)
		if !errors.Is(err, sensor.ErrUnavailable) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("amd_energy per-core counters only", func(t *testing.T) {
		s := newSysfs(t)
		s.device("hwmon0", "platform/amd_energy.0", map[string]string{"name": "amd_energy", "energy1_input": "1", "energy1_label": "Ecore000"})
		_, err := newSensor(s.opts(), newClock().now)
		if !errors.Is(err, sensor.ErrUnavailable) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unparsable value", func(t *testing.T) {
		s := newSysfs(t)
		s.device("hwmon0", "LNXSYSTM:00/ACPI000D:00", map[string]string{"name": "power_meter", "power1_average": "n/a"})
		_, err := newSensor(s.opts(), newClock().now)
		if !errors.Is(err, sensor.ErrUnavailable) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("root-only counters", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads mode-000 files")
		}
		s := newSysfs(t)
		dir := s.device("hwmon0", "platform/amd_energy.0", amdEnergy(1, 2, 3, 4))
		for _, f := range []string{"energy3_input", "energy4_input"} {
			if err := os.Chmod(filepath.Join(dir, f), 0); err != nil {
				t.Fatal(err)
			}
		}
		_, err := newSensor(s.opts(), newClock().now)
		if !errors.Is(err, sensor.ErrPermission) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("some readable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads mode-000 files")
		}
		s := newSysfs(t)
		dir := s.device("hwmon0", "platform/amd_energy.0", amdEnergy(1, 2, 3, 4))
		if err := os.Chmod(filepath.Join(dir, "energy4_input"), 0); err != nil {
			t.Fatal(err)
		}
		h, err := newSensor(s.opts(), newClock().now)
		if err != nil {
			t.Fatal(err)
		}
		if zones := mustRead(t, h); len(zones) != 1 || zones[0].Socket != 0 {
			t.Errorf("zones = %+v", zones)
		}
	})
}

// BenchmarkRead reads two amd_energy socket counters and a power meter.
func BenchmarkRead(b *testing.B) {
	s := &sysfs{t: b, root: b.TempDir()}
	if err := os.MkdirAll(filepath.Join(s.root, "class", "hwmon"), 0o755); err != nil {
		b.Fatal(err)
	}
	s.device("hwmon0", "platform/amd_energy.0", amdEnergy(1, 2, 3, 4))
	s.legacyDevice("hwmon1", "LNXSYSTM:00/LNXSYBUS:00/ACPI000D:00", powerMeter(1))
	h, err := newSensor(s.opts(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Read(); err != nil {
			b.Fatal(err)
		}
	}
}
