package procstat

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat/procfstest"
)

// seen is what a test compares of a Proc: its Meta by value.
type seen struct {
	PID       int
	StartTime uint64
	CPU       uint64
	Meta      procinfo.Meta
}

func summarize(t *testing.T, procs []procinfo.Proc) []seen {
	t.Helper()
	out := make([]seen, 0, len(procs))
	for _, p := range procs {
		if p.Meta == nil {
			t.Fatalf("pid %d: nil Meta", p.PID)
		}
		out = append(out, seen{PID: p.PID, StartTime: p.StartTime, CPU: p.CPU, Meta: *p.Meta})
	}
	slices.SortFunc(out, func(a, b seen) int { return a.PID - b.PID })
	return out
}

func proc(pid int, start, utime, stime uint64, cmd ...string) procfstest.Proc {
	return procfstest.Proc{
		PID: pid, PPID: 1, Comm: filepath.Base(cmd[0]), UTime: utime, STime: stime, StartTime: start,
		Cmdline: cmd, Exe: cmd[0], Cgroup: procfstest.CgroupV2("/user.slice/p" + filepath.Base(cmd[0])),
	}
}

func meta(cmd ...string) procinfo.Meta {
	return procinfo.Meta{
		Exe: cmd[0], Comm: filepath.Base(cmd[0]), Cmdline: strings.Join(cmd, " "),
		Cgroup: "/user.slice/p" + filepath.Base(cmd[0]),
	}
}

