// Package procfstest builds fake procfs trees for tests: <root>/stat with a
// settable cpu line, and per process <pid>/stat (the kernel's 52-field
// format, proc(5)), comm, cmdline (NUL-separated), cgroup and an exe
// symlink. Point any procfs reader's root at FS.Root.
//
// An FS is not safe for concurrent use.
package procfstest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Proc describes one fake process.
type Proc struct {
	PID  int
	PPID int
	// Comm is field 2 of stat (written between parentheses, as is) and the
	// content of the comm file (followed by a newline).
	Comm string
	// State is field 3 of stat; 'S' when zero.
	State byte
	// UTime and STime are fields 14 and 15 of stat, in USER_HZ ticks.
	UTime, STime uint64
	// StartTime is field 22 of stat, in USER_HZ ticks since boot.
	StartTime uint64
	// Threads is field 20 of stat; 1 when zero.
	Threads int
	// KernelThread sets PF_KTHREAD in the flags (field 9 of stat), as
	// for a kworker; the flags are otherwise those of a user process.
	KernelThread bool
	// Cmdline is written NUL-separated with a trailing NUL, as the kernel
	// does; nil writes an empty file (a kernel thread).
	Cmdline []string
	// Exe is the target of the exe symlink; empty writes no link (readlink
	// fails, as for a kernel thread).
	Exe string
	// Cgroup is the content of the cgroup file, verbatim; empty writes
	// "0::/\n". See CgroupV2.
	Cgroup string
}

// CgroupV2 returns the content of a cgroup file on a host with only the
// unified (v2) hierarchy: "0::<path>\n".
func CgroupV2(path string) string { return "0::" + path + "\n" }

// CPU is the first line of /proc/stat, in USER_HZ ticks. Guest and
// GuestNice are, as in the kernel, already included in User and Nice.
type CPU struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal, Guest, GuestNice uint64
}

// FS is a fake procfs tree under Root.
type FS struct {
	t     testing.TB
	Root  string
	procs map[int]Proc
}

// New creates root (if needed) and a <root>/stat with a zero cpu line and
// one cpu0 line.
func New(t testing.TB, root string) *FS {
	t.Helper()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatalf("procfstest: %v", err)
	}
	fs := &FS{t: t, Root: root, procs: map[int]Proc{}}
	fs.SetCPU(CPU{}, 1)
	return fs
}

// Build creates a tree under root holding procs.
func Build(t testing.TB, root string, procs []Proc) *FS {
	t.Helper()
	fs := New(t, root)
	for _, p := range procs {
		fs.Add(p)
	}
	return fs
}

