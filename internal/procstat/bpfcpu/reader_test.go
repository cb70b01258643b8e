package bpfcpu

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat/procfstest"
)

// fakeSource is the BPF side as the tests script it: what each call of
// Exits, Drain and Running returns next.
type fakeSource struct {
	exits   []exit
	deltas  []delta
	running []running
	now     uint64
	dropped [2]uint64
	closed  bool
}

func (f *fakeSource) Exits(dst []exit) ([]exit, error) {
	dst = append(dst, f.exits...)
	f.exits = nil
	return dst, nil
}

func (f *fakeSource) Drain(dst []delta) ([]delta, error) {
	dst = append(dst, f.deltas...)
	f.deltas = nil
	return dst, nil
}

func (f *fakeSource) Running(dst []running) ([]running, uint64, error) {
	dst = append(dst, f.running...)
	f.running = nil
	return dst, f.now, nil
}

func (f *fakeSource) Dropped() (uint64, uint64) { return f.dropped[0], f.dropped[1] }
func (f *fakeSource) Close() error              { f.closed = true; return nil }

func comm(s string) (c [commLen]byte) {
	copy(c[:], s)
	return c
}

func ms(n uint64) uint64 { return n * 1e6 }

// row is what a test compares of a Proc.
type row struct {
	PID    int
	Start  uint64
	CPU    uint64
	PPID   int
	Comm   string
	Exe    string
	Cgroup string
}

func rows(procs []procinfo.Proc) map[int]row {
	out := map[int]row{}
	for _, p := range procs {
		r := row{PID: p.PID, Start: p.StartTime, CPU: p.CPU, PPID: p.PPID}
		if p.Meta != nil {
			r.Comm, r.Exe, r.Cgroup = p.Meta.Comm, p.Meta.Exe, p.Meta.Cgroup
		}
		out[p.PID] = r
	}
	return out
}