// TestReadSteps runs reads over a tree that changes between ticks.
func TestReadSteps(t *testing.T) {
	type step struct {
		name   string
		change func(fs *procfstest.FS)
		want   []seen
		stats  procinfo.Stats
	}
	tests := []struct {
		name  string
		start []procfstest.Proc
		steps []step
	}{
		{
			name: "processes come and go",
			start: []procfstest.Proc{
				proc(100, 1000, 10, 5, "/bin/a", "-x"),
				proc(200, 2000, 1, 1, "/bin/b"),
			},
			steps: []step{
				{
					name: "first read",
					want: []seen{
						{PID: 100, StartTime: 1000, CPU: 15, Meta: meta("/bin/a", "-x")},
						{PID: 200, StartTime: 2000, CPU: 2, Meta: meta("/bin/b")},
					},
					stats: procinfo.Stats{Seen: 2},
				},
				{
					name: "one exits, one starts, one burns CPU",
					change: func(fs *procfstest.FS) {
						fs.Remove(200)
						fs.Add(proc(300, 3000, 0, 0, "/bin/c", "--flag"))
						fs.SetCPUTime(100, 30, 9)
					},
					want: []seen{
						{PID: 100, StartTime: 1000, CPU: 39, Meta: meta("/bin/a", "-x")},
						{PID: 300, StartTime: 3000, CPU: 0, Meta: meta("/bin/c", "--flag")},
					},
					stats: procinfo.Stats{Seen: 2},
				},
				{
					name:   "all gone",
					change: func(fs *procfstest.FS) { fs.Remove(100); fs.Remove(300) },
					want:   []seen{},
					stats:  procinfo.Stats{},
				},
			},
		},
		{
			name:  "PID reused with another start time",
			start: []procfstest.Proc{proc(100, 1000, 50, 50, "/bin/old")},
			steps: []step{
				{
					name:  "old process",
					want:  []seen{{PID: 100, StartTime: 1000, CPU: 100, Meta: meta("/bin/old")}},
					stats: procinfo.Stats{Seen: 1},
				},
				{
					name: "new process, same PID",
					change: func(fs *procfstest.FS) {
						fs.Remove(100)
						fs.Add(proc(100, 5000, 1, 0, "/bin/new", "arg"))
					},
					want:  []seen{{PID: 100, StartTime: 5000, CPU: 1, Meta: meta("/bin/new", "arg")}},
					stats: procinfo.Stats{Seen: 1},
				},
			},
		},
		{
			name: "unreadable processes are skipped and counted",
			start: []procfstest.Proc{
				proc(100, 1000, 1, 2, "/bin/a"),
				proc(200, 2000, 3, 4, "/bin/b"),
				proc(300, 3000, 5, 6, "/bin/c"),
			},
			steps: []step{
				{
					name: "no stat, garbage stat",
					change: func(fs *procfstest.FS) {
						fs.RemoveFile(200, "stat")
						fs.WriteFile(300, "stat", []byte("300 (c) S 1 2 3 garbage\n"))
					},
					want:  []seen{{PID: 100, StartTime: 1000, CPU: 3, Meta: meta("/bin/a")}},
					stats: procinfo.Stats{Seen: 3, Skipped: 2},
				},
				{
					name:   "stat readable again",
					change: func(fs *procfstest.FS) { fs.SetCPUTime(300, 7, 7) },
					want: []seen{
						{PID: 100, StartTime: 1000, CPU: 3, Meta: meta("/bin/a")},
						{PID: 300, StartTime: 3000, CPU: 14, Meta: meta("/bin/c")},
					},
					stats: procinfo.Stats{Seen: 3, Skipped: 1},
				},
			},
		},
		{
			name: "non-process entries are ignored",
			start: []procfstest.Proc{
				proc(100, 1000, 1, 2, "/bin/a"),
			},
			steps: []step{
				{
					name: "self, sys, a numeric file",
					change: func(fs *procfstest.FS) {
						for _, d := range []string{"self", "sys", "12ab"} {
							if err := os.Mkdir(filepath.Join(fs.Root, d), 0o755); err != nil {
								t.Fatal(err)
							}
						}
						if err := os.WriteFile(filepath.Join(fs.Root, "4242"), nil, 0o644); err != nil {
							t.Fatal(err)
						}
					},
					want:  []seen{{PID: 100, StartTime: 1000, CPU: 3, Meta: meta("/bin/a")}},
					stats: procinfo.Stats{Seen: 1},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := procfstest.Build(t, t.TempDir(), tt.start)
			r := NewReader(fs.Root)
			var buf []procinfo.Proc
			for _, s := range tt.steps {
				if s.change != nil {
					s.change(fs)
				}
				var st procinfo.Stats
				var err error
				buf, st, err = r.Read(buf)
				if err != nil {
					t.Fatalf("%s: Read: %v", s.name, err)
				}
				if diff := cmp.Diff(s.want, summarize(t, buf)); diff != "" {
					t.Errorf("%s: procs mismatch (-want +got):\n%s", s.name, diff)
				}
				if diff := cmp.Diff(s.stats, st); diff != "" {
					t.Errorf("%s: stats mismatch (-want +got):\n%s", s.name, diff)
				}
				if got, want := len(r.cache), len(buf); got != want {
					t.Errorf("%s: %d cache entries, want %d (one per live process)", s.name, got, want)
				}
			}
		})
	}
}

// TestMetaReadOnce shows that Meta is read once per process lifetime: a
// later change of its files that leaves the stat line's comm alone (no
// exec) is not seen, the hook runs once, and every tick hands out the same
// *Meta. A PID reused by a new process gets a new Meta and a new hook call.
func TestMetaReadOnce(t *testing.T) {
	fs := procfstest.Build(t, t.TempDir(), []procfstest.Proc{proc(100, 1000, 1, 1, "/usr/bin/qemu-system-x86_64", "-name", "guest=web")})
	var calls []procinfo.Key
	hook := func(pid int, m *procinfo.Meta) {
		calls = append(calls, procinfo.Key{PID: pid})
		m.VM = "vm-of-" + m.Comm
	}
	r := NewReader(fs.Root, WithMetaHook(hook))

	first, _, err := r.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	fs.WriteFile(100, "cmdline", []byte("changed\x00"))
	fs.WriteFile(100, "comm", []byte("changed\n"))
	fs.SetCPUTime(100, 5, 5)
	second, _, err := r.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || len(second) != 1 {
		t.Fatalf("got %d then %d procs, want 1 and 1", len(first), len(second))
	}
	if first[0].Meta != second[0].Meta {
		t.Errorf("Meta pointer changed between ticks: the process's Meta was read again")
	}
	want := procinfo.Meta{
		Exe: "/usr/bin/qemu-system-x86_64", Comm: "qemu-system-x86_64",
		Cmdline: "/usr/bin/qemu-system-x86_64 -name guest=web", Cgroup: "/user.slice/pqemu-system-x86_64",
		VM: "vm-of-qemu-system-x86_64",
	}
	if diff := cmp.Diff(want, *second[0].Meta); diff != "" {
		t.Errorf("cached Meta mismatch (-want +got):\n%s", diff)
	}
	if second[0].CPU != 10 {
		t.Errorf("CPU = %d, want 10 (CPU is read every tick)", second[0].CPU)
	}
	if diff := cmp.Diff([]procinfo.Key{{PID: 100}}, calls); diff != "" {
		t.Errorf("hook calls after two reads (-want +got):\n%s", diff)
	}

	// Same PID, new start time: a new process.
	fs.Remove(100)
	fs.Add(proc(100, 9000, 0, 0, "/bin/sh"))
	third, _, err := r.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]procinfo.Key{{PID: 100}, {PID: 100}}, calls); diff != "" {
		t.Errorf("hook calls after PID reuse (-want +got):\n%s", diff)
	}
	if got := third[0].Meta; got == first[0].Meta || got.Cmdline != "/bin/sh" || got.VM != "vm-of-sh" {
		t.Errorf("after PID reuse Meta = %+v, want a fresh one for /bin/sh", *got)
	}
}

