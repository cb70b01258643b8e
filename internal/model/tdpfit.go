package model

import "math"

// TDPFit estimates the TDP per socket of a CPU that has no table row from
// what its name and /proc/cpuinfo still tell:
//
//	ln TDP = Base[group] + Cores · ln(cores per socket) + GHz · ln(base GHz) + LowPower · [low-power part]
//
// group is the architecture's Arch.Idle group (its generation). It is
// fitted by least squares to the published TDPs of processors that are not
// among the validation servers (FitTDP, in cmd/modelerror), so the fallback never sees the
// CPUs it is judged on.
type TDPFit struct {
	Cores, GHz, LowPower float64
	// Base is the intercept per group; "default" for groups with too
	// few processors.
	Base map[string]float64
	// LogGHz is the mean ln(base GHz) per group, used when the
	// frequency is unknown.
	LogGHz map[string]float64
	// N is the number of processors fitted.
	N int
}

// Estimate returns the TDP per socket of a CPU of the given group.
// ghz ≤ 0 means unknown.
func (f TDPFit) Estimate(group string, cores, ghz float64, low bool) float64 {
	b, ok := f.Base[group]
	if !ok {
		b = f.Base["default"]
	}
	lg := math.Log(ghz)
	if ghz <= 0 {
		if lg, ok = f.LogGHz[group]; !ok {
			lg = f.LogGHz["default"]
		}
	}
	x := b + f.Cores*math.Log(math.Max(cores, 1)) + f.GHz*lg
	if low {
		x += f.LowPower
	}
	return math.Exp(x)
}

// TDPGroup is the TDP fallback's generation group of an architecture: its
// Arch.Idle group, except that the Bulldozer/Piledriver Opterons share the
// K10 ones' (the same G34/C32 sockets and TDP classes, 2010–2013), while
// their idle fractions are fitted apart: a K10's idle is far higher.
func TDPGroup(a Arch) string {
	if a.Idle == "amd-opteron-bd" {
		return "amd-opteron"
	}
	return a.Idle
}
