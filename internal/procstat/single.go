package procstat

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/procinfo"
)

// The methods below serve a CPU-time source other than Read (the eBPF one,
// procstat/bpfcpu) that still takes every process's metadata from procfs:
// one process at a time, and only when that source sees it first.

// ReadProcess reads one process as Read reads a process it sees for the
// first time: <procfs>/<pid>/stat (CPU time, parent, start time), then
// its Meta (see readMeta), on which the MetaHook runs. Nothing is cached:
// the caller keeps the Meta. ok is false when the process is gone or its
// stat line cannot be read.
func (r *Reader) ReadProcess(pid int) (procinfo.Proc, bool) {
	dirfd, err := openat(unix.AT_FDCWD, r.rootPath, unix.O_DIRECTORY)
	if err != nil {
		return procinfo.Proc{}, false
	}
	defer func() { _ = unix.Close(dirfd) }()
	f, ok := r.readStat(dirfd, pid)
	if !ok {
		return procinfo.Proc{}, false
	}
	e := r.newProcess(dirfd, pid, f.Comm)
	return procinfo.Proc{Key: procinfo.Key{PID: pid, StartTime: f.StartTime}, CPU: f.UTime + f.STime, PPID: f.PPID,
		ChildCPU: f.CUTime + f.CSTime, Meta: &e.meta, Memory: f.memory(pageSize)}, true
}

// MetaOf builds the Meta of a process that procfs cannot show any more
// (it has exited) from its name and cgroup path as another source saw
// them, made safe as readMeta makes what it reads, and runs the MetaHook
// on it. Exe and Cmdline are empty.
func (r *Reader) MetaOf(pid int, comm []byte, cgroup string) *procinfo.Meta {
	m := &procinfo.Meta{Comm: sanitize(comm, maxComm), Cgroup: sanitize([]byte(cgroup), maxExe)}
	if r.hook != nil {
		r.hook(pid, m)
	}
	return m
}

// PIDs appends to dst[:0] the PID of every process listed in the procfs
// root, without reading any of them.
func (r *Reader) PIDs(dst []int) ([]int, error) {
	dirfd, err := openat(unix.AT_FDCWD, r.rootPath, unix.O_DIRECTORY)
	if err != nil {
		return dst[:0], fmt.Errorf("procstat: open %s: %w", r.root, err)
	}
	defer func() { _ = unix.Close(dirfd) }()
	dst, err = appendPIDs(dirfd, r.dirBuf, dst[:0])
	if err != nil {
		return dst, fmt.Errorf("procstat: list %s: %w", r.root, err)
	}
	return dst, nil
}
