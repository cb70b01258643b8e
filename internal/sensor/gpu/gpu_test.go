package gpu

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/sensor"
)

func TestSharesOf(t *testing.T) {
	tests := []struct {
		name     string
		samples  []utilSample
		after    uint64
		want     Shares
		wantLast uint64
	}{
		{name: "no samples", after: 7, want: Shares{}, wantLast: 7},
		{
			name: "two processes, several samples each",
			samples: []utilSample{
				{pid: 10, ts: 100, sm: 30}, {pid: 20, ts: 100, sm: 10},
				{pid: 10, ts: 200, sm: 30}, {pid: 20, ts: 200, sm: 30},
			},
			want:     Shares{10: 0.6, 20: 0.4},
			wantLast: 200,
		},
		{
			name: "samples already seen are ignored",
			samples: []utilSample{
				{pid: 10, ts: 50, sm: 100}, {pid: 20, ts: 51, sm: 100},
				{pid: 20, ts: 60, sm: 5},
			},
			after:    51,
			want:     Shares{20: 1},
			wantLast: 60,
		},
		{
			name:     "processes present but idle SMs",
			samples:  []utilSample{{pid: 10, ts: 100, sm: 0}, {pid: 11, ts: 120, sm: 0}},
			want:     Shares{},
			wantLast: 120,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, last := sharesOf(tt.samples, tt.after)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("shares (-want +got):\n%s", diff)
			}
			if last != tt.wantLast {
				t.Errorf("last = %d, want %d", last, tt.wantLast)
			}
			var sum float64
			for _, s := range got {
				sum += s
			}
			if sum > 1+1e-12 {
				t.Errorf("shares sum to %g > 1", sum)
			}
		})
	}
}

// TestNew checks the constructor of whichever build this is: without
// cgo it must fail cleanly; with cgo on a machine without the NVIDIA
// driver it must fail with ErrUnavailable too (and on a machine with one
// it may work).
func TestNew(t *testing.T) {
	s, err := New(sensor.Options{})
	if err != nil {
		t.Logf("New: %v", err)
		if !errors.Is(err, sensor.ErrUnavailable) && !errors.Is(err, sensor.ErrPermission) {
			t.Errorf("New: %v, want ErrUnavailable or ErrPermission", err)
		}
		return
	}
	t.Logf("NVML present: %s", s.(sensor.Describer).Method())
	if _, err := s.Read(); err != nil {
		t.Errorf("Read: %v", err)
	}
	if err := s.(sensor.Closer).Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
