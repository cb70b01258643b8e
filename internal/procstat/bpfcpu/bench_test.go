package bpfcpu

import (
	"path/filepath"
	"testing"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat/procfstest"
)

// BenchmarkReadTable is the user-space side of one tick with the program
// faked: 10 000 processes seeded from a procfs fixture, of which ran
// processes ran since the last tick and one short-lived process came and
// went. It measures the table (apply, list, settle), not the kernel.
func BenchmarkReadTable(b *testing.B) {
	for _, ran := range []int{10, 100, 1000} {
		b.Run("ran="+itoa(ran), func(b *testing.B) {
			fs := procfstest.GenerateMany(b, filepath.Join(b.TempDir(), "proc"), 10_000)
			src := &fakeSource{}
			r, err := New(fs.Root, b.TempDir(), withSource(src), withCgroupRoot(""))
			if err != nil {
				b.Fatal(err)
			}
			deltas := make([]delta, ran)
			for i := range deltas {
				deltas[i] = delta{key: pkey{uint32(1000 + i), uint64(5000 + i)}, ns: 1e6, taskInfo: taskInfo{comm: comm("worker-" + itoa(i%97))}}
			}
			var buf []procinfo.Proc
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				src.deltas = append(src.deltas[:0], deltas...)
				short := pkey{uint32(2_000_000 + i), 9000}
				src.deltas = append(src.deltas, delta{key: short, ns: 3e6, taskInfo: taskInfo{comm: comm("sh")}})
				src.exits = append(src.exits[:0], exit{key: short, taskInfo: taskInfo{comm: comm("sh")}})
				if buf, _, err = r.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "procs")
		})
	}
}

// BenchmarkReadKernel is one tick against the loaded program on this
// machine: exits, the switch and drain of the delta map (what ran since
// the last iteration), what runs on each CPU, and the table. Root only.
func BenchmarkReadKernel(b *testing.B) {
	if testing.Short() {
		b.Skip("loads the BPF program")
	}
	needKernel(b)
	r, err := New("/proc", "/sys")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	var buf []procinfo.Proc
	b.ReportAllocs()
	for b.Loop() {
		if buf, _, err = r.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "procs")
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
