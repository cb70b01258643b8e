package attribution

import (
	"fmt"
	"math"
	"strings"

	"github.com/wattlens/wattlens/internal/platformfit"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// IdleFitted is the idle origin of a baseline taken from the intercept of
// the regression of the host's power on its activities (platform.go), on
// a host that has not yet gone quiet.
const IdleFitted = "fitted"

// Platform configures the split of a meter's remainder (the platform: a
// wall meter's or psys's energy beyond the RAPL zones inside it) among
// storage, network and the rest, learned from the meter, and the fitted
// idle baseline. The figures are priors only (platformfit).
type Platform struct {
	// Devices are the disks and NICs whose activity comes in
	// Sample.Activity; each is a term, its prior the active increment of
	// its class (Active − Idle, watts at full activity).
	Devices []power.Device
	// Idle and CPU are the prior of the remainder's idle power and of its
	// rise from idle to full CPU load (W); WallIdle and WallCPU the same
	// for the whole host (the fitted idle's regression).
	Idle, CPU, WallIdle, WallCPU float64
	// Window is how many ticks the fits look back over (0: platformfit's
	// default, 300).
	Window int
}

// minPriorSD is the least prior standard deviation of a coefficient, in
// watts: a published figure of 0 W must still be allowed to move.
const minPriorSD = 2.0

// minIdleSD is the least prior standard deviation of an intercept (an idle
// power), in watts: the model's idle is that of the servers it was fitted
// to, and a board, its fans and its power supply idle anywhere from some
// ten to a few hundred watts, so the prior only steadies a window that
// says little and never holds the fit back from what the meter shows.
const minIdleSD = 50.0

// platformFit learns the remainder's coefficients and the host's idle.
type platformFit struct {
	cfg        Platform
	rest, host *platformfit.Learner
	last       map[string]uint64 // each device's counter at the last tick
	x          []float64         // this tick's activities: devices, then CPU
	xok        bool
	fit        platformfit.Fit // the remainder's, from the ticks before this one
	hostFit    platformfit.Fit
	hostFitted bool
	hostAge    int    // ticks observed by the host fit since it was last fitted
	describe   string // the fit's Method clause, kept until the fit changes
}

// hostRefit is how many ticks the host's idle fit waits between fits: the
// idle power moves slowly, and this keeps the per-tick cost to about one
// fit (the remainder's).
const hostRefit = 10

func newPlatformFit(cfg Platform) (*platformFit, error) {
	terms := make([]platformfit.Term, 0, len(cfg.Devices)+1)
	wall := make([]platformfit.Term, 0, len(cfg.Devices)+1)
	for _, d := range cfg.Devices {
		inc := max(d.Active-d.Idle, 0)
		t := platformfit.Term{Name: d.ID, Value: inc, SD: max(inc, minPriorSD)}
		terms, wall = append(terms, t), append(wall, t)
	}
	terms = append(terms, platformfit.Term{Name: "cpu", Value: cfg.CPU, SD: max(cfg.CPU, minPriorSD)})
	wall = append(wall, platformfit.Term{Name: "cpu", Value: cfg.WallCPU, SD: max(cfg.WallCPU, minPriorSD)})
	opts := platformfit.Options{Window: cfg.Window}
	rest, err := platformfit.New(platformfit.Prior{
		Intercept: platformfit.Term{Name: "idle", Value: cfg.Idle, SD: max(cfg.Idle, minIdleSD)}, Terms: terms}, opts)
	if err != nil {
		return nil, err
	}
	host, err := platformfit.New(platformfit.Prior{
		Intercept: platformfit.Term{Name: "idle", Value: cfg.WallIdle, SD: max(cfg.WallIdle, minIdleSD)}, Terms: wall}, opts)
	if err != nil {
		return nil, err
	}
	f := &platformFit{cfg: cfg, rest: rest, host: host, last: map[string]uint64{}, x: make([]float64, len(terms))}
	f.fit = rest.Coefficients()
	return f, nil
}

// activities sets f.x from the device counters since the last tick and
// the utilisation; xok is false when the utilisation or the interval is
// unknown. A device not read now or then, or whose counter went back (a
// disk re-plugged, an interface re-created), counts as idle.
func (f *platformFit) activities(cur power.Activity, dtSec, util float64, utilOK bool) {
	f.xok = utilOK && dtSec > 0
	for i, d := range f.cfg.Devices {
		v, ok := cur[d.ID]
		last, had := f.last[d.ID]
		f.x[i] = 0
		if ok && had && v >= last {
			f.x[i] = d.ActiveFraction(v-last, dtSec)
		}
	}
	f.x[len(f.x)-1] = util
	clear(f.last)
	for k, v := range cur {
		f.last[k] = v
	}
}

// split moves, of rest (the remainder's energy in the platform pool), each
// device's active energy b_i·x_i·Δt (b_i as learned so far: its prior
// until it is learned) to its resource: Σ parts never
// exceeds rest (they are scaled down to it when they would), and what is
// left stays the platform's. It returns the energy moved, which is active
// by construction and bears no idle.
func (f *platformFit) split(res *snapshot.ResourceEnergy, rest units.Energy, dtSec float64) snapshot.ResourceEnergy {
	var moved snapshot.ResourceEnergy
	if !f.xok || rest == 0 || len(f.cfg.Devices) == 0 {
		return moved
	}
	w := make([]uint64, len(f.cfg.Devices))
	var sum uint64
	for i := range f.cfg.Devices {
		w[i] = uint64(math.Round(f.fit.Terms[i].Value * f.x[i] * dtSec * 1e6))
		sum += w[i]
	}
	if sum == 0 {
		return moved
	}
	parts := w
	if sum > uint64(rest) {
		parts = make([]uint64, len(w))
		split(uint64(rest), w, parts, nil)
	}
	for i, d := range f.cfg.Devices {
		moved[d.Resource.Index()] += units.Energy(parts[i])
	}
	for r, e := range moved {
		res[r] += e
		res[resPlatform] -= e
	}
	return moved
}

// learn feeds this tick to the fits (rest: the remainder's power, when
// there is one) and refits: the remainder's every tick, the host's every
// hostRefit ticks and only while the quiet idle learner has seen nothing
// (needHost).
func (f *platformFit) learn(rest float64, haveRest bool, host float64, needHost bool) {
	if !f.xok {
		return
	}
	if haveRest && f.rest.Observe(rest, f.x) == nil {
		f.fit = f.rest.Coefficients()
		f.describe = ""
	}
	if f.host.Observe(host, f.x) != nil {
		return
	}
	f.hostAge++
	switch {
	case !needHost:
		f.hostFitted = false
	case !f.hostFitted || f.hostAge >= hostRefit || f.hostFit.Intercept.Status != platformfit.Learned:
		f.hostFit, f.hostFitted, f.hostAge = f.host.Coefficients(), true, 0
	}
}

// idle returns the fitted idle power of the whole host, ok when the host
// regression has enough ticks.
func (f *platformFit) idle() (units.Power, bool) {
	if !f.hostFitted || f.hostFit.Intercept.Status != platformfit.Learned {
		return 0, false
	}
	return units.FromWatts(f.hostFit.Intercept.Value), true
}

// snapshot returns the fit as the snapshot shows it.
func (f *platformFit) snapshot() *snapshot.PlatformFit {
	coef := func(c platformfit.Coef, res power.Resource) snapshot.PlatformCoef {
		return snapshot.PlatformCoef{Term: c.Name, Resource: res, Value: c.Value, StdErr: c.StdErr, Prior: c.Prior, Status: c.Status.String()}
	}
	out := &snapshot.PlatformFit{Samples: f.fit.Samples, NoiseSD: f.fit.NoiseSD,
		Intercept: coef(f.fit.Intercept, power.ResourcePlatform)}
	out.Terms = make([]snapshot.PlatformCoef, len(f.fit.Terms))
	for i, c := range f.fit.Terms {
		res := power.ResourcePlatform
		if i < len(f.cfg.Devices) {
			res = f.cfg.Devices[i].Resource
		}
		out.Terms[i] = coef(c, res)
	}
	return out
}

// method is the fit's clause of the snapshot's Method.
func (f *platformFit) method() string {
	if f.describe != "" {
		return f.describe
	}
	var b strings.Builder
	fmt.Fprintf(&b, "platform (meter remainder) split learned from the meter over %d ticks (residual noise %.2f W), ridge regression towards published figures: idle %.2f ± %.2f W (%s)",
		f.fit.Samples, f.fit.NoiseSD, f.fit.Intercept.Value, f.fit.Intercept.StdErr, f.fit.Intercept.Status)
	for _, c := range f.fit.Terms {
		fmt.Fprintf(&b, ", %s %.2f ± %.2f W at full activity (prior %.2f, %s)", c.Name, c.Value, c.StdErr, c.Prior, c.Status)
	}
	f.describe = b.String()
	return f.describe
}

// joinMethod appends clause to the sensor's method text.
func joinMethod(method, clause string) string {
	if method == "" {
		return clause
	}
	return method + "; " + clause
}

// CheckPlatform reports whether New accepts p.
func CheckPlatform(p Platform) error {
	_, err := newPlatformFit(p)
	return err
}

// PlatformPriors returns the fit p starts from, before any tick: every
// coefficient at its prior with the prior's standard deviation (what
// `wattlens info` shows).
func PlatformPriors(p Platform) (*snapshot.PlatformFit, error) {
	f, err := newPlatformFit(p)
	if err != nil {
		return nil, err
	}
	return f.snapshot(), nil
}
