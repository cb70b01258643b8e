// Package qemu is the hypervisor side of wattlens's VM support: it writes,
// for every qemu/KVM guest the host runs, the energy that guest's process
// used into a powercap-shaped tree the guest reads through a shared
// directory (virtiofs or 9p; see docs/vm.md).
//
// Per VM, below the directory given to New (--qemu.dir), the share whose
// names and wattlens.json the vm sensor reads from the same contract,
// internal/vmshare:
//
//	<vm>/intel-rapl:0/name                 package-0
//	<vm>/intel-rapl:0/energy_uj            Σ the VM's interval energy since first seen, µJ
//	<vm>/intel-rapl:0/max_energy_range_uj  where energy_uj wraps
//	<vm>/wattlens.json                     heartbeat and source (see vmshare.Meta)
//
// A VM is a process whose procinfo.Meta.VM is set (by vmdetect.MetaHook);
// its energy is the sum of its processes' interval energy
// (snapshot.Process.Delta), which attribution computes as a share of ΔE
// over the interval: energy, in microjoules, never power added up as if it
// were energy (Scaphandre's qemu exporter adds µW into its µJ counter once
// per 5 s, so its guests see a fifth of their power).
//
// Each file is replaced atomically (temporary file and rename in the same
// directory), so a guest never reads a torn value. A VM seen for the first
// time gets its directory in the same tick; a VM that stops keeps its
// directory, which is no longer updated (its heartbeat stops). A counter
// found on disk from an earlier run of the exporter is carried on, with
// its counter epoch (vmshare.Meta.CounterEpoch), so a host restart is not
// seen by the guest as a counter going backwards. When it cannot be carried on (no
// share, one that cannot be read, a changed max_energy_range_uj), the
// counter starts a new epoch, which tells guests to take a new baseline
// rather than read the counter's jump as a wrap.
//
// Nothing under the directory is trusted: VM names are made safe (DirName)
// and no symbolic link below the directory is ever followed (see fs.go).
package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
	"github.com/wattlens/wattlens/internal/vmshare"
)

// Name is the exporter's name.
const Name = "qemu"

// Options configure an Exporter.
type Options struct {
	// Logger receives one line per VM that appears, each name that had to
	// be made safe, and each VM whose share cannot be written (once,
	// until it can again). Default: discard.
	Logger *slog.Logger
	// MaxRange is written to max_energy_range_uj; energy_uj wraps there.
	// Default DefaultMaxRange.
	MaxRange units.Energy
	// Step is how often the host writes (the sampler's step), told to
	// guests for their staleness check. Default 2 s.
	Step time.Duration
	// Sync fsyncs each file before renaming it. Off by default: the share
	// usually lives on a tmpfs, and rename alone is what readers need.
	Sync bool
}

// Exporter writes the shares. It implements exporter.Exporter; Export is
// called from one goroutine.
type Exporter struct {
	dir  string
	opts Options
	log  *slog.Logger

	lastSeq uint64
	writes  uint64
	vms     map[string]*vmState // by VM name
	// counted is the number of guests last logged; -1 before the first.
	counted int

	// now stamps new counter epochs (tests replace it).
	now func() time.Time
}

// vmState is what the exporter keeps of a VM between ticks.
type vmState struct {
	name    string
	dir     string
	counter units.Energy
	// epoch is the counter's vmshare.Meta.CounterEpoch.
	epoch uint64
	meta  vmshare.Meta
	// static is true once name and max_energy_range_uj are written.
	static bool
	// failing is true while writes fail, so the failure is logged once.
	failing bool
	// missing counts the snapshots in a row without the VM.
	missing int
}

// forgetAfter is how many snapshots in a row a VM must be missing from
// before the exporter forgets it.
const forgetAfter = 3

