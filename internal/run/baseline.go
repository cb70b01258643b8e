package run

import (
	"math"
	"slices"
	"time"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/sampler"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Idle baseline origins of a run, as the summary shows them, besides
// attribution's "flag" (--idle-power) and "model" (the estimate sensor).
const (
	// IdleBaselineFit: the intercept of host power against busy CPUs over
	// the measured baseline (the load of other processes varied enough to
	// tell idle from active).
	IdleBaselineFit = "baseline-fit"
	// IdleBaselineQuiet: the mean host power over the measured baseline,
	// which was quiet (utilisation at most 10 %).
	IdleBaselineQuiet = "baseline-quiet"
	// IdleBaselineBusy: the lowest host power over the measured baseline,
	// which was busy and steady: an upper bound of idle, so the command's
	// figure is a lower bound.
	IdleBaselineBusy = "baseline-busy"
	// IdleNone: no baseline could be measured (the sensor was down): 0 W,
	// every joule of the interval is active.
	IdleNone = "none"
)

// Baseline defaults: about one second of the sensor before the command
// starts, read every 100 ms.
const (
	DefaultBaseline     = time.Second
	DefaultBaselineStep = 100 * time.Millisecond
)

// quietUtilisation is the utilisation at or below which a baseline's mean
// power is taken as idle (attribution's learning threshold).
const quietUtilisation = 0.10

// minBusySpread is the least standard deviation of busy CPUs over the
// baseline for the fit to be trusted.
const minBusySpread = 0.15

// baselinePoint is one baseline interval: host power and busy CPUs, and
// its length in seconds (0 counts as 1: a point made by hand).
type baselinePoint struct {
	watts, busy, utilisation float64
	seconds                  float64
}

// weight is how much a point counts in the fit: both its power and its
// busy CPUs are an energy or a tick count read at two instants, off by a
// fixed amount (a counter updated every few ms, 10 ms ticks), so their
// error falls as the interval grows; a 1 s tick of the run weighs 100
// times a 100 ms point of the baseline.
func (p baselinePoint) weight() float64 {
	if p.seconds <= 0 {
		return 1
	}
	return p.seconds * p.seconds
}

// hostOnly reads the host's CPU time and no process: the baseline needs
// the host's power and busy CPUs, not who used them, and listing every
// process each step would cost what a busy host has processes.
type hostOnly struct{ sampler.ProcReader }

func (hostOnly) Read(dst []procinfo.Proc) ([]procinfo.Proc, procinfo.Stats, error) {
	return dst[:0], procinfo.Stats{}, nil
}

// measureBaseline reads the sensor and /proc/stat every step for d, before
// the command starts, and returns one point per good interval.
func measureBaseline(smp *sampler.Sampler, d, step time.Duration, sleep func(time.Duration)) []baselinePoint {
	var pts []baselinePoint
	smp.Tick()
	for n := int(d / step); n > 0; n-- {
		sleep(step)
		if s := smp.Tick(); s != nil && s.SensorUp && s.Interval > 0 {
			pts = append(pts, pointOf(s))
		}
	}
	return pts
}

func pointOf(s *snapshot.Snapshot) baselinePoint {
	return baselinePoint{watts: s.Host.Power.Watts(), busy: s.Utilisation * float64(s.CPUs), utilisation: s.Utilisation, seconds: s.Interval.Seconds()}
}

// idleFromBaseline chooses the idle power from the baseline's points:
//
//  1. the fit: when the busy CPUs varied (standard deviation at least
//     minBusySpread CPU) and host power against busy CPUs is a rising line
//     whose intercept lies between 0 and the lowest power seen, idle is
//     that intercept: the host's power with no CPU busy;
//  2. quiet: when the mean utilisation was at most 10 %, idle is the mean
//     power;
//  3. busy: otherwise, the lowest power seen, an upper bound of idle;
//  4. none: no point at all, 0 W.
func idleFromBaseline(pts []baselinePoint) (units.Power, string) {
	if len(pts) == 0 {
		return 0, IdleNone
	}
	var sw, sb, su, sn float64
	lowest := math.Inf(1)
	for _, p := range pts {
		w := p.weight()
		sw += w * p.watts
		sb += w * p.busy
		su += w * p.utilisation
		sn += w
		lowest = math.Min(lowest, p.watts)
	}
	mw, mb, mu := sw/sn, sb/sn, su/sn
	var sxx, sxy, ub, uxx float64
	for _, p := range pts {
		w := p.weight()
		sxx += w * (p.busy - mb) * (p.busy - mb)
		sxy += w * (p.busy - mb) * (p.watts - mw)
		ub += p.busy
	}
	ub /= float64(len(pts))
	for _, p := range pts {
		uxx += (p.busy - ub) * (p.busy - ub)
	}
	// The spread that makes a line: of the points as they are, whatever
	// their weight (a long tick of the run against the short baseline).
	if len(pts) >= 3 && sxx > 0 && math.Sqrt(uxx/float64(len(pts))) >= minBusySpread {
		slope := sxy / sxx
		if icpt := mw - slope*mb; slope > 0 && icpt >= 0 && icpt <= lowest {
			return units.FromWatts(icpt), IdleBaselineFit
		}
	}
	if mu <= quietUtilisation {
		return units.FromWatts(mw), IdleBaselineQuiet
	}
	return units.FromWatts(math.Max(lowest, 0)), IdleBaselineBusy
}

// tick is what the run keeps of one good tick.
type tick struct {
	time     time.Time
	interval time.Duration
	// res is the command's share per resource, host the host's energy
	// and hostRes the host's per resource.
	res     snapshot.ResourceEnergy
	host    units.Energy
	hostRes snapshot.ResourceEnergy
	point   baselinePoint
}

// cmd is the command's share of the tick, every resource together.
func (t tick) cmd() units.Energy { return t.res.Sum() }

// tickOf is the tick of s, with the attribution's share of the command
// (pid) per resource.
func tickOf(s *snapshot.Snapshot, pid int) tick {
	t := tick{time: s.Time, interval: s.Interval, host: s.Host.Delta, hostRes: s.Resources.Host.Delta, point: pointOf(s)}
	for _, p := range s.Processes {
		if p.PID == pid {
			t.res = p.Resources.Delta
			break
		}
	}
	return t
}

// idleOfRun is the idle power of a run without a fixed one: the fit of
// host power against busy CPUs over the baseline and the run's ticks (the
// command's own load gives the line its slope); else, from the baseline
// alone, its quiet mean or its lowest power (see idleFromBaseline).
func idleOfRun(base []baselinePoint, ticks []tick) (units.Power, string) {
	all := slices.Clone(base)
	for _, t := range ticks {
		if t.interval > 0 {
			all = append(all, t.point)
		}
	}
	if p, origin := idleFromBaseline(all); origin == IdleBaselineFit {
		return p, IdleBaselineFit
	}
	return idleFromBaseline(base)
}

// activeShare is the part of one tick's command share that is not idle,
// per resource: the attribution booked the whole host energy as active;
// with idle power p the active energy is host − min(host, p·interval),
// split in the same proportions (idle weighs on every resource alike, as
// in the attribution).
func activeShare(t tick, p units.Power) snapshot.ResourceEnergy {
	var out snapshot.ResourceEnergy
	if t.host == 0 {
		return out
	}
	idle := min(p.EnergyOver(t.interval), t.host)
	for r, e := range t.res {
		out[r] = units.Energy(float64(e) * float64(t.host-idle) / float64(t.host))
	}
	return out
}

// withoutIdle is the command's energy per resource with idle power p
// taken out.
func withoutIdle(ticks []tick, p units.Power) snapshot.ResourceEnergy {
	var e snapshot.ResourceEnergy
	for _, t := range ticks {
		for r, x := range activeShare(t, p) {
			e[r] += x
		}
	}
	return e
}

// series is the run's power series, with idle p taken out when scale, and
// its peak: the highest power over a full step (an interval at least half
// of step long). A shorter interval (the few milliseconds from the last
// tick to the command's exit) is in the series but never the peak: a
// fraction of a joule over 5 ms reads as watts the command never drew for
// any step. With no full step at all the peak is 0, and the caller raises
// it to the run's average.
func series(ticks []tick, start time.Time, step time.Duration, p units.Power, scale bool) ([]Point, units.Power) {
	var pts []Point
	var peak units.Power
	for _, t := range ticks {
		e := t.cmd()
		if scale {
			e = activeShare(t, p).Sum()
		}
		w := units.PowerOf(e, t.interval)
		if t.interval >= step/2 {
			peak = max(peak, w)
		}
		pts = append(pts, Point{Seconds: t.time.Sub(start).Seconds(), PowerWatts: w.Watts(), HostPowerWatts: units.PowerOf(t.host, t.interval).Watts()})
	}
	return pts, peak
}

// cpuPrice is the run's energy per busy CPU-second above idle power p:
// Σ (host − p·interval) ÷ Σ busy CPU-seconds over its ticks, in joules
// per CPU-second; 0 when the ticks held no energy above idle or no busy
// time.
func cpuPrice(ticks []tick, p units.Power) float64 {
	var above, cpu float64
	for _, t := range ticks {
		if t.interval <= 0 {
			continue
		}
		idle := min(p.EnergyOver(t.interval), t.host)
		above += (t.host - idle).Joules()
		cpu += t.point.busy * t.interval.Seconds()
	}
	if cpu <= 0 || above <= 0 {
		return 0
	}
	return above / cpu
}

// baselinePrice is cpuPrice over the baseline's points: energy above idle
// power p per busy CPU-second before the command started. It prices a
// command so short and quiet that the host's CPUs hardly moved while it
// ran (its few milliseconds of CPU fell between /proc/stat's 10 ms ticks).
func baselinePrice(base []baselinePoint, p units.Power) float64 {
	var above, cpu float64
	for _, b := range base {
		secs := b.seconds
		if secs <= 0 {
			secs = 1
		}
		above += max(b.watts-p.Watts(), 0) * secs
		cpu += b.busy * secs
	}
	if cpu <= 0 || above <= 0 {
		return 0
	}
	return above / cpu
}

// lowestPower is the lowest host power over the baseline and the run's
// ticks: a lower bound of the idle power.
func lowestPower(base []baselinePoint, ticks []tick) units.Power {
	low := math.Inf(1)
	for _, p := range base {
		low = math.Min(low, p.watts)
	}
	for _, t := range ticks {
		if t.interval > 0 {
			low = math.Min(low, t.point.watts)
		}
	}
	if math.IsInf(low, 1) {
		return 0
	}
	return units.FromWatts(low)
}
