package web

import (
	"context"
	"fmt"
	"testing"

	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// busyTick is tick(seq) with n processes, as on a busy server.
func busyTick(seq uint64, n int) *snapshot.Snapshot {
	s := tick(seq)
	procs := make([]snapshot.Process, 0, n)
	for i := range n {
		procs = append(procs, process(1000+i, fmt.Sprintf("worker-%d", i), "", units.Energy(1_000_000*(n-i)), units.Energy(10_000*(n-i))))
	}
	s.Processes = procs
	return s
}

// BenchmarkExport is the page's cost per tick in the sampler's goroutine:
// encoding a snapshot of 500 processes and handing it to 8 followers.
func BenchmarkExport(b *testing.B) {
	for _, followers := range []int{0, 8} {
		b.Run(fmt.Sprintf("followers=%d", followers), func(b *testing.B) {
			h := New(Options{Buffer: 1 << 20})
			for range followers {
				if _, ok := h.subscribe(); !ok {
					b.Fatal("subscribe refused")
				}
			}
			s := busyTick(1, 500)
			b.ReportAllocs()
			var seq uint64
			for b.Loop() {
				seq++
				s.Seq = seq
				if err := h.Export(context.Background(), s); err != nil {
					b.Fatal(err)
				}
				// Keep the followers' queues from growing without end.
				if seq%1024 == 0 {
					h.mu.Lock()
					for c := range h.clients {
						for len(c.ch) > 0 {
							<-c.ch
						}
					}
					h.mu.Unlock()
				}
			}
		})
	}
}
