package procstat

import (
	"bytes"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/machine"
	"github.com/wattlens/wattlens/internal/procinfo"
)

// Resources reads what processes use besides CPU time, for the processes
// any CPU-time source listed: storage bytes from <procfs>/<pid>/io and the
// network namespace from <procfs>/<pid>/ns/net, and each namespace's
// network bytes from <procfs>/<pid>/net/dev.
//
// <pid>/io is read only for a process that used CPU time since its io was
// last read (utime + stime + cutime + cstime moved), for a process seen
// for the first time, and for one in 32 of the others each tick (by PID),
// so that its cost follows the busy processes, not all of them. A process
// that ran no code issued no read(2) or write(2): the kernel counts
// read_bytes and write_bytes in the context of the task that submits the
// read or dirties the page (task_io_account_read, account_page_dirtied),
// so a process with no CPU time has nothing new there. CPU time is counted
// in 10 ms ticks, so a process that does little IO with little CPU may
// show its bytes a few ticks late (at most 32); none are lost while it
// lives, and those of a reaped child are in its parent's counters.
//
// The namespace is read when a process is first seen and again when its
// Meta changes (an exec: runc and the other runtimes join the container's
// namespace before they exec its program).
//
// Network bytes are counted per namespace: in the namespace of procfs's
// own process (the agent's, normally the host's) only on the interfaces
// named as physical (those with hardware behind them, machine's
// NetInterfaces), elsewhere on every interface but lo. Traffic between two
// containers of one host counts in both; traffic over lo in none.
//
// A Resources is not safe for concurrent use; Fill is called by the
// sampler, once per tick, after the processes are read.
type Resources struct {
	root     string
	rootPath []byte
	physical map[string]bool
	own      uint64 // the network namespace of procfs's self; 0 when unknown

	cache map[procinfo.Key]*resEntry
	tick  uint64
	sweep uint64 // every process's io is read once in sweep ticks

	netns map[uint64]uint64
	path  []byte
	buf   []byte
	link  []byte

	// IOReads counts the <pid>/io files read, for tests and benchmarks.
	IOReads int
}

type resEntry struct {
	cpu   uint64 // CPU + ChildCPU when io was last read
	io    uint64
	netns uint64
	meta  *procinfo.Meta
	seen  uint64
}

// ioSweep is the round in which every process has its io read once, busy
// or not.
const ioSweep = 32

// NewResources returns a Resources below procfs; physical names the
// interfaces of the agent's own network namespace whose bytes count.
func NewResources(procfs string, physical []string) *Resources {
	r := &Resources{
		root: procfs, rootPath: cstring(procfs),
		physical: make(map[string]bool, len(physical)),
		cache:    make(map[procinfo.Key]*resEntry),
		sweep:    ioSweep,
		netns:    make(map[uint64]uint64),
		buf:      make([]byte, 64*1024),
		link:     make([]byte, 64),
	}
	for _, n := range physical {
		r.physical[n] = true
	}
	if dirfd, err := openat(unix.AT_FDCWD, r.rootPath, unix.O_DIRECTORY); err == nil {
		r.own = r.readNetNS(dirfd, []byte("self/ns/net\x00"))
		_ = unix.Close(dirfd)
	}
	return r
}

// EveryTick has Fill read every process's io at every call, whether it
// used CPU time or not: for a reader of a few processes (`wattlens run`'s
// command tree) that must see each byte in the tick it was counted.
func (r *Resources) EveryTick() { r.sweep = 1 }

// OwnNetNS is the network namespace of procfs's own process (the agent's,
// normally the host's); 0 when unknown.
func (r *Resources) OwnNetNS() uint64 { return r.own }

