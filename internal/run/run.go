// Package run measures the energy of one command: it starts the command
// with its standard streams and environment untouched, samples the sensor
// and the command's process tree every step, and reports what the command
// took — its share of the host's energy by the ordinary attribution — and
// what the whole host took over the same time.
package run

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/sampler"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Options configure a Runner.
type Options struct {
	Sensor      sensor.Sensor
	Procs       sampler.ProcReader
	Attribution attribution.Options
	// Step is the sampling period (and the resolution of the series).
	Step time.Duration
	// Stdin, Stdout and Stderr are handed to the command as they are;
	// *os.File values are passed straight through (no copying).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Log            *slog.Logger
	// Baseline is how long the sensor is read before the command starts,
	// every BaselineStep, to find the idle power when the attribution
	// options do not fix it (no --idle-power, a measuring sensor). 0 takes
	// DefaultBaseline and DefaultBaselineStep.
	Baseline, BaselineStep time.Duration
	// Resources, when set, reads the command's processes' storage bytes
	// and network namespaces (procstat.Resources; Run has it read every
	// process of the tree at every tick). HostIO, when set, reads the
	// machine's disk and NIC bytes. With both, the command's storage
	// energy is priced by its bytes over the disks' bytes, and its
	// network energy, when it has a network namespace of its own, by the
	// namespace's bytes over the NICs'; without, storage gets none and
	// network goes by CPU time.
	Resources ResourceReader
	HostIO    HostIO
}

// Point is one step of the power series.
type Point struct {
	Seconds        float64 `json:"t"` // since the start, at the end of the step
	PowerWatts     float64 `json:"power_watts"`
	HostPowerWatts float64 `json:"host_power_watts"`
}

// Result is one run of the command.
type Result struct {
	Command    []string
	Start, End time.Time
	ExitCode   int
	// Signal is the signal that killed the command, if one did.
	Signal     syscall.Signal
	Energy     units.Energy
	HostEnergy units.Energy
	// Resources splits Energy by resource (Σ = Energy exactly);
	// HostResources splits HostEnergy.
	Resources, HostResources snapshot.ResourceEnergy
	// StorageBy says how storage energy was priced (StorageBy*);
	// StorageBytes is what the command's processes read and wrote
	// (read_bytes + write_bytes, /proc/<pid>/io and wait4's rusage),
	// HostDiskBytes what the machine's disks transferred over the same
	// ticks (/proc/diskstats).
	StorageBy                   string
	StorageBytes, HostDiskBytes uint64
	// NetworkBy says how network energy was priced (NetworkBy*, "" when
	// there was none); with a namespace of its own, NetworkBytes are its
	// bytes and HostNetworkBytes the NICs' over those ticks.
	NetworkBy                      string
	NetworkBytes, HostNetworkBytes uint64
	// HostDuration is the time HostEnergy covers: from the tick just
	// before the start to the tick just after the exit.
	HostDuration time.Duration
	// PeakPower is the command's highest power over one full step, never
	// over the short interval from the last tick to the exit; when the
	// command ran shorter than a step, its average. It is never below the
	// average.
	PeakPower units.Power
	// IdlePower is the idle baseline taken out of the host's energy, and
	// IdleOrigin where it came from (flag, model, baseline-fit,
	// baseline-quiet, baseline-busy, none).
	IdlePower  units.Power
	IdleOrigin string
	// CPU is the command's CPU time with its descendants': wait4's rusage
	// (microseconds) when the command ended normally, else what the ticks
	// saw.
	CPU time.Duration
	// HostCPU is the host's busy CPU time over the same time (user +
	// nice + system + irq + softirq of /proc/stat, the denominator of the
	// command's share); Σ of the processes' where that is unknown.
	HostCPU time.Duration
	// Processes is the number of distinct processes of the command's tree
	// seen at a tick: one that lived and died between two ticks is not
	// counted, though its CPU time is.
	Processes int
	Sensor    string
	Source    power.Source
	Method    string
	SensorUp  bool
	Series    []Point
	// Interrupted is true when a signal reached wattlens during the run.
	Interrupted bool
}

// Duration is how long the command ran.
func (r Result) Duration() time.Duration { return r.End.Sub(r.Start) }

// AveragePower is the command's energy over its duration.
func (r Result) AveragePower() units.Power { return units.PowerOf(r.Energy, r.Duration()) }

// ErrStart wraps a failure to start the command (not found, not
// executable).
var ErrStart = errors.New("cannot start command")

