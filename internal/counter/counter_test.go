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
