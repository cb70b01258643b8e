package counter

import "testing"

func TestDelta(t *testing.T) {
	tests := []struct {
		name           string
		prev, cur, max uint64
		want           uint64
		wantKind       Kind
	}{
		{name: "forward", prev: 100, cur: 250, max: 1000, want: 150, wantKind: Normal},
		{name: "still", prev: 100, cur: 100, max: 1000, want: 0, wantKind: Normal},
		{name: "wrap", prev: 900, cur: 50, max: 1000, want: 150, wantKind: Wrapped},
		{name: "wrap to zero", prev: 900, cur: 0, max: 1000, want: 100, wantKind: Wrapped},
		{name: "unknown range backwards is reset", prev: 900, cur: 50, max: 0, want: 0, wantKind: Reset},
		{name: "unknown range forward", prev: 5, cur: 1<<63 + 5, max: 0, want: 1 << 63, wantKind: Normal},
		{name: "reading beyond range is reset", prev: 10, cur: 2000, max: 1000, want: 0, wantKind: Reset},
		{name: "previous beyond range is reset", prev: 2000, cur: 10, max: 1000, want: 0, wantKind: Reset},
		{name: "full 64-bit range", prev: ^uint64(0) - 10, cur: 5, max: ^uint64(0), want: 15, wantKind: Wrapped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, kind := Delta(tt.prev, tt.cur, tt.max)
			if got != tt.want || kind != tt.wantKind {
				t.Errorf("Delta(%d, %d, %d) = %d, %v; want %d, %v", tt.prev, tt.cur, tt.max, got, kind, tt.want, tt.wantKind)
			}
		})
	}
}

// TestDeltaSequenceWrapsManyTimes checks that summing deltas over a counter
// that wraps several times gives the exact energy that was added.
func TestDeltaSequenceWrapsManyTimes(t *testing.T) {
	const max = 1_000_003
	var raw, total, want uint64
	steps := []uint64{400_000, 700_001, 999_999, 1, 250_000, 999_000, 123_456, 0, 654_321}
	for i, s := range steps {
		next := (raw + s) % (max) // the counter wraps from max to 0
		d, _ := Delta(raw, next, max)
		total += d
		want += s
		raw = next
		if total != want {
			t.Fatalf("after step %d: total %d, want %d", i, total, want)
		}
	}
}

func TestBoundedDelta(t *testing.T) {
	const rng = 262_143_328_850
	tests := []struct {
		name                  string
		prev, cur, max, bound uint64
		want                  uint64
		wantKind              Kind
	}{
		{name: "forward within bound", prev: 100, cur: 250, max: rng, bound: 1000, want: 150, wantKind: Normal},
		{name: "plausible wrap", prev: rng - 10, cur: 40, max: rng, bound: 1000, want: 50, wantKind: Wrapped},
		{name: "backwards by 130 J is not a 262 kJ wrap", prev: 200_000_000, cur: 70_000_000, max: rng, bound: 4_000_000_000, want: 0, wantKind: Reset},
		{name: "drop to zero", prev: 200_000_000, cur: 0, max: rng, bound: 4_000_000_000, want: 0, wantKind: Reset},
		{name: "jump forward beyond bound", prev: 0, cur: 5_000_000_000, max: rng, bound: 4_000_000_000, want: 0, wantKind: Reset},
		{name: "no bound is Delta", prev: 200, cur: 70, max: rng, bound: 0, want: rng - 130, wantKind: Wrapped},
		{name: "unknown range backwards", prev: 200, cur: 70, max: 0, bound: 1000, want: 0, wantKind: Reset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, kind := BoundedDelta(tt.prev, tt.cur, tt.max, tt.bound)
			if got != tt.want || kind != tt.wantKind {
				t.Errorf("BoundedDelta(%d, %d, %d, %d) = %d, %v; want %d, %v", tt.prev, tt.cur, tt.max, tt.bound, got, kind, tt.want, tt.wantKind)
			}
		})
	}
}

// FuzzBoundedDelta checks the property the books rely on: whatever two
// readings a counter gives, the energy booked is never more than its
// range nor more than the bound, and a Normal delta is exactly cur − prev.
func FuzzBoundedDelta(f *testing.F) {
	f.Add(uint64(100), uint64(250), uint64(1000), uint64(500))
	f.Add(uint64(900), uint64(50), uint64(1000), uint64(500))
	f.Add(uint64(200_000_000), uint64(70_000_000), uint64(262_143_328_850), uint64(4_000_000_000))
	f.Add(uint64(5), uint64(1<<63+5), uint64(0), uint64(0))
	f.Add(^uint64(0)-10, uint64(5), ^uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, prev, cur, max, bound uint64) {
		d, kind := BoundedDelta(prev, cur, max, bound)
		if bound != 0 && d > bound {
			t.Fatalf("delta %d beyond bound %d", d, bound)
		}
		if max != 0 && d > max {
			t.Fatalf("delta %d beyond range %d", d, max)
		}
		switch kind {
		case Normal:
			if cur < prev || d != cur-prev {
				t.Fatalf("Normal delta %d for %d → %d", d, prev, cur)
			}
		case Reset:
			if d != 0 {
				t.Fatalf("Reset with delta %d", d)
			}
		case Wrapped:
			if cur >= prev || max == 0 {
				t.Fatalf("Wrapped for %d → %d, range %d", prev, cur, max)
			}
		}
	})
}
