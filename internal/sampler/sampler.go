// Package sampler runs the tick loop: at each tick it reads every energy
// counter and every process's CPU time as close together as possible,
// stamps them with one time, and hands them to attribution. Exporters never
// trigger a read; they receive the snapshot each tick produces.
package sampler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// ProcReader is what the sampler needs of procstat.Reader.
type ProcReader interface {
	Read(dst []procinfo.Proc) ([]procinfo.Proc, procinfo.Stats, error)
	CPUTimes() (procinfo.CPUTimes, error)
}

// ResourceReader fills in what processes use besides CPU time (their
// storage bytes and network namespace) and returns each network
// namespace's bytes: procstat.Resources.
type ResourceReader interface {
	Fill(procs []procinfo.Proc) (map[uint64]uint64, error)
}

// ActivityReader reads the devices' activity counters beside the sensor
// (estimate.Activity), for attribution's platform fit.
type ActivityReader interface {
	Read() (power.Activity, error)
}

// Sampler owns the sensor, the process reader and the attributor.
type Sampler struct {
	sensor sensor.Sensor
	procs  ProcReader
	res    ResourceReader
	act    ActivityReader
	attr   *attribution.Attributor
	log    *slog.Logger

	now       func() time.Time
	bootTicks func() uint64

	buf     []procinfo.Proc
	last    *snapshot.Snapshot
	lastCPU procinfo.CPUTimes
	up      bool
	// gap is set while the sensor is down and cleared by the first good
	// tick after, whose interval spans the outage.
	gap bool

	counters   *tracker
	slowWarned bool
	// hostFrom is the snapshot's HostFrom of the last tick: a change (a
	// wall meter that joins or leaves) is logged once.
	hostFrom string

	// readTimeout bounds a sensor read (0: no bound); blocked holds the
	// result channel of a read that overran it and has not returned yet.
	readTimeout time.Duration
	blocked     chan reading
}

type reading struct {
	r   power.Reading
	err error
}

// Option adjusts a Sampler.
type Option func(*Sampler)

// WithClock replaces the wall clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Sampler) { s.now = now } }

// WithReadTimeout bounds each sensor read: a read that takes longer (NVML
// hung, a VM share on a 9p server that died) marks the sensor down for the
// tick instead of stopping the loop, and no other read starts until it
// returns.
func WithReadTimeout(d time.Duration) Option { return func(s *Sampler) { s.readTimeout = d } }

// WithResources has every tick's processes filled in by rr (storage bytes,
// network namespace) before attribution, so that storage and network
// energy go to the processes that used them.
func WithResources(rr ResourceReader) Option { return func(s *Sampler) { s.res = rr } }

// WithActivity has every tick read the devices' activity counters with
// ar right after the sensor, so that attribution can learn what a wall
// meter's remainder is spent on (attribution.Platform).
func WithActivity(ar ActivityReader) Option { return func(s *Sampler) { s.act = ar } }

// WithBootTicks replaces the boot clock (tests); return 0 for unknown.
func WithBootTicks(f func() uint64) Option { return func(s *Sampler) { s.bootTicks = f } }

// New returns a Sampler. Nothing is read until the first Tick.
func New(sen sensor.Sensor, procs ProcReader, attr *attribution.Attributor, log *slog.Logger, opts ...Option) *Sampler {
	s := &Sampler{sensor: sen, procs: procs, attr: attr, log: log, now: time.Now, bootTicks: BootTicks, up: true,
		counters: newTracker(log.With("sensor", sen.Name()))}
	for _, o := range opts {
		o(s)
	}
	return s
}

// BootTicks reads CLOCK_BOOTTIME, the clock of /proc/<pid>/stat's start
// time, in USER_HZ ticks; 0 when it cannot be read.
func BootTicks() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano()) / uint64(time.Second/procinfo.UserHZ)
}

// Tick reads once. The first successful read only sets the baseline and
// returns nil. When the sensor cannot be read attribution's accounts are left as
// they were (the next good read covers the whole gap, so no energy is lost) and
// Tick returns the last snapshot marked down, with the reason.
func (s *Sampler) Tick() *snapshot.Snapshot {
	start := time.Now()
	reading, err := s.read()
	if err != nil {
		return s.down(err)
	}
	smp := attribution.Sample{Zones: reading.Zones}
	if s.act != nil {
		act, err := s.act.Read()
		if err != nil {
			s.log.Debug("cannot read device activity", "err", err)
		}
		smp.Activity = act
	}
	if ps, ok := s.sensor.(sensor.ProcessSharer); ok {
		smp.Shares = ps.ProcessShares()
	}
	smp.Time = s.now()
	s.counters.observe(smp.Time, smp.Zones)
	smp.Wraps, smp.Resets = s.counters.wraps, s.counters.resets
	smp.BootTicks = s.bootTicks()
	if cpu, err := s.procs.CPUTimes(); err == nil {
		smp.CPU, s.lastCPU = cpu, cpu
	} else {
		// The last figures: this interval then has no utilisation,
		// rather than the average since boot.
		smp.CPU = s.lastCPU
		s.log.Debug("cannot read cpu times", "err", err)
	}
	procs, stats, err := s.procs.Read(s.buf[:0])
	if err != nil {
		return s.down(err)
	}
	s.buf = procs
	smp.Procs, smp.ProcStats = procs, stats
	if s.res != nil {
		netns, err := s.res.Fill(procs)
		if err != nil {
			s.log.Debug("cannot read process resources", "err", err)
		}
		smp.NetNS = netns
	}
	smp.ReadDuration = time.Since(start)

	if !s.up {
		s.log.Info("sensor is back", "sensor", s.sensor.Name())
		s.up = true
	}
	// An interval that spans an outage or a counter reset says nothing
	// about the machine's idle power.
	smp.Disturbed = s.gap || s.counters.disturbed
	s.gap, s.counters.disturbed = false, false
	snap := s.attr.Observe(smp)
	if snap == nil {
		return nil
	}
	if snap.HostFrom != "" && snap.HostFrom != s.hostFrom {
		if s.hostFrom != "" {
			s.log.Info("the host figure now comes from other zones", "from", snap.HostFrom, "was", s.hostFrom)
		}
		s.hostFrom = snap.HostFrom
	}
	s.last = snap
	return snap
}

