package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/wattlens/wattlens/internal/model"
	"github.com/wattlens/wattlens/internal/platformfit"
)

// Tick is one 3-second step of the kepler-model-db nx12 series: the BPF
// CPU time of the step, the ACPI platform (wall) power and the RAPL
// package and DRAM power, with the lines of the source files it came from.
type Tick struct {
	Ref                     string
	CPUTime                 float64
	Platform, Package, DRAM float64
}

// ReadTicks reads testdata/kepler-nx12/nx12.csv (extract.py there).
func ReadTicks(r io.Reader) ([]Tick, error) {
	all, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("nx12: %w", err)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("nx12: empty")
	}
	head := map[string]int{}
	for i, h := range all[0] {
		head[h] = i
	}
	rows := all[1:]
	for _, c := range []string{"acpi_line", "rapl_line", "bpf_cpu_time_us", "platform_w", "package_w", "dram_w"} {
		if _, ok := head[c]; !ok {
			return nil, fmt.Errorf("nx12: no column %q", c)
		}
	}
	var out []Tick
	for i, row := range rows {
		t := Tick{Ref: "acpi line " + row[head["acpi_line"]] + ", rapl line " + row[head["rapl_line"]]}
		for _, f := range []struct {
			col string
			dst *float64
		}{{"bpf_cpu_time_us", &t.CPUTime}, {"platform_w", &t.Platform}, {"package_w", &t.Package}, {"dram_w", &t.DRAM}} {
			v, err := strconv.ParseFloat(strings.TrimSpace(row[head[f.col]]), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return nil, fmt.Errorf("nx12: row %d: %s %q is not a finite non-negative number", i+2, f.col, row[head[f.col]])
			}
			*f.dst = v
		}
		out = append(out, t)
	}
	if len(out) < 100 {
		return nil, fmt.Errorf("nx12: %d rows, want at least 100", len(out))
	}
	return out, nil
}

// SeriesError is one way of predicting the platform power, scored on the
// second half of the series (chronological).
type SeriesError struct {
	Method  string
	N       int
	MAE     float64 // W
	MAPE    float64 // %
	Learned string  // what was fitted, for the report
}

// SeriesReport is the outcome of EvaluateTicks.
type SeriesReport struct {
	N, Test   int
	MeanWatts float64 // mean platform power over the test half
	Errors    []SeriesError
}

// nx12Window is the learner's window: 15 minutes of 3-second ticks.
const nx12Window = 300

// EvaluateTicks scores, on the second half of the series, (1) wattlens'
// load curve with its idle and full-load watts fitted to the first half
// (the form of the model, calibrated; the machine's CPU is not published,
// so the uncalibrated model cannot be run), (2) the same with a straight
// line, and (3) RAPL package + DRAM as measured plus the platform
// remainder learned online by platformfit from the CPU utilisation,
// predicting each tick before it has seen it. Utilisation is the step's
// CPU time over the series' largest: the data do not say how many CPUs
// the machine has.
func EvaluateTicks(ticks []Tick, shape model.Shape) (SeriesReport, error) {
	var maxCPU float64
	for _, t := range ticks {
		maxCPU = math.Max(maxCPU, t.CPUTime)
	}
	u := make([]float64, len(ticks))
	for i, t := range ticks {
		u[i] = t.CPUTime / maxCPU
	}
	half := len(ticks) / 2
	rep := SeriesReport{N: len(ticks), Test: len(ticks) - half}
	for _, t := range ticks[half:] {
		rep.MeanWatts += t.Platform
	}
	rep.MeanWatts /= float64(rep.Test)
	for _, c := range []struct {
		name string
		f    func(float64) float64
	}{
		{fmt.Sprintf("wattlens curve (w %.2f, γ %.2f), idle and full fitted on the first half", shape.Wake, shape.Exp), shape.At},
		{"straight line, idle and full fitted on the first half", func(x float64) float64 { return x }},
	} {
		w0, d := fitCurve(ticks[:half], u[:half], c.f)
		rep.Errors = append(rep.Errors, score(c.name, fmt.Sprintf("idle %.1f W, full %.1f W", w0, w0+d), ticks[half:], func(i int) float64 {
			return w0 + d*c.f(u[half+i])
		}))
	}
	pred, err := learnOnline(ticks, u)
	if err != nil {
		return rep, err
	}
	rep.Errors = append(rep.Errors, score("RAPL package + DRAM measured, platform remainder learned online (platformfit, 15-min window, each tick predicted before it is seen)",
		pred.last, ticks[half:], func(i int) float64 { return pred.watts[half+i] }))
	return rep, nil
}

// fitCurve fits wall = w0 + d·f(u) by least squares, d ≥ 0.
func fitCurve(ticks []Tick, u []float64, f func(float64) float64) (w0, d float64) {
	var sx, sy, sxx, sxy float64
	n := float64(len(ticks))
	for i, t := range ticks {
		x := f(u[i])
		sx += x
		sy += t.Platform
		sxx += x * x
		sxy += x * t.Platform
	}
	if v := sxx - sx*sx/n; v > 0 {
		d = math.Max((sxy-sx*sy/n)/v, 0)
	}
	return (sy - d*sx) / n, d
}

