package procstat

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/procinfo"
)

const netDevHead = "Inter-|   Receive                                                |  Transmit\n" +
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"

func netDevLine(name string, rx, tx uint64) string {
	return fmt.Sprintf("%6s: %d 1 0 0 0 0 0 0 %d 1 0 0 0 0 0 0\n", name, rx, tx)
}

func ioText(read, write uint64) string {
	return fmt.Sprintf("rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: %d\nwrite_bytes: %d\ncancelled_write_bytes: 999\n", read, write)
}

// resTree is a procfs fixture for Resources: processes with io files and
// network namespaces.
type resTree struct {
	t    *testing.T
	root string
}

func newResTree(t *testing.T, selfNS uint64) *resTree {
	t.Helper()
	r := &resTree{t: t, root: t.TempDir()}
	r.link("self/ns/net", fmt.Sprintf("net:[%d]", selfNS))
	return r
}

func (r *resTree) write(rel, text string) {
	r.t.Helper()
	p := filepath.Join(r.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *resTree) link(rel, target string) {
	r.t.Helper()
	p := filepath.Join(r.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	_ = os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		r.t.Fatal(err)
	}
}

func (r *resTree) proc(pid int, ns uint64, read, write uint64, netdev string) {
	r.write(fmt.Sprintf("%d/io", pid), ioText(read, write))
	r.link(fmt.Sprintf("%d/ns/net", pid), fmt.Sprintf("net:[%d]", ns))
	r.write(fmt.Sprintf("%d/net/dev", pid), netDevHead+netdev)
}

func TestResourcesFill(t *testing.T) {
	tree := newResTree(t, 100)
	host := netDevLine("lo", 7, 7) + netDevLine("eth0", 1000, 2000) + netDevLine("docker0", 50, 50) + netDevLine("veth1", 40, 40)
	ctr := netDevLine("lo", 9, 9) + netDevLine("eth0", 300, 400)
	tree.proc(10, 100, 4096, 8192, host)
	tree.proc(11, 200, 0, 512, ctr)
	tree.proc(12, 200, 0, 0, ctr)
	r := NewResources(tree.root, []string{"eth0"})

	meta := &procinfo.Meta{}
	procs := []procinfo.Proc{
		{Key: procinfo.Key{PID: 10, StartTime: 1}, CPU: 5, Meta: meta},
		{Key: procinfo.Key{PID: 11, StartTime: 1}, CPU: 5, Meta: meta},
		{Key: procinfo.Key{PID: 12, StartTime: 1}, CPU: 5, Meta: meta},
	}
	netns, err := r.Fill(procs)
	if err != nil {
		t.Fatal(err)
	}
	type got struct{ IO, NetNS uint64 }
	gotOf := func() []got {
		var out []got
		for _, p := range procs {
			out = append(out, got{p.IO, p.NetNS})
		}
		return out
	}
	if diff := cmp.Diff([]got{{12288, 100}, {512, 200}, {0, 200}}, gotOf()); diff != "" {
		t.Errorf("first tick (-want +got):\n%s", diff)
	}
	// The agent's own namespace counts its physical interfaces only; a
	// container's every interface but lo.
	if diff := cmp.Diff(map[uint64]uint64{100: 3000, 200: 700}, netns); diff != "" {
		t.Errorf("namespace bytes (-want +got):\n%s", diff)
	}
	if r.IOReads != 3 {
		t.Errorf("%d io reads on the first tick, want 3 (every process is new)", r.IOReads)
	}

	// Tick 2: 10 wrote more but used no CPU time: its io is not read
	// (nor anyone's, the sweep picks PIDs ≡ 2 mod 32); 11 used CPU.
	tree.proc(10, 100, 4096, 100_000, host)
	tree.proc(11, 200, 0, 1024, ctr)
	procs[1].CPU = 6
	r.IOReads = 0
	if _, err := r.Fill(procs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]got{{12288, 100}, {1024, 200}, {0, 200}}, gotOf()); diff != "" {
		t.Errorf("second tick (-want +got):\n%s", diff)
	}
	if r.IOReads != 1 {
		t.Errorf("%d io reads on the second tick, want 1 (only the process that used CPU time)", r.IOReads)
	}
	// Its reaped children's CPU time counts too: 10 reaped a child.
	procs[0].ChildCPU = 3
	if _, err := r.Fill(procs); err != nil {
		t.Fatal(err)
	}
	if procs[0].IO != 104096 {
		t.Errorf("after reaping, IO = %d, want 104096", procs[0].IO)
	}
	// A process gone is forgotten; one whose io is unreadable keeps 0.
	procs = append(procs[:0], procinfo.Proc{Key: procinfo.Key{PID: 13, StartTime: 1}, CPU: 1, Meta: meta})
	if _, err := r.Fill(procs); err != nil {
		t.Fatal(err)
	}
	if procs[0].IO != 0 || procs[0].NetNS != 0 || len(r.cache) != 1 {
		t.Errorf("unreadable process: IO %d, NetNS %d, cache %d; want 0, 0, 1", procs[0].IO, procs[0].NetNS, len(r.cache))
	}
}

