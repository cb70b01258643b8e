package estimate

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/model"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

var (
	_ sensor.Sensor       = (*Sensor)(nil)
	_ sensor.IdleModeller = (*Sensor)(nil)
	_ sensor.Describer    = (*Sensor)(nil)
)

// machine is a fixture tree: procfs and sysfs roots in a temporary
// directory.
type machine struct {
	t                   *testing.T
	procfs, sysfs       string
	busy, idle, iowait  uint64
	clock               time.Time
	cpuinfo, dmiVendor  string
	dmiProduct, meminfo string
}

func newMachine(t *testing.T, cpuinfoFixture string) *machine {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "..", "machine", "testdata", "cpuinfo", cpuinfoFixture))
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{t: t, procfs: filepath.Join(dir, "proc"), sysfs: filepath.Join(dir, "sys"),
		clock: time.Unix(1_000_000, 0), cpuinfo: string(b), meminfo: "MemTotal:       24684084 kB\n"}
	m.write()
	return m
}

func (m *machine) write() {
	m.t.Helper()
	files := map[string]string{
		filepath.Join(m.procfs, "cpuinfo"): m.cpuinfo,
		filepath.Join(m.procfs, "meminfo"): m.meminfo,
	}
	if m.dmiVendor != "" {
		files[filepath.Join(m.sysfs, "class/dmi/id/sys_vendor")] = m.dmiVendor + "\n"
		files[filepath.Join(m.sysfs, "class/dmi/id/product_name")] = m.dmiProduct + "\n"
	}
	for path, text := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			m.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			m.t.Fatal(err)
		}
	}
	m.writeStat()
}