// PollEvery returns how often the sensor's counters must be read between
// ticks of the given step so that none can wrap twice unseen (half the
// shortest time in which a zone could pass its range at its power bound),
// or 0 when reading at each tick is enough. It is never below MinPoll.
func (s *Sampler) PollEvery(step time.Duration) time.Duration {
	every := s.counters.every
	if every == 0 || every >= step {
		return 0
	}
	if every < MinPoll {
		if !s.slowWarned {
			s.slowWarned = true
			s.log.Warn("an energy counter can wrap faster than it can be read; energy may be lost",
				"sensor", s.sensor.Name(), "needed_every", every, "reading_every", MinPoll)
		}
		return MinPoll
	}
	return every
}

// Poll reads the sensor's counters between ticks, only to see every wrap:
// nothing is attributed and no snapshot is made. A failed read is left to
// the next tick to report.
func (s *Sampler) Poll() {
	start := time.Now()
	reading, err := s.read()
	if err != nil {
		s.log.Debug("counter poll failed", "sensor", s.sensor.Name(), "err", err)
		return
	}
	s.counters.observe(s.now(), reading.Zones)
	if took := time.Since(start); !s.slowWarned && s.counters.every > 0 && took > s.counters.every/2 {
		s.slowWarned = true
		s.log.Warn("the sensor cannot be read as often as its counters need; a counter may wrap twice unseen",
			"sensor", s.sensor.Name(), "read_took", took, "needed_every", s.counters.every)
	}
}

// read reads the sensor, within readTimeout when one is set.
func (s *Sampler) read() (power.Reading, error) {
	if s.readTimeout <= 0 {
		return s.sensor.Read()
	}
	if s.blocked != nil {
		select {
		case <-s.blocked: // it came back late: its figures are stale, read afresh
			s.blocked = nil
		default:
			return power.Reading{}, fmt.Errorf("a sensor read has been blocked for more than %s", s.readTimeout)
		}
	}
	ch := make(chan reading, 1)
	go func() {
		r, err := s.sensor.Read()
		ch <- reading{r, err}
	}()
	t := time.NewTimer(s.readTimeout)
	defer t.Stop()
	select {
	case got := <-ch:
		return got.r, got.err
	case <-t.C:
		s.blocked = ch
		return power.Reading{}, fmt.Errorf("sensor read took more than %s", s.readTimeout)
	}
}

func (s *Sampler) down(err error) *snapshot.Snapshot {
	s.gap = true
	if s.up {
		s.log.Warn("sensor is down; figures are held at the last good reading until it recovers", "sensor", s.sensor.Name(), "err", err)
		s.up = false
	}
	var d snapshot.Snapshot
	if s.last != nil {
		d = *s.last
	} else {
		d = s.attr.Blank()
		if d.Sensor == "" {
			d.Sensor = s.sensor.Name()
		}
	}
	d.Time = s.now()
	d.SensorUp = false
	d.SensorError = err.Error()
	return &d
}

// Run ticks every step until ctx is done, and calls publish with each
// snapshot (the first comes one step after the start). publish runs on the
// sampler's goroutine; a slow publish delays the next read, never skips it.
// Between ticks it polls the sensor's counters as often as PollEvery says,
// so that none can wrap twice within a step.
func (s *Sampler) Run(ctx context.Context, step time.Duration, publish func(*snapshot.Snapshot)) {
	if snap := s.Tick(); snap != nil {
		publish(snap)
	}
	t := time.NewTicker(step)
	defer t.Stop()
	var poll *time.Ticker
	var pollC <-chan time.Time
	every := time.Duration(0)
	defer func() {
		if poll != nil {
			poll.Stop()
		}
	}()
	for {
		if want := s.PollEvery(step); want != every {
			every = want
			if poll != nil {
				poll.Stop()
				poll, pollC = nil, nil
			}
			if every > 0 {
				poll = time.NewTicker(every)
				pollC = poll.C
				s.log.Info("reading energy counters between ticks so that none can wrap twice unseen", "every", every)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if snap := s.Tick(); snap != nil {
				publish(snap)
			}
		case <-pollC:
			s.Poll()
		}
	}
}
