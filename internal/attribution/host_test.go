package attribution

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/power"
)

// TestHostZones checks which zones of a reading add into host energy when
// a BMC's wall meter (power.KindWall) sits next to RAPL, hwmon and GPU
// zones: the wall meter alone, everything else a part of it.
func TestHostZones(t *testing.T) {
	z := func(id, kind, name string) power.Zone {
		return power.Zone{ID: id, Kind: kind, Name: name, Socket: -1}
	}
	tests := []struct {
		name  string
		zones []power.Zone
		want  []string
	}{
		{
			name:  "rapl alone: packages and dram",
			zones: []power.Zone{z("p0", power.KindPackage, "package-0"), z("d0", power.KindDRAM, "dram"), z("c0", power.KindCore, "core")},
			want:  []string{"p0", "d0"},
		},
		{
			name:  "rapl and a bmc: the bmc only",
			zones: []power.Zone{z("p0", power.KindPackage, "package-0"), z("d0", power.KindDRAM, "dram"), z("redfish", power.KindWall, "redfish")},
			want:  []string{"redfish"},
		},
		{
			name:  "rapl with psys and a bmc: the bmc holds psys too",
			zones: []power.Zone{z("p0", power.KindPackage, "package-0"), z("ps", power.KindPsys, "psys"), z("redfish", power.KindWall, "redfish")},
			want:  []string{"redfish"},
		},
		{
			name:  "a bmc holds the gpus",
			zones: []power.Zone{z("p0", power.KindPackage, "package-0"), z("g0", power.KindGPU, "gpu"), z("redfish", power.KindWall, "redfish")},
			want:  []string{"redfish"},
		},
		{
			name:  "an estimated platform zone is inside the bmc's figure",
			zones: []power.Zone{z("cpu", power.KindPackage, "cpu"), z("plat", power.KindPlatform, "platform"), z("redfish", power.KindWall, "redfish")},
			want:  []string{"redfish"},
		},
		{
			name:  "hwmon power meter without a bmc keeps its rule: psys, gpus held",
			zones: []power.Zone{z("p0", power.KindPackage, "package-0"), {ID: "pm", Kind: power.KindPsys, Name: "power_meter", Socket: -1, Wall: true}, z("g0", power.KindGPU, "gpu")},
			want:  []string{"pm"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := viewOf(tc.zones)
			var got []string
			for _, zz := range tc.zones {
				if countsInHost(zz.Kind, v) {
					got = append(got, zz.ID)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("zones in host (-want +got):\n%s", diff)
			}
		})
	}
}