// Run runs argv once. SIGTERM that reaches wattlens is forwarded to the
// command, which decides when it ends; so are SIGINT, SIGQUIT and SIGHUP,
// unless wattlens is in the foreground of its terminal: the terminal then
// sent them to the command too (it is in wattlens's process group), and a
// second SIGINT is "force quit" to many programs.
func Run(argv []string, o Options) (Result, error) {
	if len(argv) == 0 {
		return Result{}, fmt.Errorf("%w: no command given", ErrStart)
	}
	attrOpts, fixed := o.Attribution, true
	var base []baselinePoint
	switch attrOpts.IdleOrigin {
	case attribution.IdleFromFlag, attribution.IdleFromModel:
	default:
		// The idle is found below, from the baseline and the run; the
		// attribution books every joule as active meanwhile, and the
		// command's share is scaled to the active part at the end.
		fixed = false
		d, step := o.Baseline, o.BaselineStep
		if d <= 0 || step <= 0 {
			d, step = DefaultBaseline, DefaultBaselineStep
		}
		smp := sampler.New(o.Sensor, hostOnly{o.Procs}, attribution.New(o.Attribution), o.Log, sampler.WithReadTimeout(5*time.Second))
		base = measureBaseline(smp, d, step, time.Sleep)
		attrOpts.IdlePower, attrOpts.IdleOrigin = 0, attribution.IdleFromFlag
	}
	if e, ok := o.Resources.(interface{ EveryTick() }); ok {
		e.EveryTick() // the tree is small: every byte in its tick
	}
	tree := newTreeReader(o.Procs, o.Resources, o.HostIO)
	smp := sampler.New(treeSensor{Sensor: o.Sensor, tree: tree}, tree, attribution.New(attrOpts), o.Log, sampler.WithReadTimeout(5*time.Second))
	res := Result{Command: argv, Sensor: o.Sensor.Name(), Method: o.Attribution.Method, IdlePower: attrOpts.IdlePower, IdleOrigin: attrOpts.IdleOrigin}

	smp.Tick() // the accounts open just before the start
	hostStart := time.Now()
	pricer := newIOPricer(tree.counters())

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	// The command dies with wattlens even when wattlens is SIGKILLed: the
	// kernel sends it SIGKILL when the thread that started it ends. (Go
	// ends a thread only when a goroutine that locked it returns, which
	// wattlens never does.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	res.Start = time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("%w %q: %w", ErrStart, argv[0], err)
	}
	tree.setRoot(cmd.Process.Pid, sampler.BootTicks(), argv)

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	ticker := time.NewTicker(o.Step)
	defer ticker.Stop()
	// Counters that could wrap twice within a step are read in between.
	var poll <-chan time.Time
	if every := smp.PollEvery(o.Step); every > 0 {
		pt := time.NewTicker(every)
		defer pt.Stop()
		poll = pt.C
	}
	var last *snapshot.Snapshot
	var ticks []tick
	up := true
	record := func(s *snapshot.Snapshot) {
		if s == nil {
			return
		}
		up = s.SensorUp
		if !s.SensorUp || last != nil && s.Seq <= last.Seq {
			return // a down tick repeats the last figures: nothing new to book
		}
		last = s
		if s.CPU.Known {
			res.HostCPU += s.CPU.Busy
		} else {
			for _, p := range s.Processes {
				res.HostCPU += p.CPUDelta
			}
		}
		t := tickOf(s, cmd.Process.Pid)
		t.res = pricer.price(s, t.res, tree.counters())
		ticks = append(ticks, t)
	}
	for waiting := true; waiting; {
		select {
		case sig := <-sigs:
			res.Interrupted = true
			if sig == syscall.SIGTERM || !foreground() {
				_ = cmd.Process.Signal(sig)
			}
		case <-ticker.C:
			record(smp.Tick())
		case <-poll:
			smp.Poll()
		case err := <-done:
			if err != nil && cmd.ProcessState == nil {
				return res, fmt.Errorf("waiting for %q: %w", argv[0], err)
			}
			waiting = false
		}
	}
	res.End = time.Now()
	rus, rusIO := rusage(cmd.ProcessState)
	tree.setExited(rusTicks(rus), rusIO)
	record(smp.Tick()) // just after the exit
	res.ExitCode, res.Signal = exitStatus(cmd.ProcessState)
	res.Processes = tree.processes()
	if last != nil {
		res.CPU = commandCPU(last, cmd.Process.Pid)
		res.HostEnergy, res.Source = last.Host.Total, last.Host.Source
		res.HostDuration = last.Time.Sub(hostStart)
	}
	for _, t := range ticks {
		for r := range t.res {
			res.Resources[r] += t.res[r]
			res.HostResources[r] += t.hostRes[r]
		}
	}
	res.StorageBy, res.StorageBytes, res.HostDiskBytes = pricer.storageBy(), pricer.tree, pricer.disk
	res.NetworkBy, res.NetworkBytes, res.HostNetworkBytes = pricer.networkBy(), pricer.treeNet, pricer.hostNet
	if !fixed {
		res.IdlePower, res.IdleOrigin = idleOfRun(base, ticks)
		if attrOpts.IdlePolicy != snapshot.IdleShared {
			res.Resources = withoutIdle(ticks, res.IdlePower)
			if res.Resources.Sum() == 0 && rus > 0 {
				// A short command that mostly waits: its share vanished
				// against the idle baseline's error. It is booked its own
				// CPU time at the run's price per busy CPU-second above
				// idle, never nothing.
				price := cpuPrice(ticks, res.IdlePower)
				if price == 0 {
					// Not even that: price it above the lowest power
					// seen, the idle baseline's lower bound.
					price = cpuPrice(ticks, lowestPower(base, ticks))
				}
				if price == 0 {
					// The host's CPUs did not move while it ran: the
					// price the baseline saw before it started.
					price = baselinePrice(base, lowestPower(base, ticks))
				}
				// It is CPU time's price: split among the resources
				// that go by CPU time as the host's energy was.
				res.Resources = splitLike(units.FromJoules(price*rus.Seconds()), cpuPriced(res.HostResources, res.NetworkBy))
			}
		}
	}
	res.Energy = res.Resources.Sum()
	res.Series, res.PeakPower = series(ticks, res.Start, o.Step, res.IdlePower, !fixed && attrOpts.IdlePolicy != snapshot.IdleShared)
	if rus > 0 && res.CPU <= rus+time.Second/procinfo.UserHZ {
		// The ticks saw no more than the rusage (rounded to 10 ms):
		// the rusage is the same figure to the microsecond.
		res.CPU = rus
	}
	res.PeakPower = max(res.PeakPower, res.AveragePower())
	res.SensorUp = up && last != nil
	return res, nil
}

