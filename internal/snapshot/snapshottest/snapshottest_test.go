package snapshottest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// TestEnergy: 30 000 003 µJ over 2 s is 15 000 001.5 µW, rounded to the
// nearest microwatt.
func TestEnergy(t *testing.T) {
	want := snapshot.Energy{Total: 100_000_001, Delta: 30_000_003, Power: 15_000_002, Source: power.Measured}
	if diff := cmp.Diff(want, Energy(100_000_001, 30_000_003)); diff != "" {
		t.Errorf("Energy (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Energy(30*units.Joule, 8*units.Joule), Joules(30, 8)); diff != "" {
		t.Errorf("Joules (-want +got):\n%s", diff)
	}
}

func TestBalance(t *testing.T) {
	s := &snapshot.Snapshot{
		Processes: []snapshot.Process{
			{Energy: Energy(100_000_001, 30_000_003)},
			{Energy: Energy(50_000_007, 0)},
		},
		Exited:       12_345_678,
		Unattributed: Energy(2_000_019, 500_023),
		Idle:         Energy(200_000_023, 20_000_029),
	}
	if got := Balance(s); got != s {
		t.Fatal("Balance does not return its argument")
	}
	want := Energy(100_000_001+50_000_007+12_345_678+2_000_019+200_000_023, 30_000_003+500_023+20_000_029)
	if diff := cmp.Diff(want, s.Host); diff != "" {
		t.Errorf("host (-want +got):\n%s", diff)
	}
}
