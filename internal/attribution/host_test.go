package attribution

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/sensor"
)

// TestHostZones checks which zones of a reading add into host energy when
// a BMC's wall meter (sensor.KindWall) sits next to RAPL, hwmon and GPU
// zones: the wall meter alone, everything else a part of it.
func TestHostZones(t *testing.T) {
	z := func(id, kind, name string) sensor.Zone {
		return sensor.Zone{ID: id, Kind: kind, Name: name, Socket: -1}
	}
	tests := []struct {
		name  string
		zones []sensor.Zone
		want  []string
	}{
		{
			name:  "rapl alone: packages and dram",
			zones: []sensor.Zone{z("p0", sensor.KindPackage, "package-0"), z("d0", sensor.KindDRAM, "dram"), z("c0", sensor.KindCore, "core")},
			want:  []string{"p0", "d0"},
		},
		{
			name:  "rapl and a bmc: the bmc only",
			zones: []sensor.Zone{z("p0", sensor.KindPackage, "package-0"), z("d0", sensor.KindDRAM, "dram"), z("redfish", sensor.KindWall, "redfish")},
			want:  []string{"redfish"},
		},
		{
			name:  "rapl with psys and a bmc: the bmc holds psys too",
			zones: []sensor.Zone{z("p0", sensor.KindPackage, "package-0"), z("ps", sensor.KindPsys, "psys"), z("redfish", sensor.KindWall, "redfish")},
			want:  []string{"redfish"},
		},
		{
			name:  "a bmc holds the gpus",
			zones: []sensor.Zone{z("p0", sensor.KindPackage, "package-0"), z("g0", sensor.KindGPU, "gpu"), z("redfish", sensor.KindWall, "redfish")},
			want:  []string{"redfish"},
		},
		{
			name:  "an estimated platform zone is inside the bmc's figure",
			zones: []sensor.Zone{z("cpu", sensor.KindPackage, "cpu"), z("plat", sensor.KindPlatform, "platform"), z("redfish", sensor.KindWall, "redfish")},
			want:  []string{"redfish"},
		},
		{
			name:  "hwmon power meter without a bmc keeps its rule: psys, gpus held",
			zones: []sensor.Zone{z("p0", sensor.KindPackage, "package-0"), {ID: "pm", Kind: sensor.KindPsys, Name: "power_meter", Socket: -1, Wall: true}, z("g0", sensor.KindGPU, "gpu")},
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