func TestParseIO(t *testing.T) {
	tests := []struct {
		name, text string
		want       uint64
		ok         bool
	}{
		{"both", ioText(100, 23), 123, true},
		{"cancelled_write_bytes is not write_bytes", "rchar: 1\nread_bytes: 5\ncancelled_write_bytes: 7\n", 5, false},
		{"empty", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseIO([]byte(tc.text))
			if got != tc.want || ok != tc.ok {
				t.Errorf("ParseIO = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// BenchmarkResourcesFill is the per-tick cost of Resources at 2 000 and
// 10 000 processes in 40 network namespaces, when 2 % of them used CPU time
// since the last tick (the usual case: most processes sleep) and when all
// did (the worst case: every io file read).
func BenchmarkResourcesFill(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		for _, busy := range []int{2, 100} {
			b.Run(fmt.Sprintf("procs=%d/busy=%d%%", n, busy), func(b *testing.B) {
				root := b.TempDir()
				write := func(rel, text string) {
					p := filepath.Join(root, rel)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						b.Fatal(err)
					}
					if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
						b.Fatal(err)
					}
				}
				link := func(rel, target string) {
					p := filepath.Join(root, rel)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						b.Fatal(err)
					}
					if err := os.Symlink(target, p); err != nil {
						b.Fatal(err)
					}
				}
				link("self/ns/net", "net:[1]")
				procs := make([]procinfo.Proc, n)
				meta := &procinfo.Meta{}
				for i := range procs {
					pid := 100 + i
					ns := 1 + i%40
					write(fmt.Sprintf("%d/io", pid), ioText(uint64(i), uint64(i)))
					link(fmt.Sprintf("%d/ns/net", pid), fmt.Sprintf("net:[%d]", ns))
					write(fmt.Sprintf("%d/net/dev", pid), netDevHead+netDevLine("lo", 1, 1)+netDevLine("eth0", 10, 10))
					procs[i] = procinfo.Proc{Key: procinfo.Key{PID: pid, StartTime: 1}, Meta: meta}
				}
				r := NewResources(root, []string{"eth0"})
				if _, err := r.Fill(procs); err != nil {
					b.Fatal(err)
				}
				step := 100 / busy
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					for j := 0; j < n; j += step {
						procs[j].CPU++
					}
					if _, err := r.Fill(procs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(r.IOReads)/float64(b.N+1), "io-reads/tick")
			})
		}
	}
}

func TestParseIOStat(t *testing.T) {
	text := "8:0 rbytes=1000 wbytes=24 rios=3 wios=1 dbytes=9999 dios=1\n" +
		"253:0 rbytes=1000 wbytes=24 rios=3 wios=1 dbytes=0 dios=0\n" +
		"8:16 rbytes=5 wbytes=x rios=1\n"
	if got := ParseIOStat([]byte(text), nil); got != 2053 {
		t.Errorf("every device: %d, want 2053", got)
	}
	if got := ParseIOStat([]byte(text), map[string]bool{"8:0": true}); got != 1024 {
		t.Errorf("the disk alone: %d, want 1024 (not the device-mapper volume on it)", got)
	}
}

// TestResourcesCgroupFallback: a process whose <pid>/io is denied (another
// user's, no CAP_SYS_PTRACE) gets its part of its cgroup's io.stat bytes,
// less what the cgroup's readable processes read themselves, by CPU time;
// its io file is not tried again until it execs.
func TestResourcesCgroupFallback(t *testing.T) {
	tree := newResTree(t, 100)
	cgroot := t.TempDir()
	writeStat := func(rbytes, wbytes uint64) {
		t.Helper()
		dir := filepath.Join(cgroot, "kubepods", "pod1", "ctr")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprintf("8:0 rbytes=%d wbytes=%d rios=1 wios=1 dbytes=0 dios=0\n253:0 rbytes=777 wbytes=777 rios=1 wios=1\n", rbytes, wbytes)
		if err := os.WriteFile(filepath.Join(dir, "io.stat"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tree.proc(10, 100, 0, 0, "")
	tree.proc(11, 100, 0, 0, "")
	tree.proc(12, 100, 0, 100, "") // readable, same cgroup
	r := NewResources(tree.root, nil)
	r.EveryTick()
	denied := map[string]bool{"10/io\x00": true, "11/io\x00": true}
	tries := 0
	r.readIOFile = func(dirfd int, path, buf []byte) (int, error) {
		if denied[string(path)] {
			tries++
			return 0, unix.EACCES
		}
		return readFull(dirfd, path, buf)
	}
	r.CgroupFallback(cgroot, []string{"8:0"})

	meta := &procinfo.Meta{Cgroup: "/kubepods/pod1/ctr"}
	procs := func(cpu10, cpu11 uint64) []procinfo.Proc {
		return []procinfo.Proc{
			{Key: procinfo.Key{PID: 10, StartTime: 1}, CPU: cpu10, Meta: meta},
			{Key: procinfo.Key{PID: 11, StartTime: 1}, CPU: cpu11, Meta: meta},
			{Key: procinfo.Key{PID: 12, StartTime: 1}, CPU: 1, Meta: meta},
		}
	}
	fill := func(ps []procinfo.Proc) []uint64 {
		t.Helper()
		if _, err := r.Fill(ps); err != nil {
			t.Fatal(err)
		}
		return []uint64{ps[0].IO, ps[1].IO, ps[2].IO}
	}
	writeStat(5000, 5000)
	if got := fill(procs(10, 10)); !cmp.Equal(got, []uint64{0, 0, 100}) {
		t.Errorf("first tick: %v; want the counter set, nothing given", got)
	}
	// The cgroup moved 3 000 bytes, 1 000 of them the readable process's;
	// the 2 000 others by CPU time since the first tick: 30 and 10 ticks.
	tree.write("12/io", ioText(0, 1100))
	writeStat(6000, 7000)
	if got := fill(procs(40, 20)); !cmp.Equal(got, []uint64{1500, 500, 1100}) {
		t.Errorf("second tick: %v, want [1500 500 1100]", got)
	}
	// No CPU time moved: evenly.
	writeStat(6000, 7400)
	if got := fill(procs(40, 20)); !cmp.Equal(got, []uint64{1700, 700, 1100}) {
		t.Errorf("third tick: %v, want [1700 700 1100]", got)
	}
	if tries != 2 {
		t.Errorf("the denied io files were tried %d times, want once each", tries)
	}
	if r.CgroupReads != 3 {
		t.Errorf("io.stat read %d times, want once a tick", r.CgroupReads)
	}
}

// TestResourcesEveryTick: by default a process whose CPU time did not move
// has its io read once in 32 ticks; with EveryTick at every Fill.
func TestResourcesEveryTick(t *testing.T) {
	tree := newResTree(t, 100)
	var procs []procinfo.Proc
	meta := &procinfo.Meta{}
	for pid := 10; pid < 74; pid++ {
		tree.proc(pid, 100, 0, 0, "")
		procs = append(procs, procinfo.Proc{Key: procinfo.Key{PID: pid, StartTime: 1}, CPU: 5, Meta: meta})
	}
	for _, every := range []bool{false, true} {
		r := NewResources(tree.root, nil)
		if every {
			r.EveryTick()
		}
		for range 3 {
			if _, err := r.Fill(procs); err != nil {
				t.Fatal(err)
			}
		}
		want := 64 + 2*2 // all on first sight, then 2 of 64 a tick
		if every {
			want = 3 * 64
		}
		if r.IOReads != want {
			t.Errorf("every tick %v: %d io reads in 3 ticks, want %d", every, r.IOReads, want)
		}
	}
}
