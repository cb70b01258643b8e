package main

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"

	"github.com/wattlens/wattlens/internal/model"
)

// Level is the mean absolute percentage error (MAPE) of each approach over
// a set of predictions (one target load, or a group of results). The model
// is judged on all N; the TDP-ratio curve only where the CPU's true TDP is
// known (NTDP, with the model's error on those same servers in ModelTDP);
// CCF's linear model only where it has coefficients (NCCF).
type Level struct {
	Load          float64
	N             int
	Model         float64
	NTDP          int
	ModelTDP      float64
	TDPRatio      float64
	NCCF          int
	ModelCCF, CCF float64
	sumM, sumMT   float64
	sumT, sumMC   float64
	sumC          float64
}

// Row is a Level for a named part of the results.
type Row struct {
	Label string
	Level
}

// Report is the outcome of Evaluate.
type Report struct {
	// Curves: full load curves, every machine held out of the fit (the
	// idle, memory and board coefficients never saw it; its shape is
	// fitted leave-one-out).
	Curves []Level
	// Results: idle and 100 % of every single-node result, 5-fold
	// cross-validated by system name.
	Results []Level
	// Overall pools the idle and full-load predictions of Results.
	Overall Level
	// ByEra, ByTable and ByGroup split Overall by year of publication,
	// by whether the CPU has a table row, and by architecture group.
	ByEra, ByTable, ByGroup []Row
	// NCurves and NResults count the machines evaluated; NTotal the rows
	// read; Excluded lists the others with the reason.
	NCurves, NResults, NTotal int
	Excluded                  []string
	// Params are fitted on all results and curves: what DefaultParams
	// should hold.
	Params model.Params
	// Series is the whole estimate over time against a wall meter
	// (EvaluateTicks), when its data were given.
	Series *SeriesReport
	// DIMM is the memory term against measured DIMM power
	// (EvaluateDIMM), when its data were given.
	DIMM []DIMMRow
}

// folds is the number of cross-validation folds over the results.
const folds = 5

// Eras are the spans of publication years the report splits by.
var Eras = []struct {
	Label    string
	From, To int
}{{"2007–2011", 2007, 2011}, {"2012–2016", 2012, 2016}, {"2017–2021", 2017, 2021}, {"2022–2026", 2022, 2026}}

// Evaluate measures the model's error against published results, next to
// the fixed TDP-ratio curve given the true TDP and CCF's linear per-thread
// model. specs are the published TDPs the fallback is fitted to; base gives
// the coefficients that are not fitted.
func Evaluate(results, curves []Sample, specs []TDPSpec, base model.Params) Report {
	rep := Report{NTotal: len(results)}
	results = rep.keep(results)
	rep.NResults, rep.NCurves = len(results), len(curves)
	rep.Params = Fit(results, curves, specs, base)
	rep.crossValidate(results, base)
	rep.Curves = rep.leaveOneOut(curves)
	return rep
}

// keep drops the samples marked for exclusion, recording why.
func (rep *Report) keep(ss []Sample) []Sample {
	var out []Sample
	for _, s := range ss {
		if s.Exclude == "" {
			out = append(out, s)
			continue
		}
		rep.Excluded = append(rep.Excluded, fmt.Sprintf("%s (%s, %s): %s", s.System, s.Machine.CPU, s.Ref, s.Exclude))
	}
	return out
}

func (rep *Report) crossValidate(results []Sample, base model.Params) {
	perLoad := map[float64]*Level{}
	all := &Level{}
	era, table, group := map[string]*Level{}, map[string]*Level{}, map[string]*Level{}
	for k := 0; k < folds; k++ {
		var train, test []Sample
		for _, s := range results {
			if fold(s.System) == k {
				test = append(test, s)
			} else {
				train = append(train, s)
			}
		}
		p := base.Clone()
		p.TDP = rep.Params.TDP // fitted to TDPs of other CPUs than these
		p = fitLinear(train, p)
		p.Shape = rep.Params.Shape // idle and full load do not depend on the shape
		for _, s := range test {
			md := model.ForParams(s.Machine, p)
			tab := "CPU not in table"
			if md.Match().Exact {
				tab = "CPU in table"
			}
			for i, load := range s.Loads {
				if perLoad[load] == nil {
					perLoad[load] = &Level{Load: load}
				}
				for _, l := range []*Level{perLoad[load], all, levelOf(era, eraOf(s.Year)), levelOf(table, tab), levelOf(group, md.Match().Arch.Idle)} {
					l.add(s, md, i)
				}
			}
		}
	}
	for _, l := range sortedLoads(perLoad) {
		rep.Results = append(rep.Results, l.done())
	}
	rep.Overall = all.done()
	for _, e := range Eras {
		if l, ok := era[e.Label]; ok {
			rep.ByEra = append(rep.ByEra, Row{e.Label, l.done()})
		}
	}
	rep.ByTable = rows(table)
	rep.ByGroup = rows(group)
}

func levelOf(m map[string]*Level, k string) *Level {
	if m[k] == nil {
		m[k] = &Level{}
	}
	return m[k]
}

func rows(m map[string]*Level) []Row {
	var out []Row
	for _, k := range sortedKeys(m) {
		out = append(out, Row{k, m[k].done()})
	}
	return out
}

func eraOf(year int) string {
	for _, e := range Eras {
		if year >= e.From && year <= e.To {
			return e.Label
		}
	}
	return "unknown year"
}

func sortedLoads(m map[float64]*Level) []*Level {
	var out []*Level
	for _, l := range m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Load < out[j].Load })
	return out
}

func (rep *Report) leaveOneOut(curves []Sample) []Level {
	perLoad := map[float64]*Level{}
	for i, s := range curves {
		others := append(append([]Sample(nil), curves[:i]...), curves[i+1:]...)
		md := model.ForParams(s.Machine, fitShapes(others, rep.Params))
		for j, load := range s.Loads {
			if perLoad[load] == nil {
				perLoad[load] = &Level{Load: load}
			}
			perLoad[load].add(s, md, j)
		}
	}
	var out []Level
	for _, l := range sortedLoads(perLoad) {
		out = append(out, l.done())
	}
	return out
}

func fold(system string) int {
	h := fnv.New32a()
	h.Write([]byte(system))
	return int(h.Sum32() % folds)
}

// add accumulates the errors of prediction i of s.
func (l *Level) add(s Sample, md model.Model, i int) {
	y, load := s.Watts[i], s.Loads[i]
	if y <= 0 {
		return
	}
	e := ape(md.Power(load/100).Wall, y)
	l.N++
	l.sumM += e
	if tdp, ok := s.TrueTDP(); ok {
		l.NTDP++
		l.sumMT += e
		l.sumT += ape(TDPRatioWatts(s.Machine, tdp, load), y)
	}
	if c, ok := CCFLinearWatts(s.Machine, load); ok {
		l.NCCF++
		l.sumMC += e
		l.sumC += ape(c, y)
	}
}

// done turns the sums into means.
func (l Level) done() Level {
	div := func(s float64, n int) float64 { return s / float64(max(n, 1)) }
	l.Model, l.ModelTDP, l.TDPRatio = div(l.sumM, l.N), div(l.sumMT, l.NTDP), div(l.sumT, l.NTDP)
	l.ModelCCF, l.CCF = div(l.sumMC, l.NCCF), div(l.sumC, l.NCCF)
	return l
}

func ape(pred, y float64) float64 { return 100 * math.Abs(pred-y) / y }
