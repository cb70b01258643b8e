package attribution

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/units"
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
			v := viewOf(tc.zones, nil)
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

// TestWallMeterJoinsAndLeaves: -s powercap_rapl,redfish with a BMC that
// answers only after start, then stops being read: the tick in which the
// wall zone appears has no delta for it, so the RAPL zones that did
// measure make the host (65 J, not 0); from its second reading the wall
// is the host; when it is gone, RAPL again. Each tick conserves energy.
func TestWallMeterJoinsAndLeaves(t *testing.T) {
	const j = 1_000_000 // µJ per joule
	rapl := func(pkgJ, dramJ uint64) []power.Zone {
		return []power.Zone{zone("p0", power.KindPackage, pkgJ*j), zone("d0", power.KindDRAM, dramJ*j)}
	}
	wall := func(wallJ uint64) power.Zone { return zone("redfish", power.KindWall, wallJ*j) }
	steps := []struct {
		zones    []power.Zone
		host     uint64 // J
		hostFrom string
	}{
		{zones: rapl(0, 0)}, // baseline
		{zones: rapl(55, 10), host: 65, hostFrom: "package+dram"},
		// The BMC answers for the first time: its counter's past is
		// unknown, so it adds nothing, and it must not take RAPL's place.
		{zones: append(rapl(110, 20), wall(5000)), host: 65, hostFrom: "package+dram"},
		{zones: append(rapl(165, 30), wall(5300)), host: 300, hostFrom: "wall"},
		{zones: append(rapl(220, 40), wall(5600)), host: 300, hostFrom: "wall"},
		// The wall zone is gone: RAPL is the host again at once.
		{zones: rapl(275, 50), host: 65, hostFrom: "package+dram"},
	}
	a := New(Options{IdlePower: 0, IdleOrigin: IdleFromFlag})
	for i, st := range steps {
		snap := a.Observe(sample(i, st.zones, proc(1, 1, uint64(i*50))))
		if i == 0 {
			continue
		}
		if got := uint64(snap.Host.Delta); got != st.host*j {
			t.Errorf("tick %d: host %d µJ, want %d J", i, got, st.host)
		}
		if snap.HostFrom != st.hostFrom {
			t.Errorf("tick %d: host from %q, want %q", i, snap.HostFrom, st.hostFrom)
		}
		var sum units.Energy
		for _, p := range snap.Processes {
			sum += p.Delta
		}
		if sum+snap.Unattributed.Delta+snap.Idle.Delta != snap.Host.Delta {
			t.Errorf("tick %d: processes %d + unattributed %d + idle %d ≠ host %d µJ", i, sum, snap.Unattributed.Delta, snap.Idle.Delta, snap.Host.Delta)
		}
	}
}