// fixture is a procfs tree with two processes, and a Reader over it fed
// by a fake source.
func fixture(t *testing.T, opts ...Option) (*Reader, *fakeSource, *procfstest.FS) {
	t.Helper()
	fs := procfstest.Build(t, filepath.Join(t.TempDir(), "proc"), []procfstest.Proc{
		{PID: 100, PPID: 1, Comm: "sshd", UTime: 7, STime: 3, StartTime: 50, Exe: "/usr/sbin/sshd", Cmdline: []string{"sshd"}, Cgroup: procfstest.CgroupV2("/system.slice/ssh.service")},
		{PID: 200, PPID: 100, Comm: "bash", UTime: 5, StartTime: 60, Exe: "/bin/bash", Cmdline: []string{"-bash"}, Cgroup: procfstest.CgroupV2("/user.slice")},
	})
	src := &fakeSource{}
	r, err := New(fs.Root, t.TempDir(), append([]Option{withSource(src), withCgroupRoot("")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r, src, fs
}

func read(t *testing.T, r *Reader) map[int]row {
	t.Helper()
	procs, st, err := r.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Seen != len(procs) {
		t.Errorf("Stats.Seen = %d, want %d", st.Seen, len(procs))
	}
	return rows(procs)
}

var (
	sshd = row{PID: 100, Start: 50, CPU: 10, PPID: 1, Comm: "sshd", Exe: "/usr/sbin/sshd", Cgroup: "/system.slice/ssh.service"}
	bash = row{PID: 200, Start: 60, CPU: 5, PPID: 100, Comm: "bash", Exe: "/bin/bash", Cgroup: "/user.slice"}
)

func with(r row, f func(*row)) row { f(&r); return r }

func TestSeedAndDeltas(t *testing.T) {
	r, src, _ := fixture(t)
	if diff := cmp.Diff(map[int]row{100: sshd, 200: bash}, read(t, r)); diff != "" {
		t.Fatalf("seed (-want +got):\n%s", diff)
	}
	// 25 ms then 5 ms: 2 ticks, then 3 (nothing lost to rounding).
	src.deltas = []delta{{key: pkey{100, 50}, ns: ms(25), taskInfo: taskInfo{comm: comm("sshd")}}}
	if diff := cmp.Diff(map[int]row{100: with(sshd, func(r *row) { r.CPU = 12 }), 200: bash}, read(t, r)); diff != "" {
		t.Errorf("after 25 ms (-want +got):\n%s", diff)
	}
	src.deltas = []delta{{key: pkey{100, 50}, ns: ms(5), taskInfo: taskInfo{comm: comm("sshd")}}}
	if got := read(t, r)[100].CPU; got != 13 {
		t.Errorf("after 30 ms: CPU = %d, want 13", got)
	}
}

func TestNewProcessReadFromProcfsOnce(t *testing.T) {
	var hooked []int
	r, src, fs := fixture(t, WithMetaHook(func(pid int, m *procinfo.Meta) { hooked = append(hooked, pid); m.VM = "vm-" + m.Comm }))
	read(t, r)
	fs.Add(procfstest.Proc{PID: 300, PPID: 200, Comm: "make", UTime: 1, StartTime: 70, Exe: "/usr/bin/make", Cmdline: []string{"make"}, Cgroup: procfstest.CgroupV2("/user.slice")})
	src.deltas = []delta{{key: pkey{300, 70}, ns: ms(31), taskInfo: taskInfo{ppid: 200, comm: comm("make")}}}
	got := read(t, r)
	want := row{PID: 300, Start: 70, CPU: 3, PPID: 200, Comm: "make", Exe: "/usr/bin/make", Cgroup: "/user.slice"}
	if diff := cmp.Diff(want, got[300]); diff != "" {
		t.Errorf("new process (-want +got):\n%s", diff)
	}
	src.deltas = []delta{{key: pkey{300, 70}, ns: ms(10), taskInfo: taskInfo{ppid: 200, comm: comm("make")}}}
	read(t, r)
	if diff := cmp.Diff([]int{100, 200, 300}, sortInts(hooked)); diff != "" {
		t.Errorf("hook ran for (-want +got):\n%s", diff)
	}
}

func sortInts(s []int) []int {
	out := append([]int(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// A process that lives and dies between two ticks is shown the tick its
// exit is seen and the next, with all its CPU time (the slice that came
// after the exit record included), named by what the program recorded;
// then it is gone, and a late slice does not bring it back.
func TestShortLivedProcess(t *testing.T) {
	r, src, _ := fixture(t)
	read(t, r)
	key := pkey{400, 80}
	info := taskInfo{cgroupID: 9, ppid: 200, comm: comm("cc1")}
	src.deltas = []delta{{key: key, ns: ms(14), taskInfo: info}}
	src.exits = []exit{{key: key, taskInfo: info}}
	want := row{PID: 400, Start: 80, CPU: 1, PPID: 200, Comm: "cc1"}
	if diff := cmp.Diff(want, read(t, r)[400]); diff != "" {
		t.Errorf("tick of its exit (-want +got):\n%s", diff)
	}
	src.deltas = []delta{{key: key, ns: ms(2), taskInfo: info}} // the rest of do_exit
	want.CPU = 2                                                // 16 ms, rounded to the nearest tick
	if diff := cmp.Diff(want, read(t, r)[400]); diff != "" {
		t.Errorf("tick after (-want +got):\n%s", diff)
	}
	src.deltas = []delta{{key: key, ns: ms(1), taskInfo: info}}
	if got, ok := read(t, r)[400]; ok {
		t.Errorf("closed process is back: %+v", got)
	}
	if r.lateSlices != 1 {
		t.Errorf("late slices = %d, want 1", r.lateSlices)
	}
}

// Many short processes, each a fraction of a tick: what is handed out
// sums to what they used, to within one tick.
func TestRoundingConserves(t *testing.T) {
	r, src, _ := fixture(t)
	read(t, r)
	var want uint64
	var got uint64
	for i := range 100 {
		key := pkey{uint32(1000 + i), 90}
		ns := ms(3) + uint64(i)*ms(1)/7
		want += ns
		info := taskInfo{comm: comm("sh")}
		src.deltas = []delta{{key: key, ns: ns, taskInfo: info}}
		src.exits = []exit{{key: key, taskInfo: info}}
		read(t, r)
		for pid, row := range read(t, r) {
			if pid >= 1000 {
				got += row.CPU
			}
		}
	}
	read(t, r)
	if d := int64(got*nsPerTick) - int64(want); d > int64(nsPerTick) || d < -int64(nsPerTick) {
		t.Errorf("handed out %d ticks for %d ns: off by %d ns, more than a tick", got, want, d)
	}
}

// The slice of a process still running at the read counts, and is not
// counted again when it lands in a delta map.
func TestRunningSlice(t *testing.T) {
	r, src, _ := fixture(t)
	read(t, r)
	src.now = ms(10_000)
	src.running = []running{{key: pkey{100, 50}, since: ms(10_000 - 40)}, {key: pkey{0, 0}, since: ms(9_000)}}
	if got := read(t, r)[100].CPU; got != 14 {
		t.Errorf("running 40 ms: CPU = %d, want 14", got)
	}
	src.deltas = []delta{{key: pkey{100, 50}, ns: ms(45), taskInfo: taskInfo{comm: comm("sshd")}}}
	if got := read(t, r)[100].CPU; got != 14 {
		t.Errorf("its 45 ms slice ended: CPU = %d, want 14", got)
	}
	src.deltas = []delta{{key: pkey{100, 50}, ns: ms(6), taskInfo: taskInfo{comm: comm("sshd")}}}
	if got := read(t, r)[100].CPU; got != 15 {
		t.Errorf("6 ms more: CPU = %d, want 15", got)
	}
}

// A reused PID is another process: the old one closes, the new one is
// read from procfs.
func TestPIDReuse(t *testing.T) {
	r, src, fs := fixture(t)
	read(t, r)
	fs.Remove(200)
	fs.Add(procfstest.Proc{PID: 200, PPID: 1, Comm: "nginx", StartTime: 99, Exe: "/usr/sbin/nginx", Cmdline: []string{"nginx"}, Cgroup: procfstest.CgroupV2("/system.slice/nginx.service")})
	src.exits = []exit{{key: pkey{200, 60}, taskInfo: taskInfo{comm: comm("bash")}}}
	src.deltas = []delta{
		{key: pkey{200, 60}, ns: ms(20), taskInfo: taskInfo{comm: comm("bash")}},
		{key: pkey{200, 99}, ns: ms(50), taskInfo: taskInfo{comm: comm("nginx")}},
	}
	procs, _, err := r.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[procinfo.Key]row{}
	for _, p := range procs {
		got[p.Key] = rows([]procinfo.Proc{p})[p.PID]
	}
	want := map[procinfo.Key]row{
		{PID: 100, StartTime: 50}: sshd,
		{PID: 200, StartTime: 60}: with(bash, func(r *row) { r.CPU = 7 }),
		{PID: 200, StartTime: 99}: {PID: 200, Start: 99, CPU: 5, PPID: 1, Comm: "nginx", Exe: "/usr/sbin/nginx", Cgroup: "/system.slice/nginx.service"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A changed name is an exec: the Meta is read again.
func TestExecRereadsMeta(t *testing.T) {
	r, src, fs := fixture(t)
	read(t, r)
	src.deltas = []delta{{key: pkey{200, 60}, ns: ms(10), taskInfo: taskInfo{comm: comm("bash")}}}
	read(t, r)
	fs.Remove(200)
	fs.Add(procfstest.Proc{PID: 200, PPID: 100, Comm: "qemu-system-x86", StartTime: 60, Exe: "/usr/bin/qemu-system-x86_64", Cmdline: []string{"qemu"}, Cgroup: procfstest.CgroupV2("/machine.slice")})
	src.deltas = []delta{{key: pkey{200, 60}, ns: ms(10), taskInfo: taskInfo{comm: comm("qemu-system-x86")}}}
	got := read(t, r)[200]
	want := row{PID: 200, Start: 60, CPU: 7, PPID: 100, Comm: "qemu-system-x86", Exe: "/usr/bin/qemu-system-x86_64", Cgroup: "/machine.slice"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// An exited process's cgroup is found from a process read from procfs in
// the same cgroup, else by walking the cgroup2 mount.
func TestExitedProcessCgroup(t *testing.T) {
	cg := t.TempDir()
	dir := filepath.Join(cg, "system.slice", "docker-abc.scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	walked := st.Sys().(*syscall.Stat_t).Ino
	r, src, fs := fixture(t, withCgroupRoot(cg))
	read(t, r)
	// A process read from procfs when it first runs, in cgroup 11, tells
	// what cgroup 11 is.
	fs.Add(procfstest.Proc{PID: 300, PPID: 200, Comm: "vim", StartTime: 70, Cgroup: procfstest.CgroupV2("/user.slice")})
	src.deltas = []delta{{key: pkey{300, 70}, ns: ms(10), taskInfo: taskInfo{cgroupID: 11, comm: comm("vim")}}}
	read(t, r)
	src.deltas = []delta{{key: pkey{500, 90}, ns: ms(10), taskInfo: taskInfo{cgroupID: 11, comm: comm("ls")}}}
	src.exits = []exit{{key: pkey{500, 90}, taskInfo: taskInfo{cgroupID: 11, comm: comm("ls")}}}
	if got := read(t, r)[500].Cgroup; got != "/user.slice" {
		t.Errorf("learnt cgroup: %q, want /user.slice", got)
	}
	src.deltas = []delta{{key: pkey{501, 90}, ns: ms(10), taskInfo: taskInfo{cgroupID: walked, comm: comm("true")}}}
	src.exits = []exit{{key: pkey{501, 90}, taskInfo: taskInfo{cgroupID: walked, comm: comm("true")}}}
	if got := read(t, r)[501].Cgroup; got != "/system.slice/docker-abc.scope" {
		t.Errorf("walked cgroup: %q, want /system.slice/docker-abc.scope", got)
	}
}

// A process whose exit record was lost is dropped once procfs no longer
// lists it.
func TestReconcileLostExit(t *testing.T) {
	r, src, fs := fixture(t)
	read(t, r)
	fs.Remove(200)
	src.dropped = [2]uint64{0, 1}
	got := read(t, r)
	if _, ok := got[200]; !ok {
		t.Fatalf("bash should still be shown the tick it is found gone")
	}
	if _, ok := read(t, r)[200]; ok {
		t.Errorf("bash, gone from procfs with its exit record lost, is still listed")
	}
}

func TestCloseClosesSource(t *testing.T) {
	r, src, _ := fixture(t)
	if err := r.Close(); err != nil || !src.closed {
		t.Errorf("Close: err %v, source closed %v", err, src.closed)
	}
}
