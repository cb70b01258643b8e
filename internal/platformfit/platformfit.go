// Package platformfit learns, from a wall meter, how much of a machine's
// platform power each resource's activity costs.
//
// Where a wall meter (Redfish, an ACPI power meter, psys) reads more than
// the RAPL zones, the difference — the remainder P_rest = wall − Σ RAPL — is
// the board, the power supply's losses, fans, disks and NICs. Published
// per-device figures (a disk's idle and active watts, a NIC's) are only a
// starting point: real devices differ from any table. This package fits,
// over a sliding window of ticks,
//
//	P_rest = b0 + Σ_i b_i · x_i
//
// where x_i is an activity in [0, 1] or thereabouts (a device class's
// active fraction from io_ticks, a link's utilisation, the CPU's), by ridge
// regression regularised towards a prior: each coefficient has a prior value
// (the published figure) and a prior standard deviation (how far the table
// may be wrong). In Bayesian terms the fit is the posterior mean under a
// Gaussian prior and Gaussian noise whose variance is estimated from the
// window's residuals, so a coefficient moves from its prior exactly as far
// as the data pull it, and its standard error is the posterior's.
//
// Three rules keep it honest:
//   - A coefficient whose regressor barely moved in the window (standard
//     deviation below Options.MinSpread) is not learned: it stays at its
//     prior, with the prior's standard deviation as its uncertainty. A disk
//     that never works says nothing of its active power, and a constant
//     activity is indistinguishable from the intercept.
//   - Before Options.MinSamples ticks, nothing is learned.
//   - No coefficient is negative: a term the unconstrained fit would put
//     below zero is held at zero and the others refitted without it (an
//     active-set loop, at most one pass per term).
//
// The intercept b0 is the remainder's power with every activity at zero: the
// machine's idle platform power. It is estimable on a host that never goes
// quiet, as long as its activities vary, which is what a caller needs where
// the idle baseline is otherwise never observed.
//
// The package is pure: no I/O, no clock, no goroutines; it imports nothing
// of the project. A Learner is not safe for concurrent use.
//
// Cost (BenchmarkObserveAndFit, on 2 cores shared with other jobs): one
// Observe and one Coefficients over a full 300-tick window of three
// activities took 34 to 75 µs in two runs, 8 allocations (848 B); Observe
// alone is O(terms) and allocates nothing.
//
// Use:
//
//	l, err := platformfit.New(platformfit.Prior{
//		Intercept: platformfit.Term{Name: "idle", Value: 60, SD: 30},
//		Terms: []platformfit.Term{
//			{Name: "storage_ssd", Value: 4, SD: 4},
//			{Name: "network", Value: 3, SD: 3},
//			{Name: "cpu", Value: 20, SD: 20},
//		},
//	}, platformfit.Options{Window: 300})
//	...
//	err = l.Observe(wallW-raplW, []float64{ssdActive, netUtil, cpuUtil})
//	fit := l.Coefficients()
//	fit.Intercept.Value, fit.Terms[0].Value, fit.Terms[0].StdErr, fit.Terms[0].Status
package platformfit

import (
	"errors"
	"fmt"
	"math"
)

// Term is one coefficient's prior: its published value and how far it may
// be wrong (one standard deviation). Value ≥ 0, SD > 0; SD may be +Inf (no
// pull towards the prior at all).
type Term struct {
	Name  string
	Value float64 // watts per unit of activity (the intercept: watts)
	SD    float64 // the prior's standard deviation, same unit
}

// Prior holds the intercept's prior (the idle platform power) and one Term
// per activity, in the order Observe receives the activities.
type Prior struct {
	Intercept Term
	Terms     []Term
}

// Options tune the window and the rules. Zero values take the defaults.
type Options struct {
	// Window is how many ticks the fit looks back over (default 300).
	Window int
	// MinSamples is how many ticks are needed before anything is learned
	// (default 30, and never fewer than the number of terms + 2).
	MinSamples int
	// MinSpread is the least standard deviation of an activity over the
	// window for its coefficient to be learned (default 0.05: five
	// percentage points of active time or utilisation).
	MinSpread float64
	// NoiseFloor is the least noise standard deviation assumed, in watts
	// (default 0.5): a meter's resolution, so that a window that happens to
	// fit exactly does not make the prior weightless.
	NoiseFloor float64
}

const (
	defaultWindow     = 300
	defaultMinSamples = 30
	defaultMinSpread  = 0.05
	defaultNoiseFloor = 0.5
	noiseIterations   = 4
)

// Status says where a coefficient's value came from.
type Status uint8

const (
	// Learned: fitted from the window (pulled towards its prior as far as
	// the data's noise allows).
	Learned Status = iota
	// PriorFewSamples: the window holds fewer than MinSamples ticks.
	PriorFewSamples
	// PriorLowVariation: the regressor's spread in the window is below
	// MinSpread; the coefficient stays at its prior.
	PriorLowVariation
	// ClampedZero: the fit would make the coefficient negative; it is held
	// at zero.
	ClampedZero
	// PriorIllConditioned: the system could not be solved (only with
	// infinite prior SDs and collinear regressors); the prior is kept.
	PriorIllConditioned
)

