package procinfo

import (
	"testing"
	"time"
)

func TestTicksToDuration(t *testing.T) {
	for _, tt := range []struct {
		ticks uint64
		want  time.Duration
	}{{0, 0}, {1, 10 * time.Millisecond}, {150, 1500 * time.Millisecond}} {
		if got := TicksToDuration(tt.ticks); got != tt.want {
			t.Errorf("TicksToDuration(%d) = %v, want %v", tt.ticks, got, tt.want)
		}
	}
}

func TestUtilisationSince(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur CPUTimes
		want      float64
		wantOK    bool
	}{
		{name: "half busy", prev: CPUTimes{Busy: 100, Total: 400}, cur: CPUTimes{Busy: 150, Total: 500}, want: 0.5, wantOK: true},
		{name: "idle", prev: CPUTimes{Busy: 100, Total: 400}, cur: CPUTimes{Busy: 100, Total: 500}, want: 0, wantOK: true},
		{name: "no time passed", prev: CPUTimes{Busy: 100, Total: 400}, cur: CPUTimes{Busy: 100, Total: 400}, wantOK: false},
		{name: "counters went backwards", prev: CPUTimes{Busy: 100, Total: 400}, cur: CPUTimes{Busy: 50, Total: 500}, wantOK: false},
		{name: "busy beyond total is capped", prev: CPUTimes{Busy: 0, Total: 0}, cur: CPUTimes{Busy: 30, Total: 20}, want: 1, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.cur.UtilisationSince(tt.prev)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("UtilisationSince = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
