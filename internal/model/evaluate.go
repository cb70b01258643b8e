package model

import (
	"fmt"
	"hash/fnv"
	"math"
)

// Level is the mean absolute percentage error of each approach at one
// target load, over N machines.
type Level struct {
	Load                 float64
	N                    int
	Model, TDPRatio, CCF float64
}

// Report is the outcome of Evaluate.
type Report struct {
	// Curves: full load curves, every machine held out of the fit (the
	// idle, memory and board coefficients never saw it; its shape is
	// fitted leave-one-out).
	Curves []Level
	// Results: idle and 100 % of the results export, 5-fold
	// cross-validated by system name.
	Results []Level
	// ByGroup: the cross-validated results per architecture group (Arch.Idle),
	// idle and full load together.
	ByGroup []GroupError
	// NCurves and NResults count the machines evaluated; Skipped lists
	// those that were not, with the reason.
	NCurves, NResults int
	Skipped           []string
	// Params are fitted on all results and curves: what DefaultParams
	// should hold.
	Params Params
}

// GroupError is the mean absolute percentage error of each approach over
// the idle and full-load power of one architecture group's results.
type GroupError struct {
	Group                string
	N                    int // results (each counts twice: idle and full)
	Model, TDPRatio, CCF float64
}

// folds is the number of cross-validation folds over the results.
const folds = 5

// Evaluate measures the model's error against published results, next to
// the fixed TDP-ratio curve and CCF's linear per-thread model. base gives
// the coefficients that are not fitted.
func Evaluate(results, curves []Sample, base Params) Report {
	var rep Report
	results = rep.keep(results)
	curves = rep.keep(curves)
	rep.NResults, rep.NCurves = len(results), len(curves)
	rep.Params = Fit(results, curves, base)
	rep.Results = rep.crossValidate(results, base)
	rep.Curves = rep.leaveOneOut(curves)
	return rep
}

// keep drops samples whose CPU has no table row: neither this model nor
// the TDP-ratio baseline has a TDP for them.
func (rep *Report) keep(ss []Sample) []Sample {
	var out []Sample
	for _, s := range ss {
		if Lookup(Query{Name: s.Machine.CPU}).Exact {
			out = append(out, s)
			continue
		}
		rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s (%s): CPU %q not in table", s.System, s.Ref, s.Machine.CPU))
	}
	return out
}

func (rep *Report) crossValidate(results []Sample, base Params) []Level {
	acc := newAccumulator()
	groups := map[string]*accumulator{}
	for k := 0; k < folds; k++ {
		var train, test []Sample
		for _, s := range results {
			if fold(s.System) == k {
				test = append(test, s)
			} else {
				train = append(train, s)
			}
		}
		p := fitLinear(train, base)
		p.Shape = rep.Params.Shape // idle and full load do not depend on the shape
		for _, s := range test {
			md := ForParams(s.Machine, p)
			acc.add(s, md)
			g := md.match.Arch.Idle
			if groups[g] == nil {
				groups[g] = newAccumulator()
			}
			groups[g].add(s, md)
		}
	}
	for _, g := range sortedKeys(groups) {
		m := Mean(groups[g].levels())
		rep.ByGroup = append(rep.ByGroup, GroupError{Group: g, N: m.N, Model: m.Model, TDPRatio: m.TDPRatio, CCF: m.CCF})
	}
	return acc.levels()
}

func (rep *Report) leaveOneOut(curves []Sample) []Level {
	acc := newAccumulator()
	for i, s := range curves {
		others := append(append([]Sample(nil), curves[:i]...), curves[i+1:]...)
		p := fitShapes(others, rep.Params)
		acc.add(s, ForParams(s.Machine, p))
	}
	return acc.levels()
}

func fold(system string) int {
	h := fnv.New32a()
	h.Write([]byte(system))
	return int(h.Sum32() % folds)
}

// accumulator sums absolute percentage errors per load level.
type accumulator struct {
	sum   map[float64]*[3]float64
	n     map[float64]int
	loads []float64
}

func newAccumulator() *accumulator {
	return &accumulator{sum: map[float64]*[3]float64{}, n: map[float64]int{}}
}

func (a *accumulator) add(s Sample, md Model) {
	for i, load := range s.Loads {
		y := s.Watts[i]
		tdp, ok1 := TDPRatioWatts(s.Machine, load)
		ccf, ok2 := CCFLinearWatts(s.Machine, load)
		if y <= 0 || !ok1 || !ok2 {
			continue
		}
		if a.sum[load] == nil {
			a.sum[load] = &[3]float64{}
			a.loads = append(a.loads, load)
		}
		a.sum[load][0] += ape(md.Power(load/100).Wall, y)
		a.sum[load][1] += ape(tdp, y)
		a.sum[load][2] += ape(ccf, y)
		a.n[load]++
	}
}

func (a *accumulator) levels() []Level {
	var out []Level
	for _, l := range sortedCopy(a.loads) {
		n := float64(a.n[l])
		s := a.sum[l]
		out = append(out, Level{Load: l, N: a.n[l], Model: s[0] / n, TDPRatio: s[1] / n, CCF: s[2] / n})
	}
	return out
}

func ape(pred, y float64) float64 { return 100 * math.Abs(pred-y) / y }

// Mean returns the mean of each approach's error over the levels.
func Mean(levels []Level) Level {
	var m Level
	for _, l := range levels {
		m.Model += l.Model / float64(len(levels))
		m.TDPRatio += l.TDPRatio / float64(len(levels))
		m.CCF += l.CCF / float64(len(levels))
		m.N = max(m.N, l.N)
	}
	m.Load = -1
	return m
}
