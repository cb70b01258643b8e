package model

import "math"

// Calibrator fits a straight line power = idle + slope × utilisation to
// pairs of (utilisation, measured watts), for example the estimate's own
// utilisation against RAPL package power on a machine that has both, and
// reports how well the line explains them. It keeps the most recent
// samples only, so it follows a machine whose behaviour changes.
type Calibrator struct {
	max     int
	samples []calSample
	next    int
}

type calSample struct{ u, w float64 }

// DefaultCalibratorSize is the number of samples a zero Calibrator keeps:
// an hour at the default 2 s step.
const DefaultCalibratorSize = 1800

// NewCalibrator returns a Calibrator keeping the last size samples
// (DefaultCalibratorSize when size ≤ 0).
func NewCalibrator(size int) *Calibrator {
	if size <= 0 {
		size = DefaultCalibratorSize
	}
	return &Calibrator{max: size}
}

// Add records one sample. util is 0..1; samples with a utilisation outside
// 0..1, negative or non-finite watts are ignored.
func (c *Calibrator) Add(util, watts float64) {
	if !(util >= 0 && util <= 1) || !(watts >= 0) || math.IsInf(watts, 0) {
		return
	}
	if c.max == 0 {
		c.max = DefaultCalibratorSize
	}
	s := calSample{util, watts}
	if len(c.samples) < c.max {
		c.samples = append(c.samples, s)
		return
	}
	c.samples[c.next] = s
	c.next = (c.next + 1) % c.max
}

// Len returns the number of samples held.
func (c *Calibrator) Len() int { return len(c.samples) }

// minSpread is the least standard deviation of utilisation that lets the
// slope be told from noise.
const minSpread = 0.02

// Fit returns the least-squares idle (watts at zero utilisation) and slope
// (watts per unit of utilisation), and the mean absolute percentage error
// of the line over the samples. ok is false with fewer than two samples,
// when the utilisation hardly varied (then the slope is unknown), or when
// the fit is not physical (negative idle or slope).
func (c *Calibrator) Fit() (idle, slope, mape float64, ok bool) {
	n := float64(len(c.samples))
	if n < 2 {
		return 0, 0, 0, false
	}
	var su, sw, suu, suw float64
	for _, s := range c.samples {
		su += s.u
		sw += s.w
		suu += s.u * s.u
		suw += s.u * s.w
	}
	mu, mw := su/n, sw/n
	varU := suu/n - mu*mu
	if varU < minSpread*minSpread {
		return 0, 0, 0, false
	}
	slope = (suw/n - mu*mw) / varU
	idle = mw - slope*mu
	mape = c.mape(idle, slope)
	return idle, slope, mape, idle >= 0 && slope >= 0
}

func (c *Calibrator) mape(idle, slope float64) float64 {
	sum, n := 0.0, 0
	for _, s := range c.samples {
		if s.w > 0 {
			sum += math.Abs(idle+slope*s.u-s.w) / s.w
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return 100 * sum / float64(n)
}
