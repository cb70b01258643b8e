package exporter

import (
	"testing"

	"github.com/wattlens/wattlens/internal/snapshot"
)

func TestResourceShares(t *testing.T) {
	tests := []struct {
		name        string
		e           snapshot.ResourceEnergy
		long, short string
	}{
		{"largest first, under 1 % left out", snapshot.ResourceEnergy{200, 80, 715, 0, 0, 5}, "storage 72 %, cpu 20 %, memory 8 %", "disk 72% cpu 20% mem 8%"},
		{"nothing", snapshot.ResourceEnergy{}, "", ""},
		{"one", snapshot.ResourceEnergy{0, 0, 0, 0, 9, 0}, "gpu 100 %", "gpu 100%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ResourceShares(tc.e, false); got != tc.long {
				t.Errorf("long: %q, want %q", got, tc.long)
			}
			if got := ResourceShares(tc.e, true); got != tc.short {
				t.Errorf("short: %q, want %q", got, tc.short)
			}
		})
	}
}

func TestRestResources(t *testing.T) {
	s := &snapshot.Snapshot{Resources: snapshot.HostResources{
		Host:         snapshot.Resources{Delta: snapshot.ResourceEnergy{100, 50, 30}, Total: snapshot.ResourceEnergy{1000, 500, 300}},
		Idle:         snapshot.Resources{Delta: snapshot.ResourceEnergy{10, 5, 3}, Total: snapshot.ResourceEnergy{100, 50, 30}},
		Unattributed: snapshot.Resources{Delta: snapshot.ResourceEnergy{1, 0, 0}, Total: snapshot.ResourceEnergy{2, 0, 0}},
	}}
	head := []snapshot.Process{{Resources: snapshot.Resources{Delta: snapshot.ResourceEnergy{60, 20, 27}, Total: snapshot.ResourceEnergy{600, 200, 270}}}}
	got := RestResources(s, head)
	want := snapshot.Resources{Delta: snapshot.ResourceEnergy{29, 25, 0}, Total: snapshot.ResourceEnergy{298, 250, 0}}
	if got != want {
		t.Errorf("RestResources = %+v, want %+v", got, want)
	}
}
