package run

import (
	"errors"
	"strings"
	"sync"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/sampler"
)

// treeReader wraps the process reader: it folds the command's whole
// process tree into one pseudo-process whose CPU time is the tree's, so
// that the ordinary attribution gives the command's energy.
//
// The tree's CPU time at a tick is Σ (utime + stime + cutime + cstime) over
// the live descendants of the command (the command included). A
// descendant's CPU time moves into its parent's cutime/cstime when the
// parent reaps it, so processes that live shorter than one tick still
// count, and the sum does not jump when one exits. Once the command has
// exited the tree's CPU time is the command's rusage from wait4, which
// holds the command and every descendant it (or its descendants) reaped.
// Descendants that daemonise away from the tree (re-parented to init)
// count while they are in it: when a member is seen alive outside the tree,
// the CPU time it had when last seen inside stays booked to the command
// (departed), and what it does afterwards is not the command's.
//
// When the inner reader can walk a process tree (procstat.Reader), only
// the command's tree is read each tick: its processes, found through
// /proc/<pid>/task/<tid>/children, and the members of the last tick that
// are not in it any more (to tell one that left alive from one that
// died). Other processes are not read at all, so the cost of `wattlens
// run` is that of the command's tree, not of the host's process count;
// the attribution then books the rest of the host's busy CPU time to
// unattributed, as it would with every process listed. Without children
// files (CONFIG_PROC_CHILDREN) it lists every process, as before.
type treeReader struct {
	inner sampler.ProcReader
	// res reads the members' storage bytes and network namespaces, host
	// the machine's disk and NIC bytes; either may be nil.
	res  ResourceReader
	host HostIO
	// walker is inner when it can walk a tree; nil to list every process.
	walker treeWalker
	pids   []int
	walked map[int]bool // the PIDs of this tick's walk

	mu         sync.Mutex
	root       int
	start      uint64 // the pseudo-process's start time, boot ticks
	meta       *procinfo.Meta
	exitCPU    uint64 // ticks, set when the command has exited
	exitIO     uint64 // bytes, from wait4's rusage, set with exitCPU
	exited     bool
	lastCPU    uint64
	departed   uint64                  // CPU of members that left the tree alive
	members    map[procinfo.Key]uint64 // live members → CPU + children's when last seen
	ioMembers  map[procinfo.Key]uint64 // live members → storage bytes when last seen
	ioDeparted uint64                  // storage bytes of members that left the tree alive
	io         ioCounters
	lastNS     map[uint64]uint64 // the tree's own network namespaces → bytes at the last read
	treeProcs  []procinfo.Proc
	memberPIDs map[int]bool
	seen       map[int]struct{}
	children   map[int][]int
	index      map[int]int
}

// treeWalker reads one process tree instead of every process; see
// procstat.Reader.Descendants and ReadPIDs.
type treeWalker interface {
	Descendants(root int, dst []int) ([]int, error)
	ReadPIDs(dst []procinfo.Proc, pids []int) ([]procinfo.Proc, procinfo.Stats, error)
}

func newTreeReader(inner sampler.ProcReader, res ResourceReader, host HostIO) *treeReader {
	t := &treeReader{
		inner: inner, res: res, host: host, members: map[procinfo.Key]uint64{}, seen: map[int]struct{}{},
		children: map[int][]int{}, index: map[int]int{}, ioMembers: map[procinfo.Key]uint64{}, lastNS: map[uint64]uint64{},
	}
	t.walker, _ = inner.(treeWalker)
	return t
}

func (t *treeReader) setRoot(pid int, start uint64, argv []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.root, t.start = pid, start
	t.meta = &procinfo.Meta{Comm: argv[0], Cmdline: strings.Join(argv, " ")}
	t.seen[pid] = struct{}{}
}

func (t *treeReader) setExited(cpu, io uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.exited, t.exitCPU, t.exitIO = true, cpu, io
}

