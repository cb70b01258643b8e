package msr

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

// machine is a generated /dev, /sys and /proc for the msr sensor: each
// CPU's msr device is a sparse regular file whose 8 bytes at offset reg
// hold the register, which pread reads exactly as it reads the driver.
type machine struct {
	t                   testing.TB
	devfs, sysfs, procf string
}

func newMachine(t testing.TB, cpuinfo string, packageOf []int) *machine {
	t.Helper()
	root := t.TempDir()
	m := &machine{t: t, devfs: filepath.Join(root, "dev"), sysfs: filepath.Join(root, "sys"), procf: filepath.Join(root, "proc")}
	m.write(filepath.Join(m.procf, "cpuinfo"), cpuinfo)
	for cpu, pkg := range packageOf {
		m.write(filepath.Join(m.sysfs, "devices/system/cpu/cpu"+strconv.Itoa(cpu), "topology/physical_package_id"), strconv.Itoa(pkg)+"\n")
		m.write(m.msrPath(cpu), "")
	}
	return m
}

func (m *machine) opts() sensor.Options {
	return sensor.Options{DevFS: m.devfs, SysFS: m.sysfs, ProcFS: m.procf}
}

func (m *machine) msrPath(cpu int) string {
	return filepath.Join(m.devfs, "cpu", strconv.Itoa(cpu), "msr")
}

func (m *machine) write(path, content string) {
	m.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

func (m *machine) setMSR(cpu int, reg uint32, v uint64) {
	m.t.Helper()
	f, err := os.OpenFile(m.msrPath(cpu), os.O_WRONLY, 0)
	if err != nil {
		m.t.Fatal(err)
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if _, err := f.WriteAt(b[:], int64(reg)); err != nil {
		m.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		m.t.Fatal(err)
	}
}

const amdCPUInfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n"

func TestDevFSAMDTwoSockets(t *testing.T) {
	// CPUs 0,1 on package 0 and 2,3 on package 1. CPUs 1 and 3 hold other
	// values: only the first CPU of each package may be read.
	m := newMachine(t, amdCPUInfo, []int{0, 0, 1, 1})
	for cpu := range 4 {
		m.setMSR(cpu, regAMDPowerUnit, unitESU16)
		m.setMSR(cpu, regAMDPkgEnergy, uint64(1000*(cpu+1)))
	}
	s, err := New(m.opts())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.(sensor.Closer).Close(); err != nil {
			t.Error(err)
		}
	})

	m.setMSR(0, regAMDPkgEnergy, 0xFFFF_FFF0) // advances by 0xFFFF_FFF0 - 1000
	m.setMSR(2, regAMDPkgEnergy, 3000+16)
	zones := mustRead(t, s)
	want := map[string]units.Energy{
		"msr:package-0": uj(0xFFFF_FFF0, 16),
		"msr:package-1": uj(3016, 16),
	}
	if diff := cmp.Diff(want, energies(zones)); diff != "" {
		t.Errorf("first read (-want +got):\n%s", diff)
	}

	m.setMSR(0, regAMDPkgEnergy, 0x10) // wraps: +0x20
	zones = mustRead(t, s)
	if got, want := energies(zones)["msr:package-0"], uj(0xFFFF_FFF0+0x20, 16); got != want {
		t.Errorf("after wrap: %d µJ, want %d", got, want)
	}
	if m := s.(sensor.Describer).Method(); !strings.Contains(m, "AMD") || !strings.Contains(m, "15.26 µJ") {
		t.Errorf("Method() = %q", m)
	}
}

func TestDevFSIntelSparseRegistersAbsent(t *testing.T) {
	m := newMachine(t, "processor : 0\nvendor_id : GenuineIntel\ncpu family : 6\nmodel : 142\n", []int{0})
	m.setMSR(0, regIntelPowerUnit, unitESU14)
	m.setMSR(0, regIntelPkgEnergy, 42)
	// 0x619 … 0x64D read as zeros from the sparse file: absent.
	s, err := New(m.opts())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.(sensor.Closer).Close(); err != nil {
			t.Error(err)
		}
	})
	zones := mustRead(t, s)
	if len(zones) != 1 || zones[0].ID != "msr:package-0" || zones[0].Energy != uj(42, 14) {
		t.Errorf("zones = %+v", zones)
	}
}

func TestDevFSErrors(t *testing.T) {
	t.Run("no cpu directory", func(t *testing.T) {
		_, err := New(sensor.Options{DevFS: t.TempDir(), SysFS: t.TempDir(), ProcFS: t.TempDir()})
		if !errors.Is(err, sensor.ErrUnavailable) || !strings.Contains(err.Error(), "modprobe msr") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("cpu directory without msr files", func(t *testing.T) {
		dev := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dev, "cpu", "0"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := New(sensor.Options{DevFS: dev, SysFS: t.TempDir(), ProcFS: t.TempDir()})
		if !errors.Is(err, sensor.ErrUnavailable) || !strings.Contains(err.Error(), "modprobe msr") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no topology", func(t *testing.T) {
		m := newMachine(t, amdCPUInfo, []int{0})
		if err := os.RemoveAll(filepath.Join(m.sysfs, "devices")); err != nil {
			t.Fatal(err)
		}
		if _, err := New(m.opts()); !errors.Is(err, sensor.ErrUnavailable) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("empty msr files", func(t *testing.T) {
		m := newMachine(t, amdCPUInfo, []int{0})
		if _, err := New(m.opts()); !errors.Is(err, sensor.ErrUnavailable) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unreadable device", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads a mode-000 file")
		}
		m := newMachine(t, amdCPUInfo, []int{0})
		m.setMSR(0, regAMDPowerUnit, unitESU16)
		if err := os.Chmod(m.msrPath(0), 0); err != nil {
			t.Fatal(err)
		}
		_, err := New(m.opts())
		if !errors.Is(err, sensor.ErrPermission) || !strings.Contains(err.Error(), "CAP_SYS_RAWIO") {
			t.Errorf("err = %v", err)
		}
	})
}

// BenchmarkReadDevFS reads two packages' registers through pread on the
// generated device files.
func BenchmarkReadDevFS(b *testing.B) {
	m := newMachine(b, amdCPUInfo, []int{0, 1})
	for cpu := range 2 {
		m.setMSR(cpu, regAMDPowerUnit, unitESU16)
		m.setMSR(cpu, regAMDPkgEnergy, 1000)
	}
	s, err := New(m.opts())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.(sensor.Closer).Close(); err != nil {
			b.Error(err)
		}
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Read(); err != nil {
			b.Fatal(err)
		}
	}
}
