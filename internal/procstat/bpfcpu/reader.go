package bpfcpu

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat"
)

// nsPerTick is one USER_HZ clock tick in nanoseconds.
const nsPerTick = uint64(time.Second / procinfo.UserHZ)

// Reconciliation: how often (in ticks) the table is checked against the
// procfs listing, for processes whose exit record was lost.
const reconcileEvery = 30

// tombstoneTicks is how long the key of a closed process is remembered,
// so that a slice recorded in the instant the program switched maps is
// not taken for a new process.
const tombstoneTicks = 2

// Reader is a procstat-compatible process reader (the sampler's
// ProcReader) fed by the BPF program: the CPU time of the processes that
// ran since the last tick, and the processes that exited, come from the
// program's maps, so that a tick costs what ran and what exited, not
// what exists. It keeps a table of the live processes, seeded once from
// procfs; each process's Meta is read from procfs once, when the program
// first shows it (procstat.Reader.ReadProcess, MetaHook included), and
// again when its name changes (an exec, as procstat.Reader tells one).
//
// CPU time is counted in nanoseconds and handed out in USER_HZ ticks, the
// unit of procinfo.Proc.CPU: a live process gets its nanoseconds rounded
// down, and the remainder is not lost: when it exits, its last figure is
// rounded against a running balance of what the processes before it were
// rounded by, so that Σ CPU handed out follows Σ nanoseconds counted
// within a tick, however many short processes there were.
//
// A process that lived and died between two ticks is in the Procs of the
// tick that sees its exit and of the next (which adds what its threads
// ran after the exit record: the rest of do_exit), with all its CPU time
// and the Meta built from what the program recorded (its name, its cgroup
// when resolvable, see cgroupNames), and gone from the one after: as a
// process of procfs's Read that was there two ticks. Proc.ChildCPU is always 0: each process's own
// time is counted, reaped children's included in them, not in their
// parent.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	src     source
	procs   *procstat.Reader
	cgroups *cgroupNames
	log     *slog.Logger

	table  map[pkey]*proc
	closed map[pkey]uint64 // key → tick it closed
	tick   uint64
	// debt is what the processes that have exited were handed out less
	// than they used, in ns (negative: more).
	debt int64

	dropped      [2]uint64 // updates, exits: as last seen
	lastWarn     uint64    // tick
	lateSlices   uint64
	reconciledAt uint64
	reconcileNow bool

	// todo holds the processes whose Meta is to be read (pending or
	// reread).
	todo []*proc

	// scratch
	exits   []exit
	deltas  []delta
	running []running
	pids    []int
	alive   map[int]bool
}

// proc is one live process in the table.
type proc struct {
	key      pkey
	ns       uint64 // on-CPU time counted, ns
	inflight uint64 // ns of the slice running at this tick's read, not yet in ns
	reported uint64 // the CPU last handed out, USER_HZ ticks
	ppid     int
	meta     *procinfo.Meta
	comm     [commLen]byte // the task name as the program last recorded it; zero: not yet
	info     taskInfo      // what the program recorded, for a Meta procfs cannot give
	pending  bool          // the Meta is still to be read
	reread   bool          // the name changed: read the Meta again
	exited   uint64        // the tick its exit was seen; 0 while it lives
	// settled is, once it has exited, the part of ns already handed out
	// or put in the Reader's balance (settle).
	settled  int64
	settling bool
}

// Option configures a Reader.
type Option func(*config)

type config struct {
	hook       procinfo.MetaHook
	log        *slog.Logger
	maxEntries uint32
	cgroupRoot string
	src        source
}

// WithMetaHook sets the hook run on every Meta, as procstat.WithMetaHook.
func WithMetaHook(h procinfo.MetaHook) Option { return func(c *config) { c.hook = h } }

// WithLogger sets the logger that reports lost updates.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithMaxEntries sets how many processes each of the program's two delta
// maps holds (the processes that run within one tick); the program's
// default is 16384. A full map loses slices and counts them (Dropped).
func WithMaxEntries(n uint32) Option { return func(c *config) { c.maxEntries = n } }

// withSource replaces the kernel program (tests).
func withSource(s source) Option { return func(c *config) { c.src = s } }

// withCgroupRoot replaces the cgroup2 mount found under sysfs (tests).
func withCgroupRoot(p string) Option { return func(c *config) { c.cgroupRoot = p } }

