package power

import (
	"testing"

	"github.com/wattlens/wattlens/internal/units"
)

func TestAtWall(t *testing.T) {
	for _, tt := range []struct {
		name string
		z    Zone
		want bool
	}{
		{"a bmc's meter", Zone{Kind: KindWall}, true},
		{"an acpi power meter", Zone{Kind: KindPsys, Name: "power_meter", Wall: true}, true},
		{"psys", Zone{Kind: KindPsys, Name: "psys"}, false},
		{"a psys named like a meter but not marked", Zone{Kind: KindPsys, Name: "power_meter"}, false},
		{"an estimated platform", Zone{Kind: KindPlatform}, false},
		{"a package", Zone{Kind: KindPackage}, false},
	} {
		if got := tt.z.AtWall(); got != tt.want {
			t.Errorf("%s: AtWall() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPowerBoundAndSpan(t *testing.T) {
	for _, tt := range []struct {
		name  string
		z     Zone
		bound units.Power
		span  units.Energy
	}{
		{"a package without limits: its kind's ceiling", Zone{Kind: KindPackage}, 1000 * units.Watt, 0},
		{"a limit above the ceiling raises the bound", Zone{Kind: KindPackage, MaxPower: 1500 * units.Watt}, 1500 * units.Watt, 0},
		{"a limit below the ceiling never lowers it", Zone{Kind: KindDRAM, MaxPower: 20 * units.Watt}, 500 * units.Watt, 0},
		{"a kind not in the table", Zone{Kind: "mystery"}, DefaultCeiling, 0},
		{"a wall meter", Zone{Kind: KindWall}, 200_000 * units.Watt, 0},
		{"powercap's range", Zone{Kind: KindPackage, MaxRange: 262_143_328_850}, 1000 * units.Watt, 262_143_328_850},
		{"an MSR's raw range wins over an unwrapped counter's", Zone{Kind: KindCore, MaxRange: 0, WrapRange: 4_294_967_296}, 1000 * units.Watt, 4_294_967_296},
	} {
		if got := tt.z.PowerBound(); got != tt.bound {
			t.Errorf("%s: PowerBound() = %v, want %v", tt.name, got, tt.bound)
		}
		if got := tt.z.Span(); got != tt.span {
			t.Errorf("%s: Span() = %v, want %v", tt.name, got, tt.span)
		}
	}
}

func TestResourceOf(t *testing.T) {
	want := map[string]Resource{
		KindPackage: ResourceCPU, KindCore: ResourceCPU, KindUncore: ResourceCPU, KindDRAM: ResourceMemory,
		KindStorage: ResourceStorage, KindNetwork: ResourceNetwork, KindGPU: ResourceGPU,
		KindPlatform: ResourcePlatform, KindPsys: ResourcePlatform, KindWall: ResourcePlatform, "mystery": ResourcePlatform,
	}
	for kind, r := range want {
		if got := ResourceOf(kind); got != r {
			t.Errorf("ResourceOf(%q) = %q, want %q", kind, got, r)
		}
	}
	for i, r := range Resources {
		if r.Index() != i {
			t.Errorf("%q.Index() = %d, want %d", r, r.Index(), i)
		}
	}
	if Resource("mystery").Index() != ResourcePlatform.Index() {
		t.Error("an unknown resource is not counted as platform")
	}
}

func TestActiveFraction(t *testing.T) {
	disk := Device{FullScale: 1000}
	nic := Device{FullScale: 1.25e9}
	for _, c := range []struct {
		d     Device
		delta uint64
		dt    float64
		want  float64
	}{
		{disk, 500, 2, 0.25},
		{disk, 5000, 2, 1}, // more than the interval: at most 1
		{nic, 1_250_000_000, 4, 0.25},
		{disk, 10, 0, 0},
		{Device{}, 10, 1, 0},
	} {
		if got := c.d.ActiveFraction(c.delta, c.dt); got != c.want {
			t.Errorf("%+v: %d over %v s = %v, want %v", c.d, c.delta, c.dt, got, c.want)
		}
	}
}