var statusNames = [...]string{"learned", "prior: too few samples", "prior: too little variation", "clamped at zero", "prior: ill-conditioned"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Coef is one fitted coefficient.
type Coef struct {
	Name   string
	Value  float64 // watts per unit of activity (the intercept: watts); never negative
	StdErr float64 // one standard deviation of Value (the posterior's, or the prior's where not learned)
	Prior  float64
	Status Status
}

// Fit is the result of Coefficients.
type Fit struct {
	Intercept Coef // the idle platform power, W
	Terms     []Coef
	Samples   int     // ticks in the window
	NoiseSD   float64 // the residuals' standard deviation, W (0 before MinSamples)
}

// Predict returns the fitted remainder's power for the activities x (the
// same order as the prior's Terms); extra or missing activities count as 0.
func (f Fit) Predict(x []float64) float64 {
	p := f.Intercept.Value
	for i, t := range f.Terms {
		if i < len(x) {
			p += t.Value * x[i]
		}
	}
	return p
}

// Learner keeps the window and fits on demand.
type Learner struct {
	prior Prior
	opts  Options
	k     int
	// ring of samples: ys[i], xs[i*k:(i+1)*k]
	ys    []float64
	xs    []float64
	next  int
	count int
}

// Errors Observe and New return.
var (
	ErrDimension = errors.New("platformfit: activity vector has the wrong length")
	ErrValue     = errors.New("platformfit: value not finite or negative")
)

// New validates the prior and options and returns an empty learner.
func New(prior Prior, opts Options) (*Learner, error) {
	if err := checkTerm(prior.Intercept, "intercept"); err != nil {
		return nil, err
	}
	for i, t := range prior.Terms {
		if err := checkTerm(t, fmt.Sprintf("term %d", i)); err != nil {
			return nil, err
		}
	}
	k := len(prior.Terms)
	if opts.Window == 0 {
		opts.Window = defaultWindow
	}
	if opts.MinSamples == 0 {
		opts.MinSamples = defaultMinSamples
	}
	if opts.MinSamples < k+2 {
		opts.MinSamples = k + 2
	}
	if opts.MinSpread == 0 {
		opts.MinSpread = defaultMinSpread
	}
	if opts.NoiseFloor == 0 {
		opts.NoiseFloor = defaultNoiseFloor
	}
	switch {
	case opts.Window < 0 || opts.MinSamples < 0:
		return nil, fmt.Errorf("platformfit: window %d and min samples %d must be positive", opts.Window, opts.MinSamples)
	case opts.MinSamples > opts.Window:
		return nil, fmt.Errorf("platformfit: min samples %d exceed the window of %d", opts.MinSamples, opts.Window)
	case !(opts.MinSpread > 0) || math.IsInf(opts.MinSpread, 0):
		return nil, fmt.Errorf("platformfit: min spread %v must be positive and finite", opts.MinSpread)
	case !(opts.NoiseFloor > 0) || math.IsInf(opts.NoiseFloor, 0):
		return nil, fmt.Errorf("platformfit: noise floor %v must be positive and finite", opts.NoiseFloor)
	}
	p := Prior{Intercept: prior.Intercept, Terms: append([]Term(nil), prior.Terms...)}
	return &Learner{
		prior: p, opts: opts, k: k,
		ys: make([]float64, opts.Window),
		xs: make([]float64, opts.Window*k),
	}, nil
}

func checkTerm(t Term, what string) error {
	if math.IsNaN(t.Value) || math.IsInf(t.Value, 0) || t.Value < 0 {
		return fmt.Errorf("platformfit: %s %q prior value %v: %w", what, t.Name, t.Value, ErrValue)
	}
	if math.IsNaN(t.SD) || !(t.SD > 0) {
		return fmt.Errorf("platformfit: %s %q prior SD %v must be positive (+Inf for none)", what, t.Name, t.SD)
	}
	return nil
}

// Observe adds one tick: p, the remainder's power in watts (wall minus the
// RAPL zones; it may be negative by meter noise, but must be finite), and
// x, the activities in the prior's order (each finite and ≥ 0). A bad tick
// is refused with an error and leaves the window unchanged.
func (l *Learner) Observe(p float64, x []float64) error {
	if len(x) != l.k {
		return fmt.Errorf("%w: %d activities, the prior has %d terms", ErrDimension, len(x), l.k)
	}
	if math.IsNaN(p) || math.IsInf(p, 0) {
		return fmt.Errorf("%w: power %v", ErrValue, p)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("%w: activity %d (%s) = %v", ErrValue, i, l.prior.Terms[i].Name, v)
		}
	}
	l.ys[l.next] = p
	copy(l.xs[l.next*l.k:], x)
	l.next = (l.next + 1) % l.opts.Window
	if l.count < l.opts.Window {
		l.count++
	}
	return nil
}

// Samples returns how many ticks the window holds.
func (l *Learner) Samples() int { return l.count }

// Reset empties the window (after a change of hardware, say).
func (l *Learner) Reset() { l.next, l.count = 0, 0 }