// New loads and attaches the BPF program, then seeds the table of live
// processes from the procfs tree at procfs, and the cgroup names from the
// cgroup2 mount under sysfs. It fails when the program cannot be loaded
// (no BTF, no privilege, a kernel too old): the error says why.
func New(procfs, sysfs string, opts ...Option) (*Reader, error) {
	c := config{log: slog.New(slog.DiscardHandler), cgroupRoot: cgroup2Root(sysfs)}
	for _, o := range opts {
		o(&c)
	}
	src := c.src
	if src == nil {
		var err error
		if src, err = load(c.maxEntries); err != nil {
			return nil, err
		}
	}
	var popts []procstat.Option
	if c.hook != nil {
		popts = append(popts, procstat.WithMetaHook(c.hook))
	}
	r := &Reader{
		src: src,
		// Only for one process at a time (ReadProcess, MetaOf), the
		// listing (PIDs) and /proc/stat: it caches nothing.
		procs:   procstat.NewReader(procfs, popts...),
		cgroups: newCgroupNames(c.cgroupRoot),
		log:     c.log,
		table:   make(map[pkey]*proc),
		closed:  make(map[pkey]uint64),
		alive:   make(map[int]bool),
	}
	// The seed's reader is dropped after it: its cache would keep every
	// process it saw.
	if err := r.seed(procstat.NewReader(procfs, popts...)); err != nil {
		_ = src.Close()
		return nil, err
	}
	if c.src == nil {
		if err := checkView(src, procfs); err != nil {
			_ = src.Close()
			return nil, err
		}
	}
	return r, nil
}

// checkView makes sure the procfs tree shows the processes as the kernel
// program sees them: with the PIDs of the initial PID namespace (the
// program's), as the host's /proc does, or /host/proc in a container.
// A container's own /proc (another PID namespace) or a fixture tree does
// not, and the table would mix two numberings. The test: this process, as
// <procfs>/self names it and with the start time the seed read, must be
// the one the program sees running on the CPU this runs on.
func checkView(src source, procfs string) error {
	link, err := os.Readlink(filepath.Join(procfs, "self"))
	pid, perr := strconv.Atoi(link)
	if err != nil || perr != nil {
		return fmt.Errorf("%s is not a live procfs (no self link), so it cannot name the processes the kernel program sees", procfs)
	}
	me, ok := procstat.NewReader(procfs).ReadProcess(pid)
	if !ok {
		return fmt.Errorf("cannot read %s/%d/stat", procfs, pid)
	}
	self := pkey{tgid: uint32(pid), start: me.StartTime}
	var run []running
	for range 50 {
		if run, _, err = src.Running(run[:0]); err != nil {
			return err
		}
		for _, r := range run {
			if r.key == self && r.since != 0 {
				return nil
			}
		}
		time.Sleep(time.Millisecond) // switched out and in again: a fresh record
	}
	return fmt.Errorf("%s does not show processes with the kernel's PIDs (another PID namespace?): "+
		"the eBPF source needs the host's procfs (/proc, or the host's mounted at --path.procfs)", procfs)
}

// Probe loads and attaches the program, checks that the procfs tree at
// procfs names processes as the program sees them (see checkView), and
// unloads it: nil when New would work here, else why not.
func Probe(procfs string) error {
	src, err := load(0)
	if err != nil {
		return err
	}
	err = checkView(src, procfs)
	return errors.Join(err, src.Close())
}

// cgroup2 is CGROUP2_SUPER_MAGIC (statfs(2)).
const cgroup2 = 0x63677270

// cgroup2Root returns where the cgroup2 file system is mounted under
// sysfs: fs/cgroup on a unified host, fs/cgroup/unified on a hybrid one;
// "" when neither is.
func cgroup2Root(sysfs string) string {
	for _, p := range []string{filepath.Join(sysfs, "fs", "cgroup"), filepath.Join(sysfs, "fs", "cgroup", "unified")} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == cgroup2 {
			return p
		}
	}
	return ""
}