type online struct {
	watts []float64
	last  string
}

// learnOnline predicts each tick's platform power as its RAPL package and
// DRAM power plus the remainder the learner had fitted before the tick,
// then shows it the tick. Before the learner has enough ticks the
// remainder is the mean of those seen.
func learnOnline(ticks []Tick, u []float64) (online, error) {
	l, err := platformfit.New(platformfit.Prior{
		Intercept: platformfit.Term{Name: "idle", Value: 0, SD: math.Inf(1)},
		Terms:     []platformfit.Term{{Name: "cpu", Value: 0, SD: math.Inf(1)}},
	}, platformfit.Options{Window: nx12Window})
	if err != nil {
		return online{}, err
	}
	out := online{watts: make([]float64, len(ticks))}
	var seen, sum float64
	for i, t := range ticks {
		rest := 0.0
		if f := l.Coefficients(); f.Intercept.Status == platformfit.Learned {
			rest = f.Predict([]float64{u[i]})
			out.last = fmt.Sprintf("at the end: remainder %.1f ± %.1f W + %.1f ± %.1f W × utilisation", f.Intercept.Value, f.Intercept.StdErr, f.Terms[0].Value, f.Terms[0].StdErr)
		} else if seen > 0 {
			rest = sum / seen
		}
		out.watts[i] = t.Package + t.DRAM + rest
		r := t.Platform - t.Package - t.DRAM
		if err := l.Observe(r, []float64{u[i]}); err != nil {
			return online{}, fmt.Errorf("nx12 %s: %w", t.Ref, err)
		}
		seen++
		sum += r
	}
	return out, nil
}

func score(method, learned string, ticks []Tick, pred func(i int) float64) SeriesError {
	e := SeriesError{Method: method, N: len(ticks), Learned: learned}
	for i, t := range ticks {
		d := math.Abs(pred(i) - t.Platform)
		e.MAE += d
		e.MAPE += 100 * d / t.Platform
	}
	e.MAE /= float64(len(ticks))
	e.MAPE /= float64(len(ticks))
	return e
}

// keplerNX12 are Kepler's own published errors for this machine and this
// target (ACPI platform power, AbsPower models): models/v0.6/nx12/README.md
// of kepler-model-db at seriesCommit.
var keplerNX12 = []struct {
	what string
	mae  float64
}{
	{"Kepler local estimator, BPFOnly features (SGDRegressor)", 32.73},
	{"Kepler sidecar estimator, BPFOnly features (KNeighborsRegressor)", 20.12},
	{"Kepler sidecar estimator, best feature group (Basic: BPF, cgroup, counters, kubelet; GradientBoostingRegressor)", 5.76},
}

const seriesCommit = "3bb4d645243226603b052938f653f94f1ff50878"

// markdown renders the series section of docs/estimation-error.md.
func (s SeriesReport) markdown(b *strings.Builder) {
	b.WriteString("\n## Whole estimate over time: kepler-model-db nx12 (ACPI platform power, every 3 s)\n\n")
	fmt.Fprintf(b, "Data: `internal/model/testdata/kepler-nx12/nx12.csv`, extracted by `extract.py` there from sustainable-computing-io/kepler-model-db at %s, ", seriesCommit)
	b.WriteString("`models/v0.6/nx12/preprocessed_data/preprocess_abs_default_{acpi,rapl}_BPFOnly.csv` (each row keeps its two source lines): ")
	fmt.Fprintf(b, "%d steps of 3 s (1.8 h) of stress-ng CPU, branch, register, cache, stream, vm-rw and SCTP workloads on one machine, ", s.N)
	fmt.Fprintf(b, "the BPF CPU time of each step, ACPI platform power, RAPL package and DRAM power. Scored on the second half (%d steps, mean %.0f W); fitted on the first, or online.\n\n", s.Test, s.MeanWatts)
	b.WriteString("| method | n | MAE | MAPE | fitted |\n|---|---:|---:|---:|---|\n")
	for _, e := range s.Errors {
		fmt.Fprintf(b, "| %s | %d | %.1f W | %.1f %% | %s |\n", e.Method, e.N, e.MAE, e.MAPE, e.Learned)
	}
	for _, k := range keplerNX12 {
		fmt.Fprintf(b, "| %s | – | %.2f W | – | Kepler's published figure (models/v0.6/nx12/README.md), on Kepler's own test split |\n", k.what, k.mae)
	}
	b.WriteString("\nWhat these data cannot show: the machine's CPU model, socket count and memory are not published, so wattlens' uncalibrated estimate ")
	b.WriteString("(TDP from the CPU table) cannot be run on it, only the model's form with its idle and full-load watts fitted to half the series, and the meter-learned split; ")
	b.WriteString("the utilisation is the step's CPU time over the series' largest (the number of CPUs is not published either, so a machine never fully busy reads as fully busy at its peak); ")
	b.WriteString("the third method reads RAPL, which Kepler's ACPI models do not take as input, so it answers a different question (how well the meter's remainder is learned where RAPL exists); ")
	b.WriteString("Kepler's figures come from its own split of the same data, not this one; one machine, one afternoon, no disk or network-heavy step beyond SCTP over loopback, ")
	b.WriteString("so nothing here validates the storage or network terms.\n")
}
