package msr

import (
	"errors"
	"math/big"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

const (
	unitESU14 = 0x000A0E03 // PU 3, ESU 14 (61.04 µJ), TU 10: Intel client and most servers
	unitESU16 = 0x000A1003 // ESU 16 (15.26 µJ): AMD Zen
)

// uj is the exact floor of raw × 10^6 / 2^esu, computed independently of
// energyUnit with big integers.
func uj(raw uint64, esu uint) units.Energy {
	n := new(big.Int).Mul(new(big.Int).SetUint64(raw), big.NewInt(1_000_000))
	n.Rsh(n, esu)
	return units.Energy(n.Uint64())
}

func mustSensor(t *testing.T, r RegisterReader, id cpuID, pkgs map[int]int) *msrSensor {
	t.Helper()
	s, err := newSensor(r, id, pkgs, nil)
	if err != nil {
		t.Fatalf("newSensor: %v", err)
	}
	return s
}

func mustRead(t *testing.T, s sensor.Sensor) []power.Zone {
	t.Helper()
	r, err := s.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return r.Zones
}

func energies(zones []power.Zone) map[string]units.Energy {
	m := map[string]units.Energy{}
	for _, z := range zones {
		m[z.ID] = z.Energy
	}
	return m
}

func TestDiscoveryIntelClient(t *testing.T) {
	f := newFakeMSR()
	f.set(0, regIntelPowerUnit, unitESU14)
	f.set(0, regIntelPkgEnergy, 1000)
	f.set(0, regIntelPP0Energy, 600)
	f.set(0, regIntelPP1Energy, 50)
	f.set(0, regIntelPsysEnergy, 5000)
	// no DRAM register on a client part: EIO, dropped

	s := mustSensor(t, f, cpuID{vendor: "GenuineIntel", family: 6, model: 0x8C}, map[int]int{0: 0})
	want := []power.Zone{
		{ID: "msr:package-0", Kind: power.KindPackage, Socket: 0, Name: "package-0", Energy: uj(1000, 14), WrapRange: uj(1<<32, 14), Source: power.Measured},
		{ID: "msr:core-0", Kind: power.KindCore, Socket: 0, Name: "core", Energy: uj(600, 14), WrapRange: uj(1<<32, 14), Source: power.Measured},
		{ID: "msr:uncore-0", Kind: power.KindUncore, Socket: 0, Name: "uncore", Energy: uj(50, 14), WrapRange: uj(1<<32, 14), Source: power.Measured},
		{ID: "msr:psys", Kind: power.KindPsys, Socket: -1, Name: "psys", Energy: uj(5000, 14), WrapRange: uj(1<<32, 14), Source: power.Measured},
	}
	if diff := cmp.Diff(want, mustRead(t, s)); diff != "" {
		t.Errorf("zones (-want +got):\n%s", diff)
	}
	if got := s.Name(); got != Name {
		t.Errorf("Name() = %q", got)
	}
}

func TestDiscoveryServerTwoSockets(t *testing.T) {
	f := newFakeMSR()
	for _, cpu := range []int{0, 28} {
		f.set(cpu, regIntelPowerUnit, unitESU14)
		f.set(cpu, regIntelPkgEnergy, 2000)
		f.set(cpu, regIntelDRAMEnergy, 1000)
		f.set(cpu, regIntelPP0Energy, 0) // reads zero: absent (Linux rapl_check_domain)
		f.set(cpu, regIntelPsysEnergy, 777)
	}
	s := mustSensor(t, f, cpuID{vendor: "GenuineIntel", family: 6, model: 0x55}, map[int]int{0: 0, 1: 28})

	// Skylake-SP: DRAM counts in a fixed 15.3 µJ, the rest in 1/2^ESU J;
	// psys is read on the first package only.
	want := map[string]units.Energy{
		"msr:package-0": uj(2000, 14),
		"msr:dram-0":    15_300,
		"msr:psys":      uj(777, 14),
		"msr:package-1": uj(2000, 14),
		"msr:dram-1":    15_300,
	}
	zones := mustRead(t, s)
	if diff := cmp.Diff(want, energies(zones)); diff != "" {
		t.Errorf("energies (-want +got):\n%s", diff)
	}
	for _, z := range zones {
		if z.ID == "msr:dram-1" && (z.Socket != 1 || z.Kind != power.KindDRAM || z.Name != "dram") {
			t.Errorf("dram-1 zone = %+v", z)
		}
	}
}

func TestSapphireRapidsPsysInJoules(t *testing.T) {
	f := newFakeMSR()
	f.set(0, regIntelPowerUnit, unitESU14)
	f.set(0, regIntelPkgEnergy, 100)
	f.set(0, regIntelDRAMEnergy, 100)
	f.set(0, regIntelPsysEnergy, 3)
	s := mustSensor(t, f, cpuID{vendor: "GenuineIntel", family: 6, model: 0x8F}, map[int]int{0: 0})
	want := map[string]units.Energy{
		"msr:package-0": uj(100, 14),
		"msr:dram-0":    uj(100, 14), // ESU, not 15.3 µJ, since Linux 6.1
		"msr:psys":      3 * units.Joule,
	}
	if diff := cmp.Diff(want, energies(mustRead(t, s))); diff != "" {
		t.Errorf("energies (-want +got):\n%s", diff)
	}
}

func TestAMDAndHygon(t *testing.T) {
	for _, vendor := range []string{"AuthenticAMD", "HygonGenuine"} {
		t.Run(vendor, func(t *testing.T) {
			f := newFakeMSR()
			for _, cpu := range []int{0, 64} {
				f.set(cpu, regAMDPowerUnit, unitESU16)
				f.set(cpu, regAMDPkgEnergy, 0xFFFF_FFFF)
				f.set(cpu, 0xC001029A, 12345) // per-core: must not be read
			}
			s := mustSensor(t, f, cpuID{vendor: vendor, family: 0x19, model: 0x01}, map[int]int{0: 0, 1: 64})
			f.advance(0, regAMDPkgEnergy, 10) // wraps
			f.advance(64, regAMDPkgEnergy, 1)
			want := map[string]units.Energy{
				"msr:package-0": uj(0xFFFF_FFFF+10, 16),
				"msr:package-1": uj(0xFFFF_FFFF+1, 16),
			}
			if diff := cmp.Diff(want, energies(mustRead(t, s))); diff != "" {
				t.Errorf("energies (-want +got):\n%s", diff)
			}
			if n := f.readsOf(0xC001029A); n != 0 {
				t.Errorf("per-core register read %d times", n)
			}
			if n := f.readsOf(regIntelPkgEnergy); n != 0 {
				t.Errorf("Intel register read %d times on %s", n, vendor)
			}
		})
	}
}

// TestSequenceWraps drives one package counter through steps that wrap
// the 32-bit register (one step is a hair short of a full wrap) and checks
// the reported energy against the exact total at every step: no
// fractional microjoule is lost on the way.
func TestSequenceWraps(t *testing.T) {
	f := newFakeMSR()
	f.set(0, regIntelPowerUnit, unitESU14)
	const start = 0xDEAD_0000_FFFF_FF00 // reserved upper bits set, low word near the top
	f.set(0, regIntelPkgEnergy, start)
	s := mustSensor(t, f, cpuID{vendor: "GenuineIntel", family: 6, model: 0x9E}, map[int]int{0: 0})

	total := uint64(start & counterMask)
	steps := []uint64{0, 0x100, 1, 3, 1<<32 - 1, 7, 0x8000_0000, 0x8000_0000, 12345}
	var prev units.Energy
	for i, step := range steps {
		f.advance(0, regIntelPkgEnergy, step)
		total += step
		got := energies(mustRead(t, s))["msr:package-0"]
		if want := uj(total, 14); got != want {
			t.Fatalf("step %d (+%d): energy %d µJ, want %d", i, step, got, want)
		}
		if got < prev {
			t.Fatalf("step %d: energy went backwards: %d < %d", i, got, prev)
		}
		prev = got
	}
}

func TestReadErrorThenRecovery(t *testing.T) {
	f := newFakeMSR()
	f.set(0, regIntelPowerUnit, unitESU14)
	f.set(0, regIntelPkgEnergy, 100)
	s := mustSensor(t, f, cpuID{vendor: "GenuineIntel", family: 6, model: 0x9E}, map[int]int{0: 0})

	f.advance(0, regIntelPkgEnergy, 50)
	f.fail(0, syscall.EIO)
	if _, err := s.Read(); err == nil {
		t.Fatal("Read succeeded while the register fails")
	}
	f.fail(0, nil)
	f.advance(0, regIntelPkgEnergy, 50)
	if got, want := energies(mustRead(t, s))["msr:package-0"], uj(200, 14); got != want {
		t.Errorf("after recovery: %d µJ, want %d", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	intel := cpuID{vendor: "GenuineIntel", family: 6, model: 0x9E}
	tests := []struct {
		name  string
		setup func(*fakeMSR)
		id    cpuID
		want  error
	}{
		{
			name: "unknown vendor",
			id:   cpuID{vendor: "CentaurHauls", family: 6, model: 0x0F},
			want: sensor.ErrUnavailable,
		},
		{
			name:  "no rapl at all (pre-Sandy Bridge)",
			setup: func(*fakeMSR) {},
			id:    intel,
			want:  sensor.ErrUnavailable,
		},
		{
			name: "unit register but every counter absent",
			setup: func(f *fakeMSR) {
				f.set(0, regIntelPowerUnit, unitESU14)
				f.set(0, regIntelPkgEnergy, 0)
			},
			id:   intel,
			want: sensor.ErrUnavailable,
		},
		{
			name:  "EACCES",
			setup: func(f *fakeMSR) { f.fail(0, openError(syscall.EACCES)) },
			id:    intel,
			want:  sensor.ErrPermission,
		},
		{
			name:  "EPERM without CAP_SYS_RAWIO",
			setup: func(f *fakeMSR) { f.fail(0, openError(syscall.EPERM)) },
			id:    intel,
			want:  sensor.ErrPermission,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMSR()
			if tt.setup != nil {
				tt.setup(f)
			}
			_, err := newSensor(f, tt.id, map[int]int{0: 0}, nil)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEnergyUnit(t *testing.T) {
	tests := []struct {
		name  string
		unit  energyUnit
		count uint64
		want  units.Energy
	}{
		{name: "ESU 14 one count", unit: unitFromPowerUnitReg(unitESU14), count: 1, want: 61},
		{name: "ESU 14 exact", unit: unitFromPowerUnitReg(unitESU14), count: 1 << 14, want: units.Joule},
		{name: "ESU 16 wrap range", unit: unitFromPowerUnitReg(unitESU16), count: 1 << 32, want: 65_536 * units.Joule},
		{name: "ESU 0 (joules)", unit: unitFromPowerUnitReg(0), count: 5, want: 5 * units.Joule},
		{name: "dram 15.3", unit: dramServerUnit, count: 10, want: 153},
		{name: "dram 15.3 rounds down", unit: dramServerUnit, count: 1, want: 15},
		{name: "psys joule", unit: psysJouleUnit, count: 7, want: 7 * units.Joule},
		{name: "huge count", unit: unitFromPowerUnitReg(unitESU14), count: 1 << 50, want: uj(1<<50, 14)},
		{name: "beyond 2^64 µJ saturates", unit: psysJouleUnit, count: 1 << 63, want: units.Energy(^uint64(0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.unit.microjoules(tt.count); got != tt.want {
				t.Errorf("microjoules(%d) = %d, want %d", tt.count, got, tt.want)
			}
		})
	}
}

func TestIntelQuirks(t *testing.T) {
	tests := []struct {
		name          string
		family, model int
		dram, psys    bool
	}{
		{name: "Haswell-X", family: 6, model: 0x3F, dram: true},
		{name: "Broadwell-X", family: 6, model: 0x4F, dram: true},
		{name: "Broadwell-D uses the ESU", family: 6, model: 0x56},
		{name: "Skylake-X", family: 6, model: 0x55, dram: true},
		{name: "Ice Lake-X", family: 6, model: 0x6A, dram: true},
		{name: "Ice Lake-D", family: 6, model: 0x6C, dram: true},
		{name: "Xeon Phi KNL", family: 6, model: 0x57, dram: true},
		{name: "Xeon Phi KNM", family: 6, model: 0x85, dram: true},
		{name: "Sapphire Rapids", family: 6, model: 0x8F, psys: true},
		{name: "Emerald Rapids", family: 6, model: 0xCF, psys: true},
		{name: "Granite Rapids (not in the MSR table)", family: 6, model: 0xAD},
		{name: "Kaby Lake client", family: 6, model: 0x9E},
		{name: "other family", family: 0x13, model: 0x55},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := intelQuirks(tt.family, tt.model)
			if got := q.dramUnit != nil; got != tt.dram {
				t.Errorf("fixed DRAM unit = %v, want %v", got, tt.dram)
			}
			if got := q.psysUnit != nil; got != tt.psys {
				t.Errorf("joule psys unit = %v, want %v", got, tt.psys)
			}
		})
	}
}