// writeStat writes /proc/stat with busy time split over user, system,
// irq, softirq and steal, and a guest field that must not be added.
func (m *machine) writeStat() {
	m.t.Helper()
	user := m.busy / 2
	rest := m.busy - user
	sys, irq, soft := rest/2, rest/8, rest/8
	steal := rest - sys - irq - soft
	text := fmt.Sprintf("cpu  %d 0 %d %d %d %d %d %d %d 0\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 1\nctxt 2\nbtime 3\n",
		user, sys, m.idle, m.iowait, irq, soft, steal, user)
	if err := os.WriteFile(filepath.Join(m.procfs, "stat"), []byte(text), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

// step advances the machine by d seconds at utilisation u.
func (m *machine) step(d float64, u float64) {
	ticks := uint64(d * 100 * 2) // USER_HZ × 2 CPUs
	m.busy += uint64(math.Round(float64(ticks) * u))
	m.idle += ticks - uint64(math.Round(float64(ticks)*u))
	m.clock = m.clock.Add(time.Duration(d * float64(time.Second)))
	m.writeStat()
}

func (m *machine) sensor() *Sensor {
	m.t.Helper()
	s, err := NewWithClock(sensor.Options{ProcFS: m.procfs, SysFS: m.sysfs}, func() time.Time { return m.clock })
	if err != nil {
		m.t.Fatal(err)
	}
	return s
}

func joules(r power.Reading) map[string]float64 {
	out := map[string]float64{}
	for _, z := range r.Zones {
		out[z.ID] = z.Energy.Joules()
	}
	return out
}

func TestReadIntegratesModelPower(t *testing.T) {
	m := newMachine(t, "kvm-amd-epyc-genoa.txt")
	s := m.sensor()
	first, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	for id, j := range joules(first) {
		if j != 0 {
			t.Errorf("first read: %s = %g J, want 0 (no interval yet)", id, j)
		}
	}
	steps := []struct{ d, u float64 }{{10, 0.5}, {2, 0}, {5, 1}, {3, 0.25}}
	want := map[string]float64{}
	for _, st := range steps {
		m.step(st.d, st.u)
		b := s.Model().Power(st.u)
		want[ZoneCPU] += b.CPU * st.d
		want[ZoneDRAM] += b.Memory * st.d
		want[ZonePlatform] += b.Platform * st.d
		r, err := s.Read()
		if err != nil {
			t.Fatal(err)
		}
		got := joules(r)
		for id, w := range want {
			if math.Abs(got[id]-w) > 1e-5 {
				t.Errorf("after %+v: %s = %.6f J, want %.6f J", st, id, got[id], w)
			}
		}
		if math.Abs(s.Utilisation()-st.u) > 1e-9 {
			t.Errorf("utilisation %g, want %g", s.Utilisation(), st.u)
		}
	}
}

func TestZones(t *testing.T) {
	s := newMachine(t, "kvm-amd-epyc-genoa.txt").sensor()
	r, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ZoneCPU: power.KindPackage, ZoneDRAM: power.KindDRAM, ZonePlatform: power.KindPlatform}
	if len(r.Zones) != len(want) {
		t.Fatalf("%d zones, want %d", len(r.Zones), len(want))
	}
	for _, z := range r.Zones {
		if want[z.ID] != z.Kind || z.Source != power.Estimated || z.MaxRange != 0 {
			t.Errorf("zone %+v: want kind %q, source estimated, no range", z, want[z.ID])
		}
	}
}

func TestUtilisationEdgeCases(t *testing.T) {
	m := newMachine(t, "kvm-amd-epyc-genoa.txt")
	s := m.sensor()
	if _, err := s.Read(); err != nil {
		t.Fatal(err)
	}
	m.step(4, 0.75)
	if _, err := s.Read(); err != nil {
		t.Fatal(err)
	}
	// No ticks but time passed: the last utilisation carries on.
	m.clock = m.clock.Add(2 * time.Second)
	before := joules(mustRead(t, s))[ZoneCPU]
	if s.Utilisation() != 0.75 {
		t.Errorf("no ticks: utilisation %g, want the last 0.75", s.Utilisation())
	}
	// Counters reset (went backwards): no negative energy, last utilisation.
	m.busy, m.idle = 10, 10
	m.clock = m.clock.Add(2 * time.Second)
	m.writeStat()
	after := joules(mustRead(t, s))[ZoneCPU]
	if after < before || s.Utilisation() != 0.75 {
		t.Errorf("reset: energy %g → %g, utilisation %g", before, after, s.Utilisation())
	}
	// Clock not advancing: no energy added.
	same := joules(mustRead(t, s))[ZoneCPU]
	if same != after {
		t.Errorf("same instant: energy %g → %g, want unchanged", after, same)
	}
}

func mustRead(t *testing.T, s *Sensor) power.Reading {
	t.Helper()
	r, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Host energy is Σ package + dram + platform; IdlePower must be what those
// zones add up to at zero utilisation.
func TestIdlePowerMatchesZones(t *testing.T) {
	m := newMachine(t, "kvm-amd-epyc-genoa.txt")
	s := m.sensor()
	mustRead(t, s)
	m.step(100, 0)
	sum := 0.0
	for _, j := range joules(mustRead(t, s)) {
		sum += j
	}
	if got, want := units.FromWatts(sum/100), s.IdlePower(); math.Abs(float64(got)-float64(want)) > 10 {
		t.Errorf("zones at idle = %v µW, IdlePower = %v µW", got, want)
	}
}

func TestMachineDetection(t *testing.T) {
	tests := []struct {
		name, fixture, vendor, product string
		wantVM                         bool
		wantMethod                     []string
	}{
		{"kvm guest with hypervisor flag", "kvm-amd-epyc-genoa.txt", "", "", true,
			[]string{"hypervisor flag", "VM share: 2 vCPUs", "Genoa", "family 0x19 model 0x11"}},
		{"arm guest on QEMU, no flag", "arm64-neoverse-v2.txt", "QEMU", "KVM Virtual Machine", true,
			[]string{"QEMU/KVM", "VM share: 2 vCPUs", "Neoverse V2"}},
		{"ec2 bare metal", "arm64-neoverse-v2.txt", "Amazon EC2", "c7g.metal", false,
			[]string{"cloud bare-metal instance"}},
		{"laptop", "laptop-intel-i7-8650u.txt", "LENOVO", "20L7S02V00", false,
			[]string{"bare metal", "Kaby Lake", "× 1 sockets"}},
		{"azure", "laptop-intel-i7-8650u.txt", "Microsoft Corporation", "Virtual Machine", true,
			[]string{"Microsoft Hyper-V"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, tc.fixture)
			m.dmiVendor, m.dmiProduct = tc.vendor, tc.product
			m.write()
			s := m.sensor()
			method := s.Method()
			if strings.Contains(method, "virtual machine") != tc.wantVM {
				t.Errorf("Method() = %q, want VM %v", method, tc.wantVM)
			}
			for _, w := range tc.wantMethod {
				if !strings.Contains(method, w) {
					t.Errorf("Method() = %q, want it to contain %q", method, w)
				}
			}
		})
	}
}

func TestMissingFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := New(sensor.Options{ProcFS: dir, SysFS: dir})
	if !errors.Is(err, sensor.ErrUnavailable) {
		t.Errorf("no /proc/stat: err = %v, want ErrUnavailable", err)
	}
	// cpuinfo and meminfo missing: still works, on generic figures.
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte("cpu 1 2 3 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(sensor.Options{ProcFS: dir, SysFS: dir})
	if err != nil {
		t.Fatal(err)
	}
	if d := s.(sensor.Describer).Method(); !strings.Contains(d, "unknown CPU") {
		t.Errorf("Method() = %q, want the generic row", d)
	}
	if err := os.Remove(filepath.Join(dir, "stat")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(); err == nil {
		t.Error("stat vanished: want a Read error")
	}
}

func TestModelUsesMachine(t *testing.T) {
	s := newMachine(t, "kvm-amd-epyc-genoa.txt").sensor()
	want := model.For(model.Machine{CPU: "AMD EPYC", Query: model.Query{Name: "AMD EPYC", VendorID: "AuthenticAMD", Family: 25, Model: 17, Stepping: 1},
		Sockets: 1, Threads: 2, MemoryGB: 24684084.0 / (1 << 20), VM: true})
	if got := s.Model().Idle(); math.Abs(got.Wall-want.Idle().Wall) > 1e-9 {
		t.Errorf("idle %+v, want %+v", got, want.Idle())
	}
}

// A bare-metal CPU without a table row: the method line says which
// fallback gave its TDP, from the cores and frequency cpuinfo gives.
func TestMethodNamesTheFallback(t *testing.T) {
	m := newMachine(t, "kvm-amd-epyc-genoa.txt")
	var b strings.Builder
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&b, "processor\t: %d\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 15\n"+
			"model name\t: Intel(R) Xeon(R) CPU           E5345  @ 2.33GHz\nstepping\t: 11\nphysical id\t: %d\ncore id\t\t: %d\n"+
			"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic\n\n", i, i/4, i%4)
	}
	m.cpuinfo = b.String()
	m.write()
	s := m.sensor()
	d := s.Method()
	for _, want := range []string{"CPU not in table", "fallback TDP", "4 cores/socket (cores)", "2.33 GHz", `"intel-core2"`} {
		if !strings.Contains(d, want) {
			t.Errorf("Method() lacks %q:\n%s", want, d)
		}
	}
	if idle := s.Model().Idle().Wall; idle < 50 {
		t.Errorf("idle %.1f W of a two-socket 2007 server; want the size of one (≥ 50 W)", idle)
	}
}
