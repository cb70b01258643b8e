package procstat

import (
	"bytes"
	"errors"
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

	// cgroupRoot is where cgroup v2 is mounted ("" for no fallback);
	// disks the device numbers whose io.stat bytes count (nil: all).
	cgroupRoot string
	disks      map[string]bool
	cgLast     map[string]uint64 // io.stat bytes of each cgroup at its last read
	cgSeen     map[string]uint64 // tick at which each cgroup was last read
	cgGroups   map[string]*cgGroup
	// CgroupReads counts the io.stat files read, for tests.
	CgroupReads int
	// readIOFile reads a <pid>/io file: readFull (tests replace it, to be
	// denied what root never is).
	readIOFile func(dirfd int, path, buf []byte) (int, error)
}

type resEntry struct {
	cpu   uint64 // CPU + ChildCPU when io was last read
	io    uint64
	netns uint64
	meta  *procinfo.Meta
	seen  uint64
	// denied is true when <pid>/io could not be read for want of
	// permission (another user's process, no CAP_SYS_PTRACE): its io is
	// then its part of its cgroup's io.stat. read is the bytes its own
	// io file moved this tick; cgCPU its CPU time when it was last given
	// its cgroup's bytes.
	denied bool
	read   uint64
	cgCPU  uint64
}

// cgGroup is one cgroup's processes at a tick: those whose io was denied
// (indices into Fill's procs) and the bytes its readable ones read.
type cgGroup struct {
	denied   []int
	readable uint64
}

// ioSweep is the round in which every process has its io read once, busy
// or not.
const ioSweep = 32

