package procstat

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/procstat/procfstest"
)

// The floor is the least any per-tick reader must do: list the procfs
// root and open, read and close every <pid>/stat. It uses the same
// allocation-free syscalls as Reader (openat relative to the directory,
// one read, getdents64 into one buffer) and builds each path straight from
// the directory entry's name, so that Read/Floor measures only what Read
// adds: parsing, the Meta cache and the result slice.
func floor(root []byte, dirBuf, path, buf []byte) (files int, err error) {
	dirfd, err := openat(unix.AT_FDCWD, root, unix.O_DIRECTORY)
	if err != nil {
		return 0, err
	}
	defer func() { _ = unix.Close(dirfd) }()
	for {
		n, err := unix.Getdents(dirfd, dirBuf)
		if err != nil {
			return files, err
		}
		if n == 0 {
			return files, nil
		}
		for off := 0; off < n; {
			reclen := int(binary.NativeEndian.Uint16(dirBuf[off+direntReclen:]))
			name := dirBuf[off+direntName : off+reclen]
			off += reclen
			if name[0] < '0' || name[0] > '9' {
				continue
			}
			p := path[:0]
			for _, c := range name {
				if c == 0 {
					break
				}
				p = append(p, c)
			}
			p = append(p, "/stat\x00"...)
			fd, err := openat(dirfd, p, 0)
			if err != nil {
				continue
			}
			if _, err := unix.Read(fd, buf); err == nil {
				files++
			}
			_ = unix.Close(fd)
		}
	}
}

var benchSizes = []int{1000, 10000}

// benchTrees holds one generated tree per size, shared by every benchmark
// of the run so that the tick and the floor read the very same files (and
// -count 5 does not write 55 000 files five times). TestMain removes it.
var benchTrees struct {
	dir   string
	roots map[int]string
}

func TestMain(m *testing.M) {
	defer func() {
		if benchTrees.dir != "" {
			_ = os.RemoveAll(benchTrees.dir)
		}
	}()
	m.Run()
}