// counters returns the tree's and the machine's storage and network byte
// counters as of the last read.
func (t *treeReader) counters() ioCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.io
}

// owner returns the PID under which pid's use is booked: the command's
// when pid is a member of its tree (as of the last read), else pid.
func (t *treeReader) owner(pid int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.root != 0 && t.memberPIDs[pid] {
		return t.root
	}
	return pid
}

// processes is the number of distinct processes seen in the tree.
func (t *treeReader) processes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen)
}

func (t *treeReader) CPUTimes() (procinfo.CPUTimes, error) { return t.inner.CPUTimes() }

func (t *treeReader) Read(dst []procinfo.Proc) ([]procinfo.Proc, procinfo.Stats, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	procs, st, walked, err := t.read(dst)
	if err != nil || t.root == 0 {
		t.readHost()
		return procs, st, err
	}
	inTree := t.descendants(procs)
	t.treeProcs = t.treeProcs[:0]
	for i, p := range procs {
		if inTree[i] {
			t.treeProcs = append(t.treeProcs, p)
		}
	}
	t.readTreeIO()
	t.readHost() // right after the tree's bytes: the two are compared
	var cpu uint64
	kept := procs[:0]
	alive := make(map[procinfo.Key]bool, len(t.members))
	now := make(map[procinfo.Key]uint64, len(t.members))
	for i, p := range procs {
		alive[p.Key] = true
		if inTree[i] {
			c := p.CPU + p.ChildCPU
			cpu += c
			now[p.Key] = c
			t.seen[p.PID] = struct{}{}
			continue
		}
		kept = append(kept, p)
	}
	for k, c := range t.members {
		if _, in := now[k]; !in && alive[k] {
			t.departed += c // left the tree alive: what it used inside stays
			t.ioDeparted += t.ioMembers[k]
		}
	}
	t.members = now
	ioNow := make(map[procinfo.Key]uint64, len(t.treeProcs))
	var io uint64
	for _, p := range t.treeProcs {
		ioNow[p.Key] = p.IO
		io += p.IO
	}
	t.ioMembers = ioNow
	if t.exited {
		io = max(io, t.exitIO)
	}
	io += t.ioDeparted
	t.io.Tree = max(io, t.io.Tree) // never backwards
	clear(t.memberPIDs)
	if t.memberPIDs == nil {
		t.memberPIDs = make(map[int]bool, len(now))
	}
	for k := range now {
		t.memberPIDs[k.PID] = true
	}
	if t.exited {
		cpu = max(cpu, t.exitCPU)
	}
	cpu += t.departed
	cpu = max(cpu, t.lastCPU) // never backwards, whatever the races
	t.lastCPU = cpu
	if walked {
		kept = kept[:0] // members that left the tree: not the command's, and without a Meta
	}
	kept = append(kept, procinfo.Proc{Key: procinfo.Key{PID: t.root, StartTime: t.start}, CPU: cpu, Meta: t.meta})
	return kept, st, nil
}

// read reads the command's tree and last tick's members when the inner
// reader can walk a tree (walked is true), and every process otherwise.
// Before the command has started a walker reads nothing.
func (t *treeReader) read(dst []procinfo.Proc) (procs []procinfo.Proc, st procinfo.Stats, walked bool, err error) {
	if t.walker == nil {
		procs, st, err = t.inner.Read(dst)
		return procs, st, false, err
	}
	if t.root == 0 {
		return dst[:0], procinfo.Stats{}, true, nil
	}
	t.pids, err = t.walker.Descendants(t.root, t.pids)
	if errors.Is(err, procstat.ErrNoChildren) {
		t.walker = nil // for good: the kernel has no children files
		procs, st, err = t.inner.Read(dst)
		return procs, st, false, err
	}
	if err != nil {
		return dst[:0], procinfo.Stats{}, true, err
	}
	// Last tick's members not in the tree any more: alive elsewhere (left
	// the tree) or gone.
	clear(t.walked)
	if t.walked == nil {
		t.walked = make(map[int]bool, len(t.pids))
	}
	for _, pid := range t.pids {
		t.walked[pid] = true
	}
	for pid := range t.memberPIDs {
		if !t.walked[pid] {
			t.pids = append(t.pids, pid)
		}
	}
	procs, st, err = t.walker.ReadPIDs(dst, t.pids)
	return procs, st, true, err
}