// foreground reports whether wattlens is in the foreground process group
// of its controlling terminal, where the terminal's SIGINT, SIGQUIT and
// SIGHUP reach the command as well.
func foreground() bool {
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return false // no controlling terminal
	}
	defer func() { _ = tty.Close() }()
	pgrp, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// treeSensor re-keys a device's per-process shares (GPU use) so that the
// command's descendants, folded into one pseudo-process by treeReader, get
// theirs as the command's.
type treeSensor struct {
	sensor.Sensor
	tree *treeReader
}

// ProcessShares implements sensor.ProcessSharer.
func (s treeSensor) ProcessShares() map[string]power.Shares {
	ps, ok := s.Sensor.(sensor.ProcessSharer)
	if !ok {
		return nil
	}
	in := ps.ProcessShares()
	if len(in) == 0 {
		return in
	}
	out := make(map[string]power.Shares, len(in))
	for zone, shares := range in {
		m := make(power.Shares, len(shares))
		for pid, v := range shares {
			m[s.tree.owner(pid)] += v
		}
		out[zone] = m
	}
	return out
}

func commandCPU(s *snapshot.Snapshot, pid int) time.Duration {
	for _, p := range s.Processes {
		if p.PID == pid {
			return p.CPUTotal
		}
	}
	return 0
}

// cpuPriced is the host's energy of the resources that go to the command
// by CPU time: cpu, memory, platform, GPU, and network unless it went by
// the command's namespace.
func cpuPriced(host snapshot.ResourceEnergy, networkBy string) snapshot.ResourceEnergy {
	host[power.ResourceStorage.Index()] = 0
	if networkBy != NetworkByCPU {
		host[power.ResourceNetwork.Index()] = 0
	}
	return host
}

// rusage is the command's CPU time with its reaped descendants, from
// wait4's rusage, to the microsecond, and their storage bytes: blocks
// read and written (ru_inblock + ru_oublock, read_bytes and write_bytes
// in 512-byte units, getrusage(2)) × 512.
func rusage(ps *os.ProcessState) (time.Duration, uint64) {
	if ps == nil {
		return 0, 0
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), uint64(max(ru.Inblock, 0)+max(ru.Oublock, 0)) * 512
}

// rusTicks is d in USER_HZ ticks, the unit of the process accounts: rounded
// to the nearest, and at least one when d is not 0, so that a command
// shorter than a tick is not booked nothing.
func rusTicks(d time.Duration) uint64 {
	tick := time.Second / procinfo.UserHZ
	n := uint64((d + tick/2) / tick)
	if n == 0 && d > 0 {
		n = 1
	}
	return n
}

func exitStatus(ps *os.ProcessState) (int, syscall.Signal) {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal()), ws.Signal()
	}
	return ps.ExitCode(), 0
}