// seed fills the table from procfs, then drops what the program counted
// for those processes until now (procfs's figure holds it) and keeps the
// rest: processes born since, and the exits.
func (r *Reader) seed(from *procstat.Reader) error {
	procs, _, err := from.Read(nil)
	if err != nil {
		return err
	}
	for _, p := range procs {
		k := pkey{tgid: uint32(p.PID), start: p.StartTime}
		r.table[k] = &proc{key: k, ns: p.CPU * nsPerTick, reported: p.CPU, ppid: p.PPID, meta: p.Meta}
	}
	seeded := len(r.table)
	if r.deltas, err = r.src.Drain(r.deltas[:0]); err != nil {
		return err
	}
	for i := range r.deltas {
		if _, ok := r.table[r.deltas[i].key]; ok {
			r.deltas[i].ns = 0
		}
	}
	r.tick++ // exits seen now are of tick 1, the one before the first Read's
	r.apply()
	r.log.Debug("ebpf cpu source seeded from procfs", "processes", seeded)
	return nil
}

// Read appends one Proc per live process to dst[:0], and one per process
// that exited since the last Read (for the last time), in no order.
//
// It reads the exit records, then switches the program to its other
// delta map and drains the one it wrote, then what runs on each CPU now
// (a process that has not been switched out since the last tick still
// gets its time). Exits first: an exit record is written after the
// process's last slice, so that slice is in the map drained next.
func (r *Reader) Read(dst []procinfo.Proc) ([]procinfo.Proc, procinfo.Stats, error) {
	dst = dst[:0]
	var err error
	if r.exits, err = r.src.Exits(r.exits[:0]); err != nil {
		return dst, procinfo.Stats{}, fmt.Errorf("ebpf: %w", err)
	}
	if r.deltas, err = r.src.Drain(r.deltas[:0]); err != nil {
		return dst, procinfo.Stats{}, fmt.Errorf("ebpf: %w", err)
	}
	var now uint64
	if r.running, now, err = r.src.Running(r.running[:0]); err != nil {
		return dst, procinfo.Stats{}, fmt.Errorf("ebpf: %w", err)
	}
	r.tick++
	r.apply()
	for _, run := range r.running {
		if run.since == 0 || run.key.tgid == 0 || now <= run.since {
			continue
		}
		p := r.lookup(run.key, nil)
		if p != nil && p.exited == 0 {
			p.inflight += now - run.since
		}
	}
	r.checkDropped()
	if r.reconcileNow || r.tick-r.reconciledAt >= reconcileEvery {
		r.reconcile()
	}
	r.resolve()
	dst = r.list(dst)
	for k, t := range r.closed {
		if r.tick-t >= tombstoneTicks {
			delete(r.closed, k)
		}
	}
	return dst, procinfo.Stats{Seen: len(dst)}, nil
}

// apply adds the drained deltas and exit records to the table.
func (r *Reader) apply() {
	for i := range r.deltas {
		d := &r.deltas[i]
		p := r.lookup(d.key, &d.taskInfo)
		if p == nil {
			r.lateSlices++
			continue
		}
		p.ns += d.ns
		switch {
		case p.comm == [commLen]byte{}:
			p.comm = d.comm
		case d.comm != p.comm && !d.kthread && !p.pending:
			// An exec: execve sets the name to the new program's.
			p.comm = d.comm
			if !p.reread {
				p.reread = true
				r.todo = append(r.todo, p)
			}
		}
	}
	for i := range r.exits {
		e := &r.exits[i]
		p := r.lookup(e.key, &e.taskInfo)
		if p == nil {
			continue
		}
		if p.exited == 0 {
			p.exited = r.tick
		}
		p.info = e.taskInfo
	}
}

// lookup returns the table's process of key, adding it when it is not
// there and was not closed lately; info is what the program recorded of
// it, nil when nothing.
func (r *Reader) lookup(key pkey, info *taskInfo) *proc {
	if p, ok := r.table[key]; ok {
		return p
	}
	if _, ok := r.closed[key]; ok {
		return nil
	}
	p := &proc{key: key, pending: true}
	if info != nil {
		p.info, p.comm = *info, info.comm
		p.ppid = int(info.ppid)
	}
	r.table[key] = p
	r.todo = append(r.todo, p)
	return p
}