// descendants marks the processes of the command's tree.
func (t *treeReader) descendants(procs []procinfo.Proc) []bool {
	clear(t.children)
	clear(t.index)
	for i, p := range procs {
		t.children[p.PPID] = append(t.children[p.PPID], i)
		t.index[p.PID] = i
	}
	in := make([]bool, len(procs))
	i, ok := t.index[t.root]
	if !ok {
		return in
	}
	queue := []int{i}
	in[i] = true
	for len(queue) > 0 {
		p := procs[queue[0]]
		queue = queue[1:]
		for _, c := range t.children[p.PID] {
			if !in[c] {
				in[c] = true
				queue = append(queue, c)
			}
		}
	}
	return in
}

// ResourceReader reads what processes use besides CPU time:
// procstat.Resources.
type ResourceReader interface {
	// Fill sets IO and NetNS of each process and returns the bytes of
	// each network namespace they are in.
	Fill(procs []procinfo.Proc) (map[uint64]uint64, error)
	// OwnNetNS is the network namespace of wattlens itself (the host's);
	// 0 when unknown.
	OwnNetNS() uint64
}

// HostIO reads the whole machine's storage and network bytes:
// machine.HostIO.
type HostIO interface {
	DiskBytes() (uint64, bool)
	NetBytes() (uint64, bool)
}

// ioCounters are byte counters read at one tick: the command tree's and
// the machine's. Each only grows; Run prices the command's storage and
// network energy by their differences between ticks.
type ioCounters struct {
	// Tree is read_bytes + write_bytes of the tree's processes
	// (/proc/<pid>/io, then wait4's rusage at the exit), departed
	// members' included.
	Tree uint64
	// TreeNet is the bytes of the network namespaces of the tree's own
	// (not the host's), summed over their differences from read to read.
	TreeNet uint64
	// OwnNetNS is true when every member whose namespace is known is in a
	// network namespace other than wattlens's; false when any is in the
	// host's, or none is known.
	OwnNetNS bool
	// Disk and Net are the machine's disk bytes and NIC bytes; DiskOK and
	// NetOK false when they could not be read.
	Disk, Net     uint64
	DiskOK, NetOK bool
}

// readTreeIO reads the storage bytes and network namespaces of the tree's
// members (t.treeProcs, filled in place).
func (t *treeReader) readTreeIO() {
	if t.res == nil || len(t.treeProcs) == 0 {
		return
	}
	netns, err := t.res.Fill(t.treeProcs)
	if err != nil {
		return // the last figures stand
	}
	own := t.res.OwnNetNS()
	known, foreign := 0, 0
	for _, p := range t.treeProcs {
		if p.NetNS == 0 {
			continue
		}
		known++
		if p.NetNS != own {
			foreign++
		}
	}
	t.io.OwnNetNS = own != 0 && known > 0 && foreign == known
	for ns, b := range netns {
		if ns == own {
			continue
		}
		if last, ok := t.lastNS[ns]; ok && b > last {
			t.io.TreeNet += b - last
		}
	}
	clear(t.lastNS)
	for ns, b := range netns {
		if ns != own {
			t.lastNS[ns] = b
		}
	}
}

// readHost reads the machine's disk and NIC bytes.
func (t *treeReader) readHost() {
	if t.host == nil {
		return
	}
	t.io.Disk, t.io.DiskOK = t.host.DiskBytes()
	t.io.Net, t.io.NetOK = t.host.NetBytes()
}
