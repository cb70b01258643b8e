package powercap

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/power"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		name       string
		wantKind   string
		wantSocket int
	}{
		{"package-0", power.KindPackage, 0},
		{"package-3", power.KindPackage, 3},
		{"package-1-die-1", power.KindPackage, 1},
		{"psys", power.KindPsys, -1},
		{"core", power.KindCore, -1},
		{"uncore", power.KindUncore, -1},
		{"dram", power.KindDRAM, -1},
		{"package-", "package-", -1},
		{"package-x", "package-x", -1},
		{"package--1", "package--1", -1},
		{"gpu-thing", "gpu-thing", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, socket := kindOf(tt.name)
			if kind != tt.wantKind || socket != tt.wantSocket {
				t.Errorf("kindOf(%q) = %q, %d; want %q, %d", tt.name, kind, socket, tt.wantKind, tt.wantSocket)
			}
		})
	}
}

func TestZoneIDs(t *testing.T) {
	tests := []struct {
		name         string
		isZone       bool
		childOfRapl0 bool
	}{
		{"intel-rapl:0", true, false},
		{"intel-rapl:0:1", true, true},
		{"intel-rapl:0:1:2", true, false},
		{"intel-rapl:12", true, false},
		{"intel-rapl", false, false},
		{"intel-rapl:", false, false},
		{"intel-rapl:0:", false, false},
		{"intel-rapl::0", false, false},
		{"intel-rapl:a", false, false},
		{"intel-rapl-mmio:0", false, false},
		{"intel-rapl-tpmi:0", false, false},
		{"subsystem", false, false},
		{"intel-rapl:1:0", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isZoneID(tt.name); got != tt.isZone {
				t.Errorf("isZoneID(%q) = %v, want %v", tt.name, got, tt.isZone)
			}
			if got := isChildID(tt.name, "intel-rapl:0"); got != tt.childOfRapl0 {
				t.Errorf("isChildID(%q, intel-rapl:0) = %v, want %v", tt.name, got, tt.childOfRapl0)
			}
		})
	}
}

func TestCompareIDs(t *testing.T) {
	got := []string{"intel-rapl:10", "intel-rapl:1:0", "intel-rapl:2", "intel-rapl:1", "intel-rapl:0:10", "intel-rapl:0:2", "intel-rapl:0"}
	slices.SortFunc(got, compareIDs)
	want := []string{"intel-rapl:0", "intel-rapl:0:2", "intel-rapl:0:10", "intel-rapl:1", "intel-rapl:1:0", "intel-rapl:2", "intel-rapl:10"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sorted IDs (-want +got):\n%s", diff)
	}
}

func TestSafeKind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"package-0-die-1", "package-0-die-1"},
		{"mystery", "mystery"},
		{"bad\xff\x1b[31mname", "bad___31mname"},
		{"", "unknown"},
		{"a very long zone name that goes on and on", "a_very_long_zone_name_that_goes_"},
	}
	for _, tt := range tests {
		if got := safeKind(tt.in); got != tt.want {
			t.Errorf("safeKind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
