package sensor

import (
	"testing"

	"github.com/wattlens/wattlens/internal/power"
)

func TestAtWall(t *testing.T) {
	for _, tt := range []struct {
		name string
		z    power.Zone
		want bool
	}{
		{"a bmc's meter", power.Zone{Kind: power.KindWall}, true},
		{"an acpi power meter", power.Zone{Kind: power.KindPsys, Name: "power_meter", Wall: true}, true},
		{"psys", power.Zone{Kind: power.KindPsys, Name: "psys"}, false},
		{"a psys named like a meter but not marked", power.Zone{Kind: power.KindPsys, Name: "power_meter"}, false},
		{"an estimated platform", power.Zone{Kind: power.KindPlatform}, false},
		{"a package", power.Zone{Kind: power.KindPackage}, false},
	} {
		if got := tt.z.AtWall(); got != tt.want {
			t.Errorf("%s: AtWall() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