// resolve reads the Meta of the processes seen for the first time and of
// those that exec'd: from procfs while the process is there (and is the
// same process: same start time), else from what the program recorded.
func (r *Reader) resolve() {
	for _, p := range r.todo {
		pid := int(p.key.tgid)
		if p.exited == 0 {
			if pp, ok := r.procs.ReadProcess(pid); ok && pp.StartTime == p.key.start {
				p.meta, p.ppid = pp.Meta, pp.PPID
				p.pending, p.reread = false, false
				r.cgroups.learn(p.info.cgroupID, pp.Meta.Cgroup)
				continue
			}
		}
		if p.pending {
			comm := p.info.comm[:]
			if i := bytes.IndexByte(comm, 0); i >= 0 {
				comm = comm[:i]
			}
			p.meta = r.procs.MetaOf(pid, comm, r.cgroups.path(p.info.cgroupID, r.tick))
		}
		p.pending, p.reread = false, false
	}
	clear(r.todo)
	r.todo = r.todo[:0]
}

// list appends every process of the table to dst, and closes those whose
// exit was seen in an earlier tick: a process stays one tick after its
// exit record, so that what its threads ran after it (the rest of
// do_exit, counted at their last switch out) is in its figure.
func (r *Reader) list(dst []procinfo.Proc) []procinfo.Proc {
	for k, p := range r.table {
		var cpu uint64
		if p.exited != 0 {
			cpu = r.settle(p)
		} else {
			cpu = max(p.reported, (p.ns+p.inflight)/nsPerTick)
		}
		p.inflight = 0
		p.reported = cpu
		dst = append(dst, procinfo.Proc{
			Key: procinfo.Key{PID: int(k.tgid), StartTime: k.start},
			CPU: cpu, PPID: p.ppid, Meta: p.meta,
		})
		if p.exited != 0 && p.exited < r.tick {
			delete(r.table, k)
			r.closed[k] = r.tick
		}
	}
	return dst
}

// settle returns the CPU figure of a process that has exited, at the tick
// its exit is seen and at the next (with what its exit ran after the
// record): what it used beyond what it was handed out, plus the running
// balance, rounded to the nearest tick and added (never taken back); the
// balance keeps the difference. So a short process gets its time in the
// tick it ends, and Σ handed out follows Σ used within a tick.
func (r *Reader) settle(p *proc) uint64 {
	if !p.settling {
		// What it was handed out so far stands for what it used.
		p.settling, p.settled = true, int64(p.reported*nsPerTick)
	}
	v := int64(p.ns) - p.settled + r.debt
	var inc uint64
	if v > 0 {
		inc = uint64(v+int64(nsPerTick/2)) / nsPerTick
	}
	r.debt = v - int64(inc*nsPerTick)
	p.settled = int64(p.ns)
	return p.reported + inc
}

// reconcile marks as exited the processes of the table that procfs no
// longer lists: those whose exit record the ring buffer lost.
func (r *Reader) reconcile() {
	r.reconciledAt, r.reconcileNow = r.tick, false
	var err error
	if r.pids, err = r.procs.PIDs(r.pids); err != nil {
		r.log.Debug("cannot list processes to reconcile", "err", err)
		return
	}
	clear(r.alive)
	for _, pid := range r.pids {
		r.alive[pid] = true
	}
	for _, p := range r.table {
		if !r.alive[int(p.key.tgid)] && p.exited == 0 {
			p.exited = r.tick - 1 // long gone: closes this tick
		}
	}
}

// warnEvery is how many ticks apart lost updates are reported at most.
const warnEvery = 30

// checkDropped logs when the program has lost slices or exit records
// since it last looked, and reconciles now when exit records were lost.
func (r *Reader) checkDropped() {
	u, e := r.src.Dropped()
	if u == r.dropped[0] && e == r.dropped[1] {
		return
	}
	if e != r.dropped[1] {
		r.reconcileNow = true
	}
	if r.lastWarn == 0 || r.tick-r.lastWarn >= warnEvery {
		r.lastWarn = r.tick
		r.log.Warn("the ebpf cpu source lost updates: a map was full; the lost cpu time is booked as unattributed",
			"lost_slices", u, "lost_exits", e)
	}
	r.dropped = [2]uint64{u, e}
}

// Dropped returns how many on-CPU slices (a full delta map) and exit
// records (a full ring buffer) the program has lost since it was loaded.
func (r *Reader) Dropped() (slices, exits uint64) { return r.src.Dropped() }

// CPUTimes reads the machine-wide CPU times from <procfs>/stat, as
// procstat.Reader.CPUTimes.
func (r *Reader) CPUTimes() (procinfo.CPUTimes, error) { return r.procs.CPUTimes() }

// Close detaches the program and frees its maps.
func (r *Reader) Close() error { return r.src.Close() }
