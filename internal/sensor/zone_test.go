package sensor

import "testing"

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
