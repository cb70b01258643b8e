package procstat

import (
	"fmt"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/procinfo"
)

// Option configures a Reader.
type Option func(*Reader)

// WithMetaHook sets a hook called on every Meta read (see MetaHook).
func WithMetaHook(h procinfo.MetaHook) Option { return func(r *Reader) { r.hook = h } }

// statBufSize holds any real /proc/<pid>/stat line: 52 numeric fields and a
// comm of at most 64 bytes take well under 1 KiB.
const statBufSize = 4096

// entry is one cached process lifetime, or the part of it since its last
// exec. meta is immutable once the hook has run and is what Proc.Meta
// points to: an exec replaces the whole entry, it never rewrites meta.
// comm is field 2 of the stat line read just before meta, as the kernel
// wrote it (escaped, not sanitised); a later stat line with another comm
// means the process has exec'd (or renamed itself). It shares meta.Comm's
// bytes when they are equal, which they nearly always are. seen is
// written only by Read.
type entry struct {
	meta procinfo.Meta
	comm string
	seen uint64
}

// Reader reads per-process CPU times from a procfs tree every tick, and
// each process's Meta once per lifetime and again after an exec.
//
// An exec is seen as a change of comm, field 2 of the stat line that is
// read every tick anyway: execve(2) sets comm to the new program's file
// name. When it differs from the comm of the stat line read just before
// the cached Meta, the Meta is read again (exe, comm, cmdline, cgroup), the
// MetaHook runs on the new one, and Proc.Meta points to the new Meta from
// then on; the old one is left as it was for whoever still holds it. So a
// process forked by libvirt, Proxmox or runc that then execs qemu or the
// container's program is labelled by what it runs, even if a tick caught
// it in between. Limits:
//   - an exec of a program with the same file name (comm) — sh exec'ing
//     another sh, a binary re-exec'ing itself — is not seen, and neither
//     is a change of cgroup or command line without an exec: the Meta
//     read before stays;
//   - a process that renames itself (prctl(PR_SET_NAME), or writing
//     /proc/self/comm) gets its Meta read again too, which is harmless;
//   - a kernel thread's comm is not watched: a kworker's stat comm ends in
//     the workqueue it last ran ("kworker/u8:2-events_unbound") and
//     changes all the time, but a kernel thread never execs. The flags
//     (field 9) tell one: PF_KTHREAD, which execve clears.
//
// A Reader is not safe for concurrent use: one sampler goroutine calls
// Read and CPUTimes. The Meta values it hands out are immutable and may be
// read from any goroutine.
type Reader struct {
	root     string
	rootPath []byte // root + NUL
	statPath []byte // root/stat + NUL
	hook     procinfo.MetaHook

	cache map[procinfo.Key]*entry
	tick  uint64

	// Buffers reused from tick to tick.
	pids    []int
	dirBuf  []byte // getdents64
	statBuf []byte // one /proc/<pid>/stat
	path    []byte // "<pid>/stat\x00" and friends
	metaBuf []byte // exe, comm, cmdline, cgroup of a new process
	sysBuf  []byte // /proc/stat

	// Buffers of Descendants.
	tids     []int
	kids     []int
	childBuf []byte
}

// NewReader returns a Reader of the procfs tree mounted at procfs
// (normally "/proc").
func NewReader(procfs string, opts ...Option) *Reader {
	r := &Reader{
		root:     procfs,
		rootPath: cstring(procfs),
		statPath: cstring(filepath.Join(procfs, "stat")),
		cache:    make(map[procinfo.Key]*entry),
		dirBuf:   make([]byte, 64*1024),
		statBuf:  make([]byte, statBufSize),
		path:     make([]byte, 0, 64),
		metaBuf:  make([]byte, maxCgroup),
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Read appends one Proc per live process to dst[:0] and returns it, in no
// particular order.
//
// For every numeric entry of the procfs root (kernel threads included) it
// reads <procfs>/<pid>/stat (proc(5)): the start time (field 22), which
// with the PID identifies the process, and utime + stime (fields 14 and
// 15). A process seen for the first time also gets its Meta read (see
// readMeta) and the MetaHook called; Meta is then cached until the
// process is gone or its comm changes (an exec, see Reader), when it is
// read afresh.
//
// Processes that vanish or cannot be read during the tick are skipped and
// counted in Stats.Skipped, never an error: the error is only for a procfs
// root that cannot be listed. In steady state (no new process, no exec)
// Read does not allocate.
func (r *Reader) Read(dst []procinfo.Proc) ([]procinfo.Proc, procinfo.Stats, error) {
	dst = dst[:0]
	dirfd, err := openat(unix.AT_FDCWD, r.rootPath, unix.O_DIRECTORY)
	if err != nil {
		return dst, procinfo.Stats{}, fmt.Errorf("procstat: open %s: %w", r.root, err)
	}
	defer func() { _ = unix.Close(dirfd) }()
	r.pids, err = appendPIDs(dirfd, r.dirBuf, r.pids[:0])
	if err != nil {
		return dst, procinfo.Stats{}, fmt.Errorf("procstat: list %s: %w", r.root, err)
	}

	r.tick++
	st := procinfo.Stats{Seen: len(r.pids)}
	for _, pid := range r.pids {
		f, ok := r.readStat(dirfd, pid)
		if !ok {
			st.Skipped++
			continue
		}
		k := procinfo.Key{PID: pid, StartTime: f.StartTime}
		e := r.cache[k]
		// The comparison does not allocate (the compiler does not copy
		// f.Comm for it); kernelThread is only asked on a change.
		if e == nil || (string(f.Comm) != e.comm && !f.kernelThread()) {
			// A new process, or one that has exec'd since its Meta was
			// read: a new entry, so a new Meta.
			e = r.newProcess(dirfd, pid, f.Comm)
			r.cache[k] = e
		}
		e.seen = r.tick
		dst = append(dst, procinfo.Proc{Key: k, CPU: f.UTime + f.STime, PPID: f.PPID, ChildCPU: f.CUTime + f.CSTime, Meta: &e.meta, Memory: f.memory(pageSize)})
	}
	// Every live process has an entry marked this tick; anything more is
	// a process that has gone (or a PID now used by another process).
	if len(r.cache) > len(dst) {
		r.prune()
	}
	return dst, st, nil
}

// readStat reads and parses <pid>/stat relative to dirfd.
func (r *Reader) readStat(dirfd, pid int) (statFields, bool) {
	p := strconv.AppendInt(r.path[:0], int64(pid), 10)
	p = append(p, "/stat\x00"...)
	r.path = p
	n, err := readStatOnce(dirfd, p, r.statBuf)
	if err != nil {
		return statFields{}, false
	}
	f, err := parseStat(r.statBuf[:n])
	return f, err == nil
}

// newProcess reads a new entry for pid, whose stat line's comm is
// statComm, and runs the hook on its Meta.
func (r *Reader) newProcess(dirfd, pid int, statComm []byte) *entry {
	e := r.readMeta(dirfd, pid, statComm)
	if r.hook != nil {
		r.hook(pid, &e.meta)
	}
	return e
}

// prune drops the cache entries not seen in the current tick.
func (r *Reader) prune() {
	for k, e := range r.cache {
		if e.seen != r.tick {
			delete(r.cache, k)
		}
	}
}
