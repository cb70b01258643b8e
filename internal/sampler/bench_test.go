package sampler

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/sensor/powercap"
	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

// benchSampler is a Sampler over a generated two-socket powercap tree
// (package, core, uncore and dram zones per socket, read from files as
// on a real host) and one fake process, with the read timeout the agent
// uses when timeout is set.
func benchSampler(b *testing.B, timeout time.Duration) *Sampler {
	b.Helper()
	root := b.TempDir()
	if err := powercaptest.Build(root, powercaptest.IntelServer2S()); err != nil {
		b.Fatal(err)
	}
	sen, err := powercap.NewAt(powercaptest.PowercapDir(root), nil)
	if err != nil {
		b.Fatal(err)
	}
	opts := []Option{WithBootTicks(func() uint64 { return 0 })}
	if timeout > 0 {
		opts = append(opts, WithReadTimeout(timeout))
	}
	return New(sen, &fakeProcs{}, attribution.New(attribution.Options{Sensor: sen.Name()}),
		slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
}

// BenchmarkPollPowercap is what one extra read of the counters between ticks
// costs (Sampler.Poll: the sensor read and the wrap tracker), on a
// powercap tree: "direct" as a test reads, "timeout" as the agent does,
// each read in a goroutine bounded by a timer.
func BenchmarkPollPowercap(b *testing.B) {
	for _, bc := range []struct {
		name    string
		timeout time.Duration
	}{{"direct", 0}, {"timeout", 5 * time.Second}} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchSampler(b, bc.timeout)
			s.Poll()
			b.ReportAllocs()
			for b.Loop() {
				s.Poll()
			}
		})
	}
}

// BenchmarkTickFixed is the part of a tick that does not grow with the
// processes: the sensor read, the wrap tracker, attribution and the
// snapshot, with one process (the procfs read is procstat's benchmark).
func BenchmarkTickFixed(b *testing.B) {
	for _, bc := range []struct {
		name    string
		timeout time.Duration
	}{{"direct", 0}, {"timeout", 5 * time.Second}} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchSampler(b, bc.timeout)
			procs := s.procs.(*fakeProcs)
			s.Tick()
			b.ReportAllocs()
			for b.Loop() {
				procs.cpu += 10
				if s.Tick() == nil {
					b.Fatal("no snapshot")
				}
			}
		})
	}
}