// GenerateMany builds a tree under root with n ordinary processes, PIDs
// 1000 to 1000+n-1, each with a command line, an exe link and a cgroup.
// The files are written by a few goroutines: file creation, not CPU, is
// what takes time (10 000 processes are 50 000 files).
func GenerateMany(t testing.TB, root string, n int) *FS {
	t.Helper()
	fs := New(t, root)
	fs.SetCPU(CPU{User: 123456, Nice: 12, System: 45678, Idle: 9876543, IOWait: 321, IRQ: 0, SoftIRQ: 1234, Steal: 56}, 2)
	procs := make([]Proc, n)
	for i := range procs {
		procs[i] = normalise(Proc{
			PID:       1000 + i,
			PPID:      1,
			Comm:      "worker-" + strconv.Itoa(i%97),
			UTime:     uint64(i * 7 % 100000),
			STime:     uint64(i * 3 % 50000),
			StartTime: uint64(5000 + i),
			Threads:   1 + i%8,
			Cmdline:   []string{"/usr/bin/worker", "--id=" + strconv.Itoa(i), "--config", "/etc/worker.conf"},
			Exe:       "/usr/bin/worker",
			Cgroup:    CgroupV2("/system.slice/worker@" + strconv.Itoa(i%50) + ".service"),
		})
		fs.procs[procs[i].PID] = procs[i]
	}
	const workers = 4
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += workers {
				errs[w] = writeProc(fs.dir(procs[i].PID), procs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("procfstest: %v", err)
	}
	return fs
}

// SetCPU rewrites <root>/stat with total as the cpu line and cpus cpuN
// lines (total divided evenly), followed by the usual other lines.
func (fs *FS) SetCPU(total CPU, cpus int) {
	fs.t.Helper()
	var b strings.Builder
	line := func(name string, c CPU) {
		fmt.Fprintf(&b, "%s %d %d %d %d %d %d %d %d %d %d\n", name,
			c.User, c.Nice, c.System, c.Idle, c.IOWait, c.IRQ, c.SoftIRQ, c.Steal, c.Guest, c.GuestNice)
	}
	line("cpu ", total)
	for i := range cpus {
		d := uint64(max(cpus, 1))
		line("cpu"+strconv.Itoa(i), CPU{
			User: total.User / d, Nice: total.Nice / d, System: total.System / d, Idle: total.Idle / d,
			IOWait: total.IOWait / d, IRQ: total.IRQ / d, SoftIRQ: total.SoftIRQ / d, Steal: total.Steal / d,
			Guest: total.Guest / d, GuestNice: total.GuestNice / d,
		})
	}
	b.WriteString("intr 123456 0 9 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
	b.WriteString("ctxt 987654\nbtime 1700000000\nprocesses 4242\nprocs_running 2\nprocs_blocked 0\n")
	b.WriteString("softirq 1000 1 2 3 4 5 6 7 8 9 10\n")
	fs.write(filepath.Join(fs.Root, "stat"), []byte(b.String()))
}

// Add writes every file of p, replacing a process with the same PID.
func (fs *FS) Add(p Proc) {
	fs.t.Helper()
	p = normalise(p)
	dir := fs.dir(p.PID)
	if err := os.RemoveAll(dir); err != nil {
		fs.t.Fatalf("procfstest: %v", err)
	}
	fs.procs[p.PID] = p
	if err := writeProc(dir, p); err != nil {
		fs.t.Fatalf("procfstest: %v", err)
	}
}

func normalise(p Proc) Proc {
	if p.State == 0 {
		p.State = 'S'
	}
	if p.Threads == 0 {
		p.Threads = 1
	}
	if p.Cgroup == "" {
		p.Cgroup = CgroupV2("/")
	}
	return p
}

// writeProc creates dir and writes the files of p in it.
func writeProc(dir string, p Proc) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	var cmd []byte
	for _, a := range p.Cmdline {
		cmd = append(cmd, a...)
		cmd = append(cmd, 0)
	}
	files := []struct {
		name string
		data []byte
	}{
		{"stat", []byte(StatLine(p))},
		{"comm", []byte(p.Comm + "\n")},
		{"cmdline", cmd},
		{"cgroup", []byte(p.Cgroup)},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	if p.Exe != "" {
		return os.Symlink(p.Exe, filepath.Join(dir, "exe"))
	}
	return nil
}

// SetCPUTime rewrites the stat file of pid with new utime and stime.
func (fs *FS) SetCPUTime(pid int, utime, stime uint64) {
	fs.t.Helper()
	p, ok := fs.procs[pid]
	if !ok {
		fs.t.Fatalf("procfstest: no process %d", pid)
	}
	p.UTime, p.STime = utime, stime
	fs.procs[pid] = p
	fs.write(filepath.Join(fs.dir(pid), "stat"), []byte(StatLine(p)))
}

// Remove deletes the directory of pid, as when the process exits.
func (fs *FS) Remove(pid int) {
	fs.t.Helper()
	delete(fs.procs, pid)
	if err := os.RemoveAll(fs.dir(pid)); err != nil {
		fs.t.Fatalf("procfstest: %v", err)
	}
}

// WriteFile replaces <root>/<pid>/<name> with data, verbatim: for garbage
// or hostile contents. The directory is created if needed.
func (fs *FS) WriteFile(pid int, name string, data []byte) {
	fs.t.Helper()
	if err := os.MkdirAll(fs.dir(pid), 0o755); err != nil {
		fs.t.Fatalf("procfstest: %v", err)
	}
	fs.write(filepath.Join(fs.dir(pid), name), data)
}

// RemoveFile deletes <root>/<pid>/<name>.
func (fs *FS) RemoveFile(pid int, name string) {
	fs.t.Helper()
	if err := os.Remove(filepath.Join(fs.dir(pid), name)); err != nil {
		fs.t.Fatalf("procfstest: %v", err)
	}
}

// Dir returns <root>/<pid>.
func (fs *FS) Dir(pid int) string { return fs.dir(pid) }

func (fs *FS) dir(pid int) string { return filepath.Join(fs.Root, strconv.Itoa(pid)) }

func (fs *FS) write(path string, data []byte) {
	fs.t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fs.t.Fatalf("procfstest: %v", err)
	}
}

// StatLine returns the content of /proc/<pid>/stat for p in the kernel's
// format (fs/proc/array.c do_task_stat, 52 fields, newline-terminated).
// Fields not in Proc have plausible fixed values.
func StatLine(p Proc) string {
	state := p.State
	if state == 0 {
		state = 'S'
	}
	threads := p.Threads
	if threads == 0 {
		threads = 1
	}
	flags := uint64(0x400100) // PF_RANDOMIZE | PF_SUPERPRIV
	if p.KernelThread {
		flags = 0x4208060 // a kworker's: PF_NO_SETAFFINITY | PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC | PF_WQ_WORKER
	}
	// Fields 3..52, after "pid (comm)".
	return fmt.Sprintf("%d (%s) %c %d %d %d 0 -1 %d %d 0 %d 0 %d %d 0 0 20 0 %d 0 %d "+
		"%d %d 18446744073709551615 94000000000000 94000000100000 140720000000000 0 0 "+
		"0 0 0 2 1 0 0 17 %d 0 0 0 0 0 94000000200000 94000000201000 94000001000000 "+
		"140720000001000 140720000001100 140720000001100 140720000002000 0\n",
		p.PID, p.Comm, state, p.PPID, p.PID, p.PID, // pid comm state ppid pgrp session
		flags,                     // 9
		1234+p.PID%100, 5+p.PID%7, // minflt majflt
		p.UTime, p.STime, // 14 15
		threads, p.StartTime, // 20 22
		uint64(10_000_000+p.PID*4096), 300+p.PID%1000, // vsize rss
		p.PID%2, // processor (39)
	)
}
