package powercaptest

import (
	"context"
	"testing"
)

// Start builds layout under root and drives its counters at watts (zone
// ID → watts) in real time until the test ends: the Advancer is stopped
// in t's cleanup, and an error it met fails t. maxRange is NewAdvancer's
// (0 keeps each zone's own range). It returns the running Advancer.
func Start(t testing.TB, root string, layout Layout, watts map[string]float64, maxRange uint64) *Advancer {
	t.Helper()
	if err := Build(root, layout); err != nil {
		t.Fatal(err)
	}
	adv := NewAdvancer(root, watts, maxRange)
	if err := adv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := adv.Stop(); err != nil {
			t.Errorf("fake RAPL advancer: %v", err)
		}
	})
	return adv
}