// New returns an Exporter writing below dir, which it creates (mode 0755)
// when missing.
func New(dir string, opts Options) (*Exporter, error) {
	if dir == "" {
		return nil, errors.New("qemu: no directory given for the VM shares")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxRange == 0 {
		opts.MaxRange = DefaultMaxRange
	}
	if opts.MaxRange > MaxRangeLimit {
		return nil, fmt.Errorf("qemu: max_energy_range_uj %d is beyond %d (2^63-1 µJ, about 290 years at 1 kW): "+
			"readers that parse energy_uj as a signed 64-bit integer would fail", uint64(opts.MaxRange), uint64(MaxRangeLimit))
	}
	if opts.Step <= 0 {
		opts.Step = 2 * time.Second
	}
	fd, err := openRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	closeFD(fd)
	return &Exporter{
		dir:  dir,
		opts: opts,
		log:  opts.Logger.With("exporter", Name),
		vms:  make(map[string]*vmState),
		now:  time.Now,

		counted: -1,
	}, nil
}

// Dir returns the directory the shares are written below.
func (x *Exporter) Dir() string { return x.dir }

// Export adds each VM's interval energy to its counter and rewrites its
// share. A snapshot taken while the sensor is down carries no new energy
// and is skipped: the shares then go stale, which guests see, and the
// next good tick covers the gap. A VM whose share cannot be written (a
// symbolic link where its directory should be, a full disk) is logged once
// and skipped; the others are written. The error is for the directory
// itself being unusable.
func (x *Exporter) Export(_ context.Context, s *snapshot.Snapshot) error {
	if s == nil || !s.SensorUp || s.Seq <= x.lastSeq {
		return nil
	}
	x.lastSeq = s.Seq
	vms := vmEnergy(s)

	root, err := openRoot(x.dir)
	if err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	defer closeFD(root)

	names := make([]string, 0, len(vms))
	for name := range vms {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		st := x.vms[name]
		if st == nil {
			st = x.newVM(root, name)
			x.vms[name] = st
		}
		delta := vms[name]
		st.counter = advance(st.counter, delta, x.opts.MaxRange)
		x.writes++
		st.meta = vmshare.Meta{
			Version:         vmshare.MetaVersion,
			VM:              name,
			Seq:             x.writes,
			UnixNano:        s.Time.UnixNano(),
			StepSeconds:     x.opts.Step.Seconds(),
			IntervalSeconds: s.Interval.Seconds(),
			PowerWatts:      units.PowerOf(delta, s.Interval).Watts(),
			EnergyUJ:        uint64(st.counter),
			MaxRangeUJ:      uint64(x.opts.MaxRange),
			CounterEpoch:    st.epoch,
			Source:          string(s.Host.Source),
			Sensor:          s.Sensor,
		}
		x.report(st, x.write(root, st))
	}
	// A VM missing from forgetAfter snapshots in a row is gone (one
	// missing tick may be a process that could not be read); if it comes
	// back, its counter is read back from its share.
	for name, st := range x.vms {
		if _, ok := vms[name]; ok {
			st.missing = 0
			continue
		}
		if st.missing++; st.missing >= forgetAfter {
			x.log.Info("vm gone; its share is no longer updated", "vm", shorten(name), "dir", st.dir)
			delete(x.vms, name)
		}
	}
	x.logCount()
	return nil
}

// logCount says how many guests have a share and where, after the first
// snapshot and whenever the number changes: "0 guests" at start is what a
// user needs to know most (no qemu process seen, or not readable).
func (x *Exporter) logCount() {
	n := len(x.vms)
	if n == x.counted {
		return
	}
	x.counted = n
	if n == 0 {
		x.log.Info("no qemu/KVM guest found; shares are written once one runs", "guests", 0, "dir", x.dir)
		return
	}
	names := slices.Sorted(maps.Keys(x.vms))
	const listed = 10 // each is in its own "vm found" line anyway
	if len(names) > listed {
		names = append(names[:listed], "and "+strconv.Itoa(len(x.vms)-listed)+" more")
	}
	for i, name := range names {
		names[i] = shorten(name)
	}
	x.log.Info("qemu/KVM guests found; writing their shares", "guests", n, "dir", x.dir, "vms", strings.Join(names, ","))
}

// Close marks every live VM's share stopped, so guests see at once that
// the host no longer writes it rather than after the staleness delay.
func (x *Exporter) Close() error {
	root, err := openRoot(x.dir)
	if err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	defer closeFD(root)
	var errs []error
	for _, st := range x.vms {
		if st.failing || st.meta.Seq == 0 {
			continue
		}
		st.meta.Stopped = true
		if err := x.writeMeta(root, st); err != nil {
			errs = append(errs, fmt.Errorf("qemu: vm %q: %w", st.name, err))
		}
	}
	return errors.Join(errs...)
}

// vmEnergy sums the interval energy of each VM's processes. Every VM
// process is listed, even one that used no CPU time, so a new VM gets its
// share at once.
func vmEnergy(s *snapshot.Snapshot) map[string]units.Energy {
	vms := make(map[string]units.Energy)
	for i := range s.Processes {
		p := &s.Processes[i]
		if p.Meta == nil || p.VM == "" {
			continue
		}
		vms[p.VM] += p.Delta
	}
	return vms
}

// newVM sets up the state of a VM seen for the first time: its directory
// name, and the counter an earlier run left in its share, if any, with its
// epoch; or a new epoch.
func (x *Exporter) newVM(root int, name string) *vmState {
	dir, changed := DirName(name)
	st := &vmState{name: name, dir: dir}
	if changed {
		x.log.Warn("vm name is not a safe directory name; its share uses a made-safe one",
			"vm", shorten(name), "dir", dir)
	}
	x.cleanTemps(root, dir)
	prev := x.readPrevious(root, dir)
	st.counter = prev.counter
	if prev.carry {
		st.epoch = prev.epoch
		x.log.Info("vm found; carrying on the counter in its share", "vm", shorten(name), "dir", dir,
			"energy_uj", uint64(st.counter), "counter_epoch", st.epoch)
		return st
	}
	st.epoch = x.newEpoch(prev.epoch)
	if prev.why != "" {
		x.log.Warn("vm found; its share's counter cannot be carried on, starting a new counter epoch "+
			"(its guest takes a new baseline)", "vm", shorten(name), "dir", dir, "why", prev.why,
			"energy_uj", uint64(st.counter), "counter_epoch", st.epoch)
		return st
	}
	x.log.Info("vm found; writing its share", "vm", shorten(name), "dir", dir,
		"energy_uj", uint64(st.counter), "counter_epoch", st.epoch)
	return st
}

// newEpoch returns the epoch of a counter series starting now: the
// current time in Unix nanoseconds, but always after last (the epoch the
// share had, if known, in case the clock went back) and never 0.
func (x *Exporter) newEpoch(last uint64) uint64 {
	e := uint64(max(x.now().UnixNano(), 1))
	if e <= last {
		e = last + 1
	}
	return e
}

// previous is what an earlier run left in a VM's share.
type previous struct {
	// counter is where to go on from: energy_uj when it is within the
	// range, else 0.
	counter units.Energy
	// carry is true when the counter and epoch go on as they are: the
	// guest sees one continuous series.
	carry bool
	// epoch is the share's counter epoch when known (0 otherwise).
	epoch uint64
	// why says why the counter is not carried on, when there was a share.
	why string
}

// readPrevious reads the energy_uj, max_energy_range_uj and counter epoch
// an earlier run left in dir. The counter is carried on, with its epoch,
// only when energy_uj can be read and is within the range, the range is
// this exporter's, and wattlens.json can be read or is missing (a share
// without one is epoch 0, as its guest sees it). Whatever cannot be
// trusted starts a new epoch.
func (x *Exporter) readPrevious(root int, dir string) previous {
	var p previous
	vmfd, err := openSubdir(root, dir, false)
	if err != nil {
		return p // no share yet
	}
	defer closeFD(vmfd)
	b, metaErr := readAt(vmfd, vmshare.MetaFile, maxMetaSize)
	if metaErr == nil {
		var m vmshare.Meta
		if metaErr = json.Unmarshal(b, &m); metaErr == nil {
			p.epoch = m.CounterEpoch
		}
	}
	noMeta := errors.Is(metaErr, unix.ENOENT)
	e, err := readZoneUJ(vmfd, vmshare.EnergyFile)
	if err != nil {
		if !noMeta || !errors.Is(err, unix.ENOENT) {
			p.why = "cannot read " + vmshare.EnergyFile + ": " + err.Error()
		} // else an empty directory (a fresh tmpfs): a new share
		return p
	}
	if units.Energy(e) <= x.opts.MaxRange {
		p.counter = units.Energy(e)
	}
	rng, err := readZoneUJ(vmfd, vmshare.MaxRangeFile)
	switch {
	case err != nil:
		p.why = "cannot read " + vmshare.MaxRangeFile + ": " + err.Error()
	case units.Energy(rng) != x.opts.MaxRange:
		p.why = fmt.Sprintf("%s changed from %d to %d", vmshare.MaxRangeFile, rng, uint64(x.opts.MaxRange))
	case units.Energy(e) > x.opts.MaxRange:
		p.why = fmt.Sprintf("%s %d is beyond %s %d", vmshare.EnergyFile, e, vmshare.MaxRangeFile, uint64(x.opts.MaxRange))
	case metaErr != nil && !noMeta:
		p.why = "cannot read " + vmshare.MetaFile + ": " + metaErr.Error()
	default:
		p.carry = true
	}
	return p
}

// maxMetaSize bounds the wattlens.json read back from a share.
const maxMetaSize = 64 * 1024

// readZoneUJ reads a count of microjoules from the file name in the zone
// directory inside vmfd.
func readZoneUJ(vmfd int, name string) (uint64, error) {
	zfd, err := openSubdir(vmfd, vmshare.ZoneDir, false)
	if err != nil {
		return 0, err
	}
	defer closeFD(zfd)
	return readUJAt(zfd, name)
}

// readUJAt reads a count of microjoules from the file name inside dirfd.
func readUJAt(dirfd int, name string) (uint64, error) {
	var buf [32]byte
	n, err := readFileAt(dirfd, name, buf[:])
	if err != nil {
		return 0, err
	}
	return parseUJ(buf[:n])
}

// readAt reads the file name inside dirfd, at most limit bytes.
func readAt(dirfd int, name string, limit int) ([]byte, error) {
	buf := make([]byte, limit+1)
	n, err := readFileAt(dirfd, name, buf)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return buf[:n], nil
}

// write rewrites one VM's share.
func (x *Exporter) write(root int, st *vmState) error {
	vmfd, err := openSubdir(root, st.dir, true)
	if err != nil {
		return err
	}
	defer closeFD(vmfd)
	zfd, err := openSubdir(vmfd, vmshare.ZoneDir, true)
	if err != nil {
		return err
	}
	defer closeFD(zfd)
	// name and max_energy_range_uj are rewritten only when missing: an
	// administrator may mount a fresh tmpfs over a VM's directory at any
	// time (the directories are opened again at every tick for that).
	if !st.static || !isFileAt(zfd, vmshare.NameFile) || !isFileAt(zfd, vmshare.MaxRangeFile) {
		if err := writeFileAt(zfd, vmshare.NameFile, []byte(vmshare.ZoneName+"\n"), x.opts.Sync); err != nil {
			return err
		}
		if err := writeFileAt(zfd, vmshare.MaxRangeFile, append(formatUJ(x.opts.MaxRange), '\n'), x.opts.Sync); err != nil {
			return err
		}
		st.static = true
	}
	if err := writeFileAt(zfd, vmshare.EnergyFile, append(formatUJ(st.counter), '\n'), x.opts.Sync); err != nil {
		return err
	}
	return x.writeMetaIn(vmfd, st)
}

func (x *Exporter) writeMeta(root int, st *vmState) error {
	vmfd, err := openSubdir(root, st.dir, false)
	if err != nil {
		return err
	}
	defer closeFD(vmfd)
	return x.writeMetaIn(vmfd, st)
}

func (x *Exporter) writeMetaIn(vmfd int, st *vmState) error {
	b, err := json.Marshal(st.meta)
	if err != nil {
		return err
	}
	return writeFileAt(vmfd, vmshare.MetaFile, append(b, '\n'), x.opts.Sync)
}

// report logs a VM's write failure once, and its recovery.
func (x *Exporter) report(st *vmState, err error) {
	switch {
	case err != nil && !st.failing:
		st.failing = true
		st.static = false
		x.log.Warn("cannot write vm share; skipping this vm until it can be written",
			"vm", shorten(st.name), "dir", st.dir, "err", err)
	case err != nil:
		st.static = false
	case st.failing:
		st.failing = false
		x.log.Info("vm share written again", "vm", shorten(st.name), "dir", st.dir)
	}
}

// shorten cuts a name for a log line.
func shorten(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// parseUJ parses a decimal count of microjoules, optionally followed by
// white space.
func parseUJ(b []byte) (uint64, error) {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 || len(b) > 20 {
		return 0, errors.New("not a count of microjoules")
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errors.New("not a count of microjoules")
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, errors.New("beyond 64 bits")
		}
		v = v*10 + d
	}
	return v, nil
}

// cleanTemps removes the temporaries an earlier exporter, killed during a
// write, left in a VM's share (its directory and zone directory).
func (x *Exporter) cleanTemps(root int, dir string) {
	vmfd, err := openSubdir(root, dir, false)
	if err != nil {
		return // no share yet
	}
	defer closeFD(vmfd)
	n, _ := removeStaleTemps(vmfd)
	if zfd, err := openSubdir(vmfd, vmshare.ZoneDir, false); err == nil {
		m, _ := removeStaleTemps(zfd)
		n += m
		closeFD(zfd)
	}
	if n > 0 {
		x.log.Info("removed temporaries an earlier run left in the share", "dir", dir, "files", n)
	}
}
