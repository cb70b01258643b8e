package model

import (
	"math"
	"strings"
	"testing"
)

func TestPeakMemoryBandwidth(t *testing.T) {
	cases := []struct {
		name string
		m    Machine
		want float64 // bytes/s
		how  string
	}{
		{"two Cascade Lake sockets: 6 × DDR4-2933 each", Machine{CPU: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz", Sockets: 2, Threads: 80},
			2 * 6 * 2933e6 * 8, "6 channels × DDR4-2933 × 8 B = 140.8 GB/s per socket × 2 sockets"},
		{"one Genoa socket: 12 × DDR5-4800", Machine{CPU: "AMD EPYC 9654 96-Core Processor", Sockets: 1, Threads: 192},
			12 * 4800e6 * 8, "12 channels × DDR5-4800"},
		{"a VM of 24 of a Genoa's 192 threads: an eighth of the socket", Machine{CPU: "AMD EPYC 9654 96-Core Processor", Threads: 24, VM: true},
			12 * 4800e6 * 8 / 8, "× 0.125 sockets"},
		{"an unknown CPU: the assumed default", Machine{CPU: "Some CPU", Sockets: 1, Threads: 4},
			6 * 2933e6 * 8, "assumed (architecture without a memory row)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, how := For(tc.m).PeakMemoryBandwidth()
			if math.Abs(got-tc.want) > 1 {
				t.Errorf("peak = %.0f B/s, want %.0f (%s)", got, tc.want, how)
			}
			if !strings.Contains(how, tc.how) {
				t.Errorf("how = %q, want it to contain %q", how, tc.how)
			}
		})
	}
}

// TestMemBWRowsNameKnownArchs: every row of the memory table is an
// architecture of the CPU table (a misspelt ID would silently fall back).
func TestMemBWRowsNameKnownArchs(t *testing.T) {
	for id := range memBW {
		if _, ok := ArchByID(id); !ok {
			t.Errorf("memBW row %q names no architecture", id)
		}
	}
}

func TestPowerMemSeparatesMemoryFromCPU(t *testing.T) {
	md := For(Machine{CPU: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz", Sockets: 2, Threads: 80, MemoryGB: 192})
	for _, u := range []float64{0, 0.3, 1} {
		if a, b := md.Power(u), md.PowerMem(u, u); a != b {
			t.Errorf("Power(%g) = %+v, PowerMem(u, u) = %+v; want equal", u, a, b)
		}
	}
	busyCache, quietCPU := md.PowerMem(1, 0), md.PowerMem(0.05, 1)
	mc := DefaultParams().MemoryFor(MemGroup(md.Match().Arch))
	if got, want := busyCache.Memory, 192*mc.IdleW; math.Abs(got-want) > 1e-9 {
		t.Errorf("memory at full CPU, no traffic = %g W, want the static %g W", got, want)
	}
	if got, want := quietCPU.Memory, 192*mc.FullW; math.Abs(got-want) > 1e-9 {
		t.Errorf("memory at 5 %% CPU, peak traffic = %g W, want the full %g W", got, want)
	}
	if got, want := md.PowerMem(0.5, 7).Memory, md.PowerMem(0.5, 1).Memory; got != want {
		t.Errorf("memory fraction 7 not clamped: %g W, want %g W", got, want)
	}
	if got, want := md.PowerMem(1, 0).CPU, md.Power(1).CPU; got != want {
		t.Errorf("CPU term moved with memory: %g W, want %g W", got, want)
	}
}
