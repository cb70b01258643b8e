package redfish

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/units"
)

// TestMeter drives the meter with samples and reads on a made-up clock
// and checks the counter, exactly, in µJ.
func TestMeter(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		ms     int
		sample float64 // watts; < 0: a read
	}
	tests := []struct {
		name    string
		maxRate float64 // watts; 0: none
		steps   []step
		want    []uint64 // the result of each read, in µJ
	}{
		{
			name:  "no sample yet: nothing to read",
			steps: []step{{0, -1}},
			want:  []uint64{0},
		},
		{
			name:  "constant power: reads between samples are exact",
			steps: []step{{0, 100}, {500, -1}, {1000, 100}, {1000, -1}, {1500, -1}, {2000, 100}, {2500, -1}},
			want:  []uint64{50_000_000, 100_000_000, 150_000_000, 250_000_000},
		},
		{
			name: "power rises: the trapezoid catches the counter up",
			// 0..2 s: 100 → 300 W, trapezoid 400 J; read at 1 s held 100 W.
			steps: []step{{0, 100}, {1000, -1}, {2000, 300}, {2000, -1}, {3000, -1}},
			want:  []uint64{100_000_000, 400_000_000, 700_000_000},
		},
		{
			name: "power falls: the counter holds until the trapezoid passes it",
			// 200 W held to 2 s: 400 J read; the trapezoid 200 → 100 W is
			// 300 J; at 3 s it is 400 J, at 4 s 500 J.
			steps: []step{{0, 200}, {2000, -1}, {2000, 100}, {2000, -1}, {2500, -1}, {3000, -1}, {4000, -1}},
			want:  []uint64{400_000_000, 400_000_000, 400_000_000, 400_000_000, 500_000_000},
		},
		{
			name: "a 10 s outage: the gap is (P before + P after) / 2 × gap",
			// 100 W at 0, nothing until 300 W at 10 s: 2000 J.
			steps: []step{{0, 100}, {5000, -1}, {10000, 300}, {10000, -1}, {11000, -1}},
			want:  []uint64{500_000_000, 2_000_000_000, 2_300_000_000},
		},
		{
			name: "a catch-up is booked at no more than maxRate",
			// 100 W held over a 10 s outage (1000 J read at 10 s), 300 W
			// after: the trapezoid is 2000 J. At 1 kW the 1000 J more
			// come over the next second, then 300 W again.
			maxRate: 1000,
			steps:   []step{{0, 100}, {10000, -1}, {10000, 300}, {10000, -1}, {11000, -1}, {12000, -1}, {20000, -1}},
			want:    []uint64{1_000_000_000, 1_000_000_000, 2_000_000_000, 2_600_000_000, 5_000_000_000},
		},
		{
			name:  "a sample older than the last is ignored",
			steps: []step{{0, 100}, {1000, 100}, {500, 900}, {2000, -1}},
			want:  []uint64{200_000_000},
		},
		{
			name:  "fractions of a watt over fractions of a second",
			steps: []step{{0, 0.5}, {3, 0.5}, {3, -1}},
			want:  []uint64{1500},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := meter{maxRate: units.FromWatts(tc.maxRate)}
			var got []uint64
			for _, s := range tc.steps {
				if s.sample >= 0 {
					m.sample(at(s.ms), units.FromWatts(s.sample))
					continue
				}
				e, _ := m.read(at(s.ms))
				got = append(got, uint64(e))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("counter (-want +got):\n%s", diff)
			}
		})
	}
}