// TestCachePruned shows that the cache does not grow with processes that
// have exited.
func TestCachePruned(t *testing.T) {
	fs := procfstest.New(t, t.TempDir())
	r := NewReader(fs.Root)
	var buf []procinfo.Proc
	const perTick = 5
	fs.Add(proc(1, 1, 0, 0, "/sbin/init"))
	for tick := range 10 {
		// perTick short-lived processes per tick, plus one that stays.
		for i := range perTick {
			pid := 1000 + tick*perTick + i
			fs.Add(proc(pid, uint64(pid), 0, 0, "/bin/true"))
		}
		var err error
		if buf, _, err = r.Read(buf); err != nil {
			t.Fatal(err)
		}
		if len(buf) != perTick+1 || len(r.cache) != perTick+1 {
			t.Fatalf("tick %d: %d procs, %d cache entries; want %d and %d", tick, len(buf), len(r.cache), perTick+1, perTick+1)
		}
		for i := range perTick {
			fs.Remove(1000 + tick*perTick + i)
		}
	}
}

func TestReadHostileMeta(t *testing.T) {
	long := bytes.Repeat([]byte("A\x00"), 512*1024) // 1 MiB
	tests := []struct {
		name  string
		proc  procfstest.Proc
		files map[string][]byte // written after the process
		check func(t *testing.T, m procinfo.Meta)
		want  *procinfo.Meta
	}{
		{
			name: "comm with ) ( inside",
			proc: procfstest.Proc{PID: 10, Comm: "evil) (S 1 2", StartTime: 1, UTime: 3, Cmdline: []string{"x"}},
			want: &procinfo.Meta{Comm: "evil) (S 1 2", Cmdline: "x", Cgroup: "/"},
		},
		{
			name:  "control characters and invalid UTF-8",
			proc:  procfstest.Proc{PID: 11, Comm: "c", StartTime: 1, Exe: "/tmp/a\nb\xff"},
			files: map[string][]byte{"cmdline": []byte("ls\x00--color\x1b[31m\x00caf\xc3\xa9\x00\xfe\x00\x00"), "comm": []byte("c\x07\n")},
			want:  &procinfo.Meta{Exe: "/tmp/a b\uFFFD", Comm: "c\a", Cmdline: "ls --color\x1b[31m café \uFFFD", Cgroup: "/"},
		},
		{
			name:  "megabyte command line",
			proc:  procfstest.Proc{PID: 12, Comm: "big", StartTime: 1},
			files: map[string][]byte{"cmdline": long},
			check: func(t *testing.T, m procinfo.Meta) {
				if len(m.Cmdline) > maxCmdline {
					t.Errorf("len(Cmdline) = %d, want at most %d", len(m.Cmdline), maxCmdline)
				}
				if !strings.HasPrefix(m.Cmdline, "A A A") {
					t.Errorf("Cmdline starts %q, want A A A…", m.Cmdline[:10])
				}
			},
		},
		{
			name:  "cut in the middle of a character",
			proc:  procfstest.Proc{PID: 13, Comm: "u", StartTime: 1},
			files: map[string][]byte{"cmdline": append(bytes.Repeat([]byte("a"), maxCmdline-1), "éé"...)},
			check: func(t *testing.T, m procinfo.Meta) {
				if !utf8.ValidString(m.Cmdline) || len(m.Cmdline) > maxCmdline {
					t.Errorf("Cmdline is %d bytes, valid UTF-8 %v", len(m.Cmdline), utf8.ValidString(m.Cmdline))
				}
			},
		},
		{
			name: "kernel thread: no exe, empty cmdline",
			proc: procfstest.Proc{PID: 14, Comm: "kworker/0:1-events", StartTime: 1},
			files: map[string][]byte{
				"cgroup": []byte("12:pids:/\n0::/\n"),
			},
			want: &procinfo.Meta{Comm: "kworker/0:1-events", Cgroup: "/"},
		},
		{
			name:  "comm from stat when the comm file is missing",
			proc:  procfstest.Proc{PID: 15, Comm: "from-stat", StartTime: 1},
			files: map[string][]byte{"comm": nil},
			want:  &procinfo.Meta{Comm: "from-stat", Cgroup: "/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := procfstest.Build(t, t.TempDir(), []procfstest.Proc{tt.proc})
			for name, data := range tt.files {
				if data == nil {
					fs.RemoveFile(tt.proc.PID, name)
					continue
				}
				fs.WriteFile(tt.proc.PID, name, data)
			}
			procs, st, err := NewReader(fs.Root).Read(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(procs) != 1 || st.Skipped != 0 {
				t.Fatalf("got %d procs, %d skipped; want 1 and 0", len(procs), st.Skipped)
			}
			if tt.proc.UTime != 0 && procs[0].CPU != tt.proc.UTime {
				t.Errorf("CPU = %d, want %d", procs[0].CPU, tt.proc.UTime)
			}
			m := *procs[0].Meta
			for _, s := range []string{m.Exe, m.Comm, m.Cmdline, m.Cgroup} {
				// Valid UTF-8 on one line; other controls are the
				// exporters' to make safe (docs/exporters.md).
				if !utf8.ValidString(s) || strings.ContainsAny(s, "\t\n\v\f\r") {
					t.Errorf("invalid or multi-line string in Meta: %q", s)
				}
			}
			if tt.want != nil {
				if diff := cmp.Diff(*tt.want, m); diff != "" {
					t.Errorf("Meta mismatch (-want +got):\n%s", diff)
				}
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestReadMissingProcfs(t *testing.T) {
	r := NewReader(filepath.Join(t.TempDir(), "nope"))
	if _, _, err := r.Read(nil); err == nil {
		t.Error("Read of a missing procfs: no error")
	}
	if _, err := r.CPUTimes(); err == nil {
		t.Error("CPUTimes of a missing procfs: no error")
	}
}

func TestCPUTimesFake(t *testing.T) {
	fs := procfstest.New(t, t.TempDir())
	fs.SetCPU(procfstest.CPU{User: 100, Nice: 1, System: 50, Idle: 1000, IOWait: 7, IRQ: 2, SoftIRQ: 3, Steal: 4, Guest: 40, GuestNice: 1}, 8)
	got, err := NewReader(fs.Root).CPUTimes()
	if err != nil {
		t.Fatal(err)
	}
	want := procinfo.CPUTimes{Busy: 100 + 1 + 50 + 2 + 3 + 4, Work: 100 + 1 + 50 + 2 + 3, Total: 100 + 1 + 50 + 2 + 3 + 4 + 1000 + 7, CPUs: 8}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CPUTimes mismatch (-want +got):\n%s", diff)
	}
}

// TestCPUTimesLongStat reads a /proc/stat whose cpu lines do not fit in
// the first read buffer.
func TestCPUTimesLongStat(t *testing.T) {
	fs := procfstest.New(t, t.TempDir())
	fs.SetCPU(procfstest.CPU{User: 1 << 40, Idle: 1 << 41}, 1024)
	got, err := NewReader(fs.Root).CPUTimes()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(procinfo.CPUTimes{Busy: 1 << 40, Work: 1 << 40, Total: 3 << 40, CPUs: 1024}, got); diff != "" {
		t.Errorf("CPUTimes mismatch (-want +got):\n%s", diff)
	}
}

// TestReadRealProc reads the machine's /proc and finds this test process,
// with the CPU time it has just burnt.
func TestReadRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc:", err)
	}
	burn(50 * time.Millisecond)
	r := NewReader("/proc")
	procs, st, err := r.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Seen < len(procs) || len(procs) == 0 {
		t.Fatalf("Seen %d, %d procs", st.Seen, len(procs))
	}
	i := slices.IndexFunc(procs, func(p procinfo.Proc) bool { return p.PID == os.Getpid() })
	if i < 0 {
		t.Fatalf("own PID %d not among %d procs (%d skipped)", os.Getpid(), len(procs), st.Skipped)
	}
	self := procs[i]
	if self.CPU == 0 || self.StartTime == 0 {
		t.Errorf("own process: CPU %d, start time %d; want both > 0", self.CPU, self.StartTime)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if self.Meta.Exe != exe {
		t.Errorf("own Exe = %q, want %q", self.Meta.Exe, exe)
	}
	if !strings.Contains(self.Meta.Cmdline, "-test.") {
		t.Errorf("own Cmdline = %q, want the test binary's flags", self.Meta.Cmdline)
	}

	burn(30 * time.Millisecond)
	procs, _, err = r.Read(procs)
	if err != nil {
		t.Fatal(err)
	}
	i = slices.IndexFunc(procs, func(p procinfo.Proc) bool { return p.PID == os.Getpid() })
	if i < 0 {
		t.Fatal("own PID gone on second read")
	}
	if procs[i].CPU <= self.CPU || procs[i].Meta != self.Meta {
		t.Errorf("second read: CPU %d (was %d), same Meta %v; want more CPU and the same Meta",
			procs[i].CPU, self.CPU, procs[i].Meta == self.Meta)
	}

	c, err := r.CPUTimes()
	if err != nil {
		t.Fatal(err)
	}
	if c.CPUs < 1 || c.Busy == 0 || c.Total <= c.Busy {
		t.Errorf("CPUTimes = %+v, want CPUs ≥ 1 and 0 < Busy < Total", c)
	}
}

// burn spins for at least d of CPU time, so that the kernel's USER_HZ
// counters move by a few ticks.
func burn(d time.Duration) {
	x := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := range 100000 {
			x += i * i
		}
	}
	sink = x
}

var sink int

// TestMetaReadAgainAfterExec follows one process lifetime (same PID, same
// start time) through changes of its stat line's comm: an exec gets a new
// Meta and a new hook call, and the Meta handed out before stays as it
// was; a kernel thread's changing comm is not an exec.
func TestMetaReadAgainAfterExec(t *testing.T) {
	type step struct {
		name   string
		proc   procfstest.Proc // rewritten before the read; zero: no change
		want   procinfo.Meta
		reread bool // a new Meta (and hook call) is expected
	}
	sh := proc(100, 1000, 1, 1, "/usr/bin/dash")
	sh.Comm = "sh" // comm is the name exec'd, /bin/sh, not the link's target
	sh.Cmdline = []string{"/bin/sh", "-c", "exec qemu"}
	qemu := proc(100, 1000, 3, 4, "/usr/bin/qemu-system-x86_64", "-name", "guest=web")
	qemu.Cgroup = procfstest.CgroupV2("/machine.slice/machine-qemu-web.scope")
	renamed := qemu
	renamed.Comm = "CPU 0/KVM" // prctl(PR_SET_NAME) without an exec
	kworker := procfstest.Proc{PID: 200, PPID: 2, Comm: "kworker/u8:2-events_unbound", StartTime: 2000, KernelThread: true}
	kworkerLater := kworker
	kworkerLater.Comm = "kworker/u8:2-kvfree_rcu_reclaim"
	kworkerLater.STime = 9
	helper := procfstest.Proc{PID: 200, PPID: 2, Comm: "modprobe", StartTime: 2000, Exe: "/usr/sbin/modprobe", Cmdline: []string{"/sbin/modprobe", "-q", "--", "fs-foo"}}

	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "fork then exec qemu, then a rename",
			steps: []step{
				{name: "the shell", proc: sh, reread: true, want: procinfo.Meta{
					Exe: "/usr/bin/dash", Comm: "sh", Cmdline: "/bin/sh -c exec qemu",
					Cgroup: "/user.slice/pdash", VM: "vm-of-sh",
				}},
				{name: "exec'd qemu", proc: qemu, reread: true, want: procinfo.Meta{
					Exe: "/usr/bin/qemu-system-x86_64", Comm: "qemu-system-x86_64",
					Cmdline: "/usr/bin/qemu-system-x86_64 -name guest=web", Cgroup: "/machine.slice/machine-qemu-web.scope",
					VM: "vm-of-qemu-system-x86_64",
				}},
				{name: "steady", want: procinfo.Meta{
					Exe: "/usr/bin/qemu-system-x86_64", Comm: "qemu-system-x86_64",
					Cmdline: "/usr/bin/qemu-system-x86_64 -name guest=web", Cgroup: "/machine.slice/machine-qemu-web.scope",
					VM: "vm-of-qemu-system-x86_64",
				}},
				{name: "renamed itself", proc: renamed, reread: true, want: procinfo.Meta{
					Exe: "/usr/bin/qemu-system-x86_64", Comm: "CPU 0/KVM",
					Cmdline: "/usr/bin/qemu-system-x86_64 -name guest=web", Cgroup: "/machine.slice/machine-qemu-web.scope",
					VM: "vm-of-CPU 0/KVM",
				}},
			},
		},
		{
			name: "kernel thread, then a user-mode helper exec'd from it",
			steps: []step{
				{name: "kworker", proc: kworker, reread: true, want: procinfo.Meta{
					Comm: "kworker/u8:2-events_unbound", Cgroup: "/", VM: "vm-of-kworker/u8:2-events_unbound",
				}},
				{name: "kworker ran another workqueue", proc: kworkerLater, want: procinfo.Meta{
					Comm: "kworker/u8:2-events_unbound", Cgroup: "/", VM: "vm-of-kworker/u8:2-events_unbound",
				}},
				{name: "exec'd modprobe", proc: helper, reread: true, want: procinfo.Meta{
					Exe: "/usr/sbin/modprobe", Comm: "modprobe", Cmdline: "/sbin/modprobe -q -- fs-foo", Cgroup: "/",
					VM: "vm-of-modprobe",
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := procfstest.New(t, t.TempDir())
			calls := 0
			r := NewReader(fs.Root, WithMetaHook(func(_ int, m *procinfo.Meta) {
				if m.VM != "" || m.Workload != nil {
					t.Errorf("hook got a Meta already filled: %+v", *m)
				}
				calls++
				m.VM = "vm-of-" + m.Comm
			}))
			var key procinfo.Key
			var held []*procinfo.Meta // every Meta handed out, and its value then
			var values []procinfo.Meta
			for i, s := range tt.steps {
				if s.proc.PID != 0 {
					fs.Add(s.proc)
				}
				procs, st, err := r.Read(nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(procs) != 1 || st.Skipped != 0 {
					t.Fatalf("%s: %d procs, %d skipped; want 1 and 0", s.name, len(procs), st.Skipped)
				}
				p := procs[0]
				if i > 0 && p.Key != key {
					t.Fatalf("%s: key %+v, want %+v: the same process", s.name, p.Key, key)
				}
				key = p.Key
				if diff := cmp.Diff(s.want, *p.Meta); diff != "" {
					t.Errorf("%s: Meta mismatch (-want +got):\n%s", s.name, diff)
				}
				if i > 0 {
					if got := p.Meta != held[len(held)-1]; got != s.reread {
						t.Errorf("%s: new Meta %v, want %v", s.name, got, s.reread)
					}
				}
				if !slices.Contains(held, p.Meta) {
					held, values = append(held, p.Meta), append(values, *p.Meta)
				}
				if calls != len(held) {
					t.Errorf("%s: %d hook calls, want %d (one per Meta)", s.name, calls, len(held))
				}
				// No Meta handed out has changed since.
				for j, m := range held {
					if diff := cmp.Diff(values[j], *m); diff != "" {
						t.Errorf("%s: Meta %d handed out before was modified (-then +now):\n%s", s.name, j, diff)
					}
				}
				if len(r.cache) != 1 {
					t.Errorf("%s: %d cache entries, want 1", s.name, len(r.cache))
				}
			}
		})
	}
}

// TestReadSteadyStateAllocs checks that a tick with no new process and no
// exec allocates nothing, including for a kernel thread whose comm has
// changed since its Meta was read.
func TestReadSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	fs := procfstest.New(t, t.TempDir())
	for i := range 50 {
		fs.Add(proc(1000+i, uint64(1000+i), 1, 1, "/usr/bin/worker", "--id", strings.Repeat("x", i)))
	}
	kworker := procfstest.Proc{PID: 2000, PPID: 2, Comm: "kworker/0:1-events", StartTime: 5, KernelThread: true}
	fs.Add(kworker)
	r := NewReader(fs.Root, WithMetaHook(func(_ int, m *procinfo.Meta) { m.VM = "x" }))
	buf, _, err := r.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	kworker.Comm = "kworker/0:1-mm_percpu_wq"
	fs.Add(kworker)
	allocs := testing.AllocsPerRun(20, func() {
		if buf, _, err = r.Read(buf); err != nil || len(buf) != 51 {
			t.Fatalf("Read: %d procs, %v", len(buf), err)
		}
	})
	if allocs != 0 {
		t.Errorf("steady-state Read: %v allocations, want 0", allocs)
	}
}

// TestReadRealExec runs a shell that execs sleep and reads it before and
// after the exec: same process (PID and start time), new Meta.
func TestReadRealExec(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc:", err)
	}
	shPath, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	sleepPath, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep:", err)
	}
	sleepExe, err := filepath.EvalSymlinks(sleepPath)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(sleepExe) != "sleep" {
		// A multi-call binary (busybox, uutils): /proc/<pid>/exe is that.
		t.Skipf("sleep is %s", sleepExe)
	}

	// The shell says it is running (so its own exec is over) and waits for
	// a line before it execs sleep.
	cmd := exec.Command(shPath, "-c", "echo ready; read x; exec sleep 30")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	pid := cmd.Process.Pid
	line := make([]byte, len("ready\n"))
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
		t.Fatalf("shell said %q, %v; want ready", line, err)
	}

	var hooked []string
	r := NewReader("/proc", WithMetaHook(func(p int, m *procinfo.Meta) {
		if p == pid {
			hooked = append(hooked, m.Comm)
		}
	}))
	find := func() procinfo.Proc {
		t.Helper()
		procs, _, err := r.Read(nil)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(procs, func(p procinfo.Proc) bool { return p.PID == pid })
		if i < 0 {
			t.Fatalf("pid %d not read", pid)
		}
		return procs[i]
	}
	before := find()
	was := *before.Meta
	if was.Comm != "sh" || !strings.Contains(was.Cmdline, "read x") {
		t.Fatalf("before the exec: Meta %+v, want the shell", was)
	}

	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	// Wait for the exec to be over: sleep's arguments in place.
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == "sleep\x0030\x00" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no exec of sleep: cmdline %q", b)
		}
		time.Sleep(5 * time.Millisecond)
	}

	after := find()
	if after.Key != before.Key {
		t.Fatalf("key %+v after the exec, %+v before: want the same process", after.Key, before.Key)
	}
	if after.Meta == before.Meta {
		t.Fatalf("Meta not read again after the exec: %+v", *after.Meta)
	}
	if m := after.Meta; m.Exe != sleepExe || m.Comm != "sleep" || m.Cmdline != "sleep 30" || m.Cgroup != was.Cgroup {
		t.Errorf("after the exec: Meta %+v, want exe %s, comm sleep, cmdline \"sleep 30\", cgroup %q", *m, sleepExe, was.Cgroup)
	}
	if diff := cmp.Diff(was, *before.Meta); diff != "" {
		t.Errorf("the shell's Meta was modified (-then +now):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"sh", "sleep"}, hooked); diff != "" {
		t.Errorf("hook calls for pid %d (-want +got):\n%s", pid, diff)
	}
	if again := find(); again.Meta != after.Meta {
		t.Errorf("Meta read again with no exec")
	}
}
