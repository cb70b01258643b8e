// Package units holds the types in which energy and power cross package
// boundaries. Energy is counted in microjoules (the unit of the kernel's
// powercap energy_uj files) and power in microwatts; conversion to joules
// and watts happens only where figures leave the program.
package units

import (
	"math"
	"time"
)

// Energy is an amount of energy in microjoules.
type Energy uint64

// Power is a rate of energy in microwatts.
type Power uint64

// Common magnitudes.
const (
	Microjoule Energy = 1
	Millijoule Energy = 1000
	Joule      Energy = 1_000_000

	Microwatt Power = 1
	Milliwatt Power = 1000
	Watt      Power = 1_000_000
)

// Joules returns e in joules.
func (e Energy) Joules() float64 { return float64(e) / 1e6 }

// Microjoules returns e as a plain integer count of microjoules.
func (e Energy) Microjoules() uint64 { return uint64(e) }

// FromJoules converts joules to Energy, rounding to the nearest microjoule.
// Negative and non-finite values give zero.
func FromJoules(j float64) Energy {
	if !(j > 0) || math.IsInf(j, 0) {
		return 0
	}
	return Energy(math.Round(j * 1e6))
}

// Watts returns p in watts.
func (p Power) Watts() float64 { return float64(p) / 1e6 }

// Microwatts returns p as a plain integer count of microwatts.
func (p Power) Microwatts() uint64 { return uint64(p) }

// FromWatts converts watts to Power, rounding to the nearest microwatt.
// Negative and non-finite values give zero.
func FromWatts(w float64) Power {
	if !(w > 0) || math.IsInf(w, 0) {
		return 0
	}
	return Power(math.Round(w * 1e6))
}

// PowerOf returns the average power of energy e spent over d.
// A non-positive duration gives zero.
func PowerOf(e Energy, d time.Duration) Power {
	if d <= 0 {
		return 0
	}
	return Power(math.Round(float64(e) * float64(time.Second) / float64(d)))
}

// EnergyOver returns the energy that power p spends over d.
func (p Power) EnergyOver(d time.Duration) Energy {
	if d <= 0 {
		return 0
	}
	return Energy(math.Round(float64(p) * d.Seconds()))
}