// NewResources returns a Resources below procfs; physical names the
// interfaces of the agent's own network namespace whose bytes count.
func NewResources(procfs string, physical []string) *Resources {
	r := &Resources{
		root: procfs, rootPath: cstring(procfs),
		physical:   make(map[string]bool, len(physical)),
		cache:      make(map[procinfo.Key]*resEntry),
		sweep:      ioSweep,
		readIOFile: readFull,
		netns:      make(map[uint64]uint64),
		buf:        make([]byte, 64*1024),
		link:       make([]byte, 64),
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

// CgroupFallback has Fill take the storage bytes of a process whose
// <pid>/io cannot be read for want of permission from its cgroup's io.stat
// (cgroup v2, mounted at root: rbytes + wbytes of the devices named in
// disks, as "major:minor"; every device when disks is empty), less what
// the readable processes of the cgroup read from their own io, split among
// the unreadable ones by their CPU time since the last split (evenly when
// none moved). A cgroup's first read only sets its counter. Processes in
// the root cgroup, which has no io.stat, and cgroup v1 hierarchies get
// nothing from it.
func (r *Resources) CgroupFallback(root string, disks []string) {
	r.cgroupRoot = root
	r.cgLast = make(map[string]uint64)
	r.cgSeen = make(map[string]uint64)
	r.cgGroups = make(map[string]*cgGroup)
	r.disks = nil
	if len(disks) > 0 {
		r.disks = make(map[string]bool, len(disks))
		for _, d := range disks {
			r.disks[d] = true
		}
	}
}

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
	denied := false
	for i := range procs {
		p := &procs[i]
		e := r.cache[p.Key]
		fresh := e == nil
		if fresh {
			e = &resEntry{}
			r.cache[p.Key] = e
		}
		cpu := p.CPU + p.ChildCPU
		e.read = 0
		if e.denied && e.meta == p.Meta {
			// Unreadable: its bytes come from its cgroup, below. An
			// exec (a new Meta) may change that: read again.
		} else if fresh || cpu != e.cpu || uint64(p.PID)%r.sweep == r.tick%r.sweep {
			io, ok, denied := r.readIO(dirfd, p.PID)
			if ok {
				e.read = sub(io, e.io)
				e.io = io
			}
			if denied && !e.denied {
				e.cgCPU = cpu // its CPU time before now bought no bytes of its cgroup
			}
			e.denied = denied
			e.cpu = cpu
		}
		if fresh || e.meta != p.Meta {
			e.netns, e.meta = r.readNetNS(dirfd, r.pidPath(p.PID, "/ns/net")), p.Meta
		}
		e.seen = r.tick
		denied = denied || e.denied
		p.IO, p.NetNS = e.io, e.netns
		if _, ok := r.netns[e.netns]; !ok && e.netns != 0 {
			r.netns[e.netns] = r.netBytes(dirfd, p.PID, e.netns == r.own)
		}
	}
	if r.cgroupRoot != "" && denied {
		r.fromCgroups(procs) // nothing to do while every io file is readable
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

// readIO reads read_bytes + write_bytes of <pid>/io; denied is true when
// the file cannot be read for want of permission.
func (r *Resources) readIO(dirfd, pid int) (v uint64, ok, denied bool) {
	r.IOReads++
	n, err := r.readIOFile(dirfd, r.pidPath(pid, "/io"), r.buf[:4096])
	if err != nil {
		return 0, false, errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)
	}
	v, ok = ParseIO(r.buf[:n])
	return v, ok, false
}

// fromCgroups gives the processes whose io is unreadable their part of
// their cgroup's io.stat bytes since its last read (see CgroupFallback).
func (r *Resources) fromCgroups(procs []procinfo.Proc) {
	clear(r.cgGroups)
	for i := range procs {
		p := &procs[i]
		if p.Meta == nil || p.Meta.Cgroup == "" || p.Meta.Cgroup == "/" {
			continue
		}
		e := r.cache[p.Key]
		g := r.cgGroups[p.Meta.Cgroup]
		if g == nil {
			g = &cgGroup{}
			r.cgGroups[p.Meta.Cgroup] = g
		}
		if e.denied {
			g.denied = append(g.denied, i)
		} else {
			g.readable += e.read
		}
	}
	for cg, g := range r.cgGroups {
		if len(g.denied) == 0 {
			continue
		}
		b, ok := r.readCgroupIO(cg)
		if !ok {
			continue
		}
		last, had := r.cgLast[cg]
		r.cgLast[cg], r.cgSeen[cg] = b, r.tick
		if !had || b < last {
			continue
		}
		r.splitCgroup(procs, g.denied, sub(b-last, g.readable))
	}
	for cg, t := range r.cgSeen {
		if t != r.tick && r.cgGroups[cg] == nil {
			delete(r.cgSeen, cg)
			delete(r.cgLast, cg)
		}
	}
}

// splitCgroup adds bytes to the io of the processes idx of procs, by
// their CPU time since their last split, evenly when none moved.
func (r *Resources) splitCgroup(procs []procinfo.Proc, idx []int, bytes uint64) {
	var total uint64
	for _, i := range idx {
		e := r.cache[procs[i].Key]
		total += sub(procs[i].CPU+procs[i].ChildCPU, e.cgCPU)
	}
	var given uint64
	for n, i := range idx {
		p := &procs[i]
		e := r.cache[p.Key]
		cpu := p.CPU + p.ChildCPU
		var part uint64
		switch {
		case n == len(idx)-1:
			part = bytes - given
		case total > 0:
			part = uint64(float64(bytes) * float64(sub(cpu, e.cgCPU)) / float64(total))
		default:
			part = bytes / uint64(len(idx))
		}
		part = min(part, bytes-given)
		given += part
		e.io += part
		e.cgCPU = cpu
		p.IO = e.io
	}
}

// readCgroupIO reads rbytes + wbytes of <cgroupRoot>/<cg>/io.stat over the
// devices that count.
func (r *Resources) readCgroupIO(cg string) (uint64, bool) {
	r.CgroupReads++
	path := append(append(append(r.path[:0], r.cgroupRoot...), cg...), "/io.stat\x00"...)
	r.path = path
	n, err := readFull(unix.AT_FDCWD, path, r.buf)
	if err != nil {
		return 0, false
	}
	return ParseIOStat(r.buf[:n], r.disks), true
}

// ParseIOStat returns Σ rbytes + wbytes of the text of a cgroup v2
// io.stat file (lines "MAJ:MIN rbytes=N wbytes=N rios=N …",
// Documentation/admin-guide/cgroup-v2.rst) over the devices in disks, or
// every device when disks is nil.
func ParseIOStat(b []byte, disks map[string]bool) uint64 {
	var sum uint64
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) == 0 || disks != nil && !disks[string(f[0])] {
			continue
		}
		for _, kv := range f[1:] {
			k, v, ok := bytes.Cut(kv, []byte("="))
			if !ok || !bytes.Equal(k, []byte("rbytes")) && !bytes.Equal(k, []byte("wbytes")) {
				continue
			}
			if x, err := strconv.ParseUint(string(v), 10, 64); err == nil {
				sum += x
			}
		}
	}
	return sum
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
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