// Fill sets IO and NetNS of every process of procs and returns the bytes
// (received plus transmitted, since each interface came up) of every
// network namespace a process of procs is in. The map is reused by the
// next call. A file that cannot be read (a process gone, another user's
// process without CAP_SYS_PTRACE) leaves the last figure.
func (r *Resources) Fill(procs []procinfo.Proc) (map[uint64]uint64, error) {
	clear(r.netns)
	dirfd, err := openat(unix.AT_FDCWD, r.rootPath, unix.O_DIRECTORY)
	if err != nil {
		return r.netns, fmt.Errorf("procstat: open %s: %w", r.root, err)
	}
	defer func() { _ = unix.Close(dirfd) }()
	r.tick++
	for i := range procs {
		p := &procs[i]
		e := r.cache[p.Key]
		fresh := e == nil
		if fresh {
			e = &resEntry{}
			r.cache[p.Key] = e
		}
		cpu := p.CPU + p.ChildCPU
		if fresh || cpu != e.cpu || uint64(p.PID)%r.sweep == r.tick%r.sweep {
			if io, ok := r.readIO(dirfd, p.PID); ok {
				e.io = io
			}
			e.cpu = cpu
		}
		if fresh || e.meta != p.Meta {
			e.netns, e.meta = r.readNetNS(dirfd, r.pidPath(p.PID, "/ns/net")), p.Meta
		}
		e.seen = r.tick
		p.IO, p.NetNS = e.io, e.netns
		if _, ok := r.netns[e.netns]; !ok && e.netns != 0 {
			r.netns[e.netns] = r.netBytes(dirfd, p.PID, e.netns == r.own)
		}
	}
	if len(r.cache) > len(procs) {
		for k, e := range r.cache {
			if e.seen != r.tick {
				delete(r.cache, k)
			}
		}
	}
	return r.netns, nil
}

func (r *Resources) pidPath(pid int, rest string) []byte {
	p := strconv.AppendInt(r.path[:0], int64(pid), 10)
	p = append(p, rest...)
	p = append(p, 0)
	r.path = p
	return p
}

// readIO reads read_bytes + write_bytes of <pid>/io.
func (r *Resources) readIO(dirfd, pid int) (uint64, bool) {
	r.IOReads++
	n, err := readFull(dirfd, r.pidPath(pid, "/io"), r.buf[:4096])
	if err != nil {
		return 0, false
	}
	return ParseIO(r.buf[:n])
}

// ParseIO returns read_bytes + write_bytes from the text of a
// /proc/<pid>/io file; ok is false when either is missing.
func ParseIO(b []byte) (uint64, bool) {
	rd, ok1 := ioField(b, "\nread_bytes: ")
	wr, ok2 := ioField(b, "\nwrite_bytes: ")
	return rd + wr, ok1 && ok2
}

func ioField(b []byte, key string) (uint64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	var v uint64
	j := i + len(key)
	start := j
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		v = v*10 + uint64(b[j]-'0')
	}
	return v, j > start
}

// readNetNS reads the link path (NUL-terminated) relative to dirfd, of the
// form "net:[4026531840]", and returns its inode; 0 when unreadable.
func (r *Resources) readNetNS(dirfd int, path []byte) uint64 {
	n, err := readlinkat(dirfd, path, r.link)
	if err != nil {
		return 0
	}
	s := r.link[:n]
	i, j := bytes.IndexByte(s, '['), bytes.IndexByte(s, ']')
	if i < 0 || j < i {
		return 0
	}
	v, err := strconv.ParseUint(string(s[i+1:j]), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// netBytes sums rx + tx bytes over the interfaces that count of the
// network namespace of pid (<pid>/net/dev).
func (r *Resources) netBytes(dirfd, pid int, own bool) uint64 {
	n, err := readFull(dirfd, r.pidPath(pid, "/net/dev"), r.buf)
	if err != nil {
		return 0
	}
	var sum uint64
	_ = machine.EachNetDev(r.buf[:n], func(name []byte, rx, tx uint64) {
		if string(name) == "lo" || (own && !r.physical[string(name)]) {
			return
		}
		sum += rx + tx
	})
	return sum
}
