package attributiontest

import (
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/units"
)

// TestWorldAddsUp: every snapshot of a World balances, in whole
// microjoules, for the interval and since start; quiet steps leave every
// process at zero; VMs are named as promised.
func TestWorldAddsUp(t *testing.T) {
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	w := NewWorld(3, 20, Options{Start: start, VMEvery: 7, BusyPerSecond: 120, QuietEvery: 5})
	vms := 0
	for i := 1; i <= 40; i++ {
		s := w.Step()
		if i == 1 {
			if s != nil {
				t.Fatal("the first step gave a snapshot: it only sets the baseline")
			}
			continue
		}
		if want := start.Add(time.Duration(i) * Step); !s.Time.Equal(want) {
			t.Fatalf("step %d at %v, want %v", i, s.Time, want)
		}
		var total, delta units.Energy
		for _, p := range s.Processes {
			total += p.Total
			delta += p.Delta
			if i%5 == 0 && p.CPUDelta != 0 {
				t.Errorf("quiet step %d: pid %d used %v", i, p.PID, p.CPUDelta)
			}
			if p.VM != "" {
				vms++
				if p.PID%7 != 0 {
					t.Errorf("pid %d is VM %q, not a 7th process", p.PID, p.VM)
				}
			}
		}
		if got := total + s.Exited + s.Unattributed.Total + s.Idle.Total; got != s.Host.Total {
			t.Errorf("step %d: cumulative sum %d µJ, host %d µJ", i, got, s.Host.Total)
		}
		if got := delta + s.Unattributed.Delta + s.Idle.Delta; got != s.Host.Delta {
			t.Errorf("step %d: interval sum %d µJ, host %d µJ", i, got, s.Host.Delta)
		}
	}
	if vms == 0 {
		t.Error("no VM process in 40 steps")
	}
	if w.Seconds() != 80 {
		t.Errorf("Seconds() = %d after 40 steps, want 80", w.Seconds())
	}
}
