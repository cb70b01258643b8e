package powercap

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
	"github.com/wattlens/wattlens/internal/units"
)

// TestAdvancerAgainstSensor runs the Advancer for 1.2 s on a small range,
// so the counters wrap, while the sensor reads: the sum of the deltas the
// sensor sees equals, to the microjoule, what the Advancer says it wrote.
func TestAdvancerAgainstSensor(t *testing.T) {
	// 100 J: 100 W wraps it every second, so it wraps at least once in
	// the run, and reads 10 ms apart see every wrap unless the machine
	// stalls the test for a second.
	const maxRange = 100_000_000
	watts := map[string]float64{"intel-rapl:0": 50, "intel-rapl:0:0": 5, "intel-rapl:1": 100, "intel-rapl:1:0": 10}
	root := build(t, powercaptest.IntelServer2S())
	adv := powercaptest.NewAdvancer(root, watts, maxRange)
	if err := adv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = adv.Stop() })
	s := newSensor(t, root) // after Start, which wrote the range

	prev := read(t, s)
	summed := map[string]uint64{}
	wraps := 0
	start := time.Now()
	for done := false; !done; {
		if time.Since(start) >= 1200*time.Millisecond {
			if err := adv.Stop(); err != nil {
				t.Fatal(err)
			}
			done = true
		} else {
			time.Sleep(10 * time.Millisecond)
		}
		cur := read(t, s)
		for i, z := range cur {
			d, kind := counter.Delta(uint64(prev[i].Energy), uint64(z.Energy), uint64(z.MaxRange))
			if kind == counter.Wrapped {
				wraps++
			}
			summed[z.ID] += d
		}
		prev = cur
	}

	written := map[string]uint64{}
	for id := range watts {
		written[id] = uint64(units.FromJoules(adv.Written(id)))
	}
	if diff := cmp.Diff(written, summed); diff != "" {
		t.Errorf("µJ written by the advancer (-) and summed from reads (+):\n%s", diff)
	}
	if wraps == 0 {
		t.Error("no counter wrapped")
	}
	// Every zone ran for the same time, so the energies are in the ratio
	// of the powers, to within the microjoule each step rounds off.
	for id, w := range watts {
		got := adv.Written(id) / adv.Written("intel-rapl:1")
		if want := w / 100; math.Abs(got-want) > 1e-6 {
			t.Errorf("zone %s: written %.9f of intel-rapl:1's, want %.9f", id, got, want)
		}
	}
}