func benchTree(b *testing.B, n int) string {
	if root, ok := benchTrees.roots[n]; ok {
		return root
	}
	if benchTrees.dir == "" {
		dir, err := os.MkdirTemp("", "procstat-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchTrees.dir, benchTrees.roots = dir, map[int]string{}
	}
	root := filepath.Join(benchTrees.dir, fmt.Sprint(n))
	procfstest.GenerateMany(b, root, n)
	// Write the new files back now, so that the writeback does not run
	// during (and slow down) whichever benchmark comes first.
	unix.Sync()
	benchTrees.roots[n] = root
	return root
}

func BenchmarkRead(b *testing.B) {
	for _, n := range benchSizes {
		root := benchTree(b, n)
		b.Run(fmt.Sprintf("procs=%d", n), func(b *testing.B) { benchRead(b, root, n) })
	}
}

func BenchmarkFloor(b *testing.B) {
	for _, n := range benchSizes {
		root := benchTree(b, n)
		b.Run(fmt.Sprintf("procs=%d", n), func(b *testing.B) { benchFloor(b, root, n) })
	}
}

// BenchmarkTickVsFloor alternates one Read and one floor pass on the same
// tree, timing each, and reports their ratio: on a busy machine this is
// steadier than comparing BenchmarkRead and BenchmarkFloor, which run
// minutes apart. Which of the two goes first alternates too. Besides wall
// time it measures the CPU time of the benchmark's thread (user + system,
// CLOCK_THREAD_CPUTIME_ID), which leaves out the time other programs hold
// the CPU: the cpu-tick/floor ratio is the one to trust on a shared
// machine.
func BenchmarkTickVsFloor(b *testing.B) {
	for _, n := range benchSizes {
		root := benchTree(b, n)
		b.Run(fmt.Sprintf("procs=%d", n), func(b *testing.B) { benchTickVsFloor(b, root, n) })
	}
	b.Run("procs=real", func(b *testing.B) { benchTickVsFloor(b, "/proc", 0) })
}

// clock is a wall and a thread-CPU reading.
type clock struct{ wall, cpu time.Duration }

func now(b *testing.B) clock {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return clock{wall: time.Duration(time.Now().UnixNano()), cpu: time.Duration(ts.Nano())}
}

func (c clock) add(from, to clock) clock {
	return clock{wall: c.wall + to.wall - from.wall, cpu: c.cpu + to.cpu - from.cpu}
}

func benchTickVsFloor(b *testing.B, root string, want int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := NewReader(root)
	procs, _, err := r.Read(nil)
	if err != nil {
		b.Fatal(err)
	}
	if want != 0 && len(procs) != want {
		b.Fatalf("read %d procs, want %d", len(procs), want)
	}
	rootPath := cstring(root)
	dirBuf, path, buf := make([]byte, 64*1024), make([]byte, 0, 64), make([]byte, statBufSize)
	var tick, flo clock
	var files int
	i := 0
	for b.Loop() {
		t0 := now(b)
		if i%2 == 0 {
			procs, _, err = r.Read(procs)
			t1 := now(b)
			files, _ = floor(rootPath, dirBuf, path, buf)
			t2 := now(b)
			tick, flo = tick.add(t0, t1), flo.add(t1, t2)
		} else {
			files, _ = floor(rootPath, dirBuf, path, buf)
			t1 := now(b)
			procs, _, err = r.Read(procs)
			t2 := now(b)
			flo, tick = flo.add(t0, t1), tick.add(t1, t2)
		}
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	perProc := func(d time.Duration, n int) float64 {
		return float64(d.Nanoseconds()) / float64(b.N) / float64(max(n, 1))
	}
	b.ReportMetric(perProc(tick.wall, len(procs)), "tick-ns/proc")
	b.ReportMetric(perProc(flo.wall, files), "floor-ns/proc")
	b.ReportMetric(float64(tick.wall)/float64(flo.wall), "tick/floor")
	b.ReportMetric(perProc(tick.cpu, len(procs)), "cpu-tick-ns/proc")
	b.ReportMetric(perProc(flo.cpu, files), "cpu-floor-ns/proc")
	b.ReportMetric(float64(tick.cpu)/float64(flo.cpu), "cpu-tick/floor")
}

func BenchmarkReadRealProc(b *testing.B) { benchRead(b, "/proc", 0) }

func BenchmarkFloorRealProc(b *testing.B) { benchFloor(b, "/proc", 0) }

// benchRead measures steady-state ticks: the first Read, which reads every
// process's Meta, is not timed. want = 0 accepts any number of processes.
func benchRead(b *testing.B, root string, want int) {
	r := NewReader(root)
	procs, _, err := r.Read(nil)
	if err != nil {
		b.Fatal(err)
	}
	if want != 0 && len(procs) != want {
		b.Fatalf("read %d procs, want %d", len(procs), want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		procs, _, err = r.Read(procs)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportPerProc(b, len(procs))
}

func benchFloor(b *testing.B, root string, want int) {
	rootPath := cstring(root)
	dirBuf := make([]byte, 64*1024)
	path := make([]byte, 0, 64)
	buf := make([]byte, statBufSize)
	files, err := floor(rootPath, dirBuf, path, buf)
	if err != nil {
		b.Fatal(err)
	}
	if want != 0 && files != want {
		b.Fatalf("read %d stat files, want %d", files, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if files, err = floor(rootPath, dirBuf, path, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportPerProc(b, files)
}

func reportPerProc(b *testing.B, n int) {
	if n > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/proc")
	}
	b.ReportMetric(float64(n), "procs")
}

func BenchmarkParseStat(b *testing.B) {
	line := []byte(procfstest.StatLine(procfstest.Proc{PID: 123456, Comm: "kworker/u8:3-events_unbound", UTime: 1234567, STime: 765432, StartTime: 98765432}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseStat(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResourcesFillRealProc is what the per-resource reads add to a
// steady tick of this machine's processes: Read, then Resources.Fill (io of
// the processes whose CPU time moved and of 1 in 32 of the others,
// namespaces on first sight). Compare its ns/proc with
// BenchmarkReadRealProc's and BenchmarkFloorRealProc's; io-reads/tick is
// how many <pid>/io files a tick read.
func BenchmarkResourcesFillRealProc(b *testing.B) {
	r := NewReader("/proc")
	res := NewResources("/proc", nil)
	procs, _, err := r.Read(nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := res.Fill(procs); err != nil {
		b.Fatal(err)
	}
	res.IOReads = 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if procs, _, err = r.Read(procs); err != nil {
			b.Fatal(err)
		}
		if _, err := res.Fill(procs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportPerProc(b, len(procs))
	b.ReportMetric(float64(res.IOReads)/float64(b.N), "io-reads/tick")
}
