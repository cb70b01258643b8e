package jsonexp

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/snapshot/snapshottest"
	"github.com/wattlens/wattlens/internal/units"
)

// bigSnapshot has n processes with realistic command lines, sorted by
// interval energy as attribution sorts them.
func bigSnapshot(n int) *snapshot.Snapshot {
	s := fixture()
	s.Processes = make([]snapshot.Process, n)
	var total, delta units.Energy
	for i := range n {
		pid := 1000 + i
		d := units.Energy((n - i) * 1000)
		s.Processes[i] = process(pid, "/usr/lib/jvm/java-21/bin/java",
			"java -Xmx2g -Dapp.instance="+strconv.Itoa(pid)+" -jar /opt/app/service.jar --port 8080",
			"", 10*d, d, time.Duration(n-i)*time.Millisecond)
		total += 10 * d
		delta += d
	}
	s.Host = snapshottest.Energy(total+s.Exited+s.Unattributed.Total+s.Idle.Total, delta+s.Unattributed.Delta+s.Idle.Delta)
	s.Stats.Processes = n
	return s
}

// BenchmarkEncode measures one line: Encode allocates its buffer each
// call, Exporter reuses its own (the json command's path).
func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		s := bigSnapshot(n)
		b.Run("Encode/procs="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Encode(io.Discard, s, Options{MaxConsumers: 10}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Exporter/procs="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			x := New(io.Discard, Options{MaxConsumers: 10})
			for b.Loop() {
				if err := x.Export(context.Background(), s); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Exporter+regex/procs="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			x := New(io.Discard, Options{MaxConsumers: 10, Filter: exporter.NewFilter(regexp.MustCompile(`instance=1[0-9]*7 `))})
			for b.Loop() {
				if err := x.Export(context.Background(), s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
