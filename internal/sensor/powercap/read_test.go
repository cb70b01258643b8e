package powercap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
	"github.com/wattlens/wattlens/internal/units"
)

func TestParseMicrojoules(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr string
	}{
		{name: "kernel format", in: "262143328850\n", want: 262143328850},
		{name: "zero", in: "0\n", want: 0},
		{name: "no newline", in: "42", want: 42},
		{name: "surrounding blanks", in: " 42 \n", want: 42},
		{name: "largest", in: "18446744073709551615\n", want: 1<<64 - 1},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "only newline", in: "\n", wantErr: "empty"},
		{name: "letters", in: "abc\n", wantErr: `got "abc"`},
		{name: "negative", in: "-5\n", wantErr: `got "-5"`},
		{name: "plus sign", in: "+5\n", wantErr: `got "+5"`},
		{name: "two numbers", in: "12 34\n", wantErr: `got "12 34"`},
		{name: "float", in: "1e6\n", wantErr: `got "1e6"`},
		{name: "beyond 64 bits", in: "18446744073709551616\n", wantErr: "beyond 64 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMicrojoules([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseMicrojoules(%q) = %d, %v; want error saying %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseMicrojoules(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

// withRange gives every zone of layout the range max, with its energy
// brought within it.
func withRange(layout powercaptest.Layout, max uint64) powercaptest.Layout {
	var set func([]powercaptest.ZoneSpec) []powercaptest.ZoneSpec
	set = func(zones []powercaptest.ZoneSpec) []powercaptest.ZoneSpec {
		out := make([]powercaptest.ZoneSpec, len(zones))
		for i, z := range zones {
			z.MaxRange, z.Energy, z.Children = max, z.Energy%max, set(z.Children)
			out[i] = z
		}
		return out
	}
	layout.Zones = set(layout.Zones)
	return layout
}

// TestDeltasOverWraps advances each counter by known steps that wrap it
// several times: the deltas of successive Reads add up to exactly what
// was added.
func TestDeltasOverWraps(t *testing.T) {
	const max = 1_000_003
	steps := []uint64{400_000, 700_001, 999_999, 1, 250_000, 999_000, 123_456, 0, 654_321, 999_999, 500_000}
	for _, shape := range []powercaptest.Shape{powercaptest.Kernel, powercaptest.Nested} {
		t.Run(fmt.Sprint("shape ", shape), func(t *testing.T) {
			root := build(t, withRange(powercaptest.Layout{Zones: powercaptest.IntelServer2S().Zones, Shape: shape}, max))
			s := newSensor(t, root)
			prev := read(t, s)
			raw := map[string]uint64{}
			for _, z := range prev {
				raw[z.ID] = uint64(z.Energy)
			}
			added, summed := map[string]uint64{}, map[string]uint64{}
			wraps := map[string]int{}
			for i := range steps {
				for j, z := range prev {
					step := steps[(i+j)%len(steps)] // each zone its own order
					raw[z.ID] = (raw[z.ID] + step) % max
					added[z.ID] += step
					setEnergy(t, root, z.ID, raw[z.ID])
				}
				cur := read(t, s)
				for j, z := range cur {
					d, kind := counter.Delta(uint64(prev[j].Energy), uint64(z.Energy), uint64(z.MaxRange))
					summed[z.ID] += d
					if kind == counter.Wrapped {
						wraps[z.ID]++
					}
				}
				prev = cur
			}
			if diff := cmp.Diff(added, summed); diff != "" {
				t.Errorf("energy summed over reads (-added +summed):\n%s", diff)
			}
			for id, n := range wraps {
				if n < 3 {
					t.Errorf("zone %s wrapped %d times, want several", id, n)
				}
			}
			if len(wraps) != 4 {
				t.Errorf("wraps seen in %d zones, want 4", len(wraps))
			}
		})
	}
}

// TestZoneVanishes removes a zone: Read fails and keeps failing while it
// is away, even though the others are readable, then recovers with the
// range re-read when it is back.
func TestZoneVanishes(t *testing.T) {
	tests := []struct {
		name, remove, changeRange string
	}{
		{name: "subzone", remove: "intel-rapl:0:0", changeRange: "intel-rapl:1:0"},
		{name: "package with its dram", remove: "intel-rapl:1", changeRange: "intel-rapl:0"},
	}
	for _, tt := range tests {
		for _, shape := range []powercaptest.Shape{powercaptest.Kernel, powercaptest.Nested} {
			t.Run(fmt.Sprint(tt.name, "/shape ", shape), func(t *testing.T) {
				root := build(t, powercaptest.Layout{Zones: powercaptest.IntelServer2S().Zones, Shape: shape})
				s := newSensor(t, root)
				before := read(t, s)

				if err := powercaptest.RemoveZone(root, tt.remove); err != nil {
					t.Fatal(err)
				}
				_, err := s.Read()
				if err == nil || !strings.Contains(err.Error(), "zone "+tt.remove) {
					t.Fatalf("Read after removing %s: %v, want an error naming the zone", tt.remove, err)
				}
				_, err = s.Read()
				if err == nil || !strings.Contains(err.Error(), tt.remove+" ") || !strings.Contains(err.Error(), "has not come back") {
					t.Fatalf("second Read while %s is away: %v, want it missing", tt.remove, err)
				}

				setEnergy(t, root, "intel-rapl:0", 1000)
				setFile(t, root, tt.changeRange, "max_energy_range_uj", "99999999999\n")
				if err := powercaptest.RestoreZone(root, tt.remove); err != nil {
					t.Fatal(err)
				}
				after := read(t, s)
				want := make([]power.Zone, len(before))
				copy(want, before)
				for i := range want {
					if want[i].ID == "intel-rapl:0" {
						want[i].Energy = 1000
					}
					if want[i].ID == tt.changeRange {
						want[i].MaxRange = 99999999999
					}
				}
				if diff := cmp.Diff(want, after); diff != "" {
					t.Errorf("Read after restore (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestBadCounter writes bad energy_uj contents into a running sensor:
// Read fails with a clear error, never panics, and recovers once the
// contents are good again.
func TestBadCounter(t *testing.T) {
	const zoneID = "intel-rapl:0:0"
	tests := []struct {
		name     string
		content  string
		mode     os.FileMode
		wantText string
		wantIs   error
	}{
		{name: "empty", content: "", wantText: "energy_uj: empty"},
		{name: "letters", content: "abc\n", wantText: `got "abc"`},
		{name: "negative", content: "-12\n", wantText: `got "-12"`},
		{name: "beyond 64 bits", content: "99999999999999999999\n", wantText: "beyond 64 bits"},
		{name: "beyond range", content: "65712999614\n", wantText: "65712999614 is beyond max_energy_range_uj 65712999613"},
		{name: "too long", content: strings.Repeat("1", 100), wantText: "longer than"},
		{name: "made root-only", content: "5\n", mode: 0o400, wantText: "CVE-2020-8694", wantIs: sensor.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := build(t, powercaptest.IntelServer2S())
			s, err := newAt(powercaptest.PowercapDir(root), nil, asUnprivileged)
			if err != nil {
				t.Fatal(err)
			}
			read(t, s)
			setFile(t, root, zoneID, "energy_uj", tt.content)
			path := filepath.Join(powercaptest.PowercapDir(root), zoneID, "energy_uj")
			if tt.mode != 0 {
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 { // down, then still down after rediscovery
				_, err := s.Read()
				if err == nil || !strings.Contains(err.Error(), "zone "+zoneID) || !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("Read: %v, want an error naming %s and saying %q", err, zoneID, tt.wantText)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("Read: %v, want %v", err, tt.wantIs)
				}
			}
			if err := os.Chmod(path, 0o444); err != nil {
				t.Fatal(err)
			}
			setEnergy(t, root, zoneID, 77)
			zones := read(t, s)
			if zones[1].ID != zoneID || zones[1].Energy != 77 {
				t.Errorf("after repair: zone %s = %d, want %s = 77", zones[1].ID, zones[1].Energy, zoneID)
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	root := b.TempDir()
	if err := powercaptest.Build(root, powercaptest.IntelServer2S()); err != nil {
		b.Fatal(err)
	}
	s, err := NewAt(powercaptest.PowercapDir(root), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sum units.Energy
	for b.Loop() {
		r, err := s.Read()
		if err != nil {
			b.Fatal(err)
		}
		sum += r.Zones[0].Energy
	}
	_ = sum
}
