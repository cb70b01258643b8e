package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wattlens/wattlens/internal/model"
)

// Sample is one published measurement of a real machine: its configuration
// and its average wall power at some target loads (percent).
type Sample struct {
	Ref     string // where it was published
	System  string // vendor and system name; the cross-validation group
	Machine model.Machine
	Loads   []float64
	Watts   []float64
	// Year of publication, 0 when unknown.
	Year int
	// TDP is the CPU's published TDP per socket and TDPRef where it was
	// read; 0 when no source was found. Only the TDP-ratio baseline uses
	// it: the model knows only its own table.
	TDP    float64
	TDPRef string
	// Exclude says why the sample is not evaluated ("" when it is).
	Exclude string
	// Note records a correction made to the published row.
	Note string
}

// ReadResults reads testdata/specpower/results.csv: SPECpower_ssj2008
// results with their active-idle and 100 % average power.
func ReadResults(r io.Reader) ([]Sample, error) {
	rows, head, err := readCSV(r)
	if err != nil {
		return nil, err
	}
	var out []Sample
	for _, row := range rows {
		s, err := sampleOf(row, head, "ccf-coefficients data/SPECpower-2026-03-09.csv row "+row[head["ccf_row"]])
		if err != nil {
			return nil, err
		}
		s.Machine.Query.BaseMHz = num(field(row, head, "mhz"))
		s.Year = yearOf(field(row, head, "published"))
		s.TDP, s.TDPRef = num(field(row, head, "tdp_w")), field(row, head, "tdp_source")
		s.Exclude, s.Note = field(row, head, "exclude"), field(row, head, "note")
		s.Loads = []float64{0, 100}
		s.Watts = []float64{num(row[head["idle_w"]]), num(row[head["full_w"]])}
		out = append(out, s)
	}
	return out, nil
}

// ReadCurves reads testdata/specpower/curves.csv: SPECpower_ssj2008 results
// with their power at every target load, 0 (active idle) to 100 %.
func ReadCurves(r io.Reader) ([]Sample, error) {
	rows, head, err := readCSV(r)
	if err != nil {
		return nil, err
	}
	var out []Sample
	for _, row := range rows {
		s, err := sampleOf(row, head, "https://www.spec.org/power_ssj2008/results/"+row[head["spec_result"]]+".html")
		if err != nil {
			return nil, err
		}
		for l := 0; l <= 100; l += 10 {
			col, ok := head["w"+strconv.Itoa(l)]
			if !ok {
				return nil, fmt.Errorf("curves: no column w%d", l)
			}
			s.Loads = append(s.Loads, float64(l))
			s.Watts = append(s.Watts, num(row[col]))
		}
		out = append(out, s)
	}
	return out, nil
}

func readCSV(r io.Reader) ([][]string, map[string]int, error) {
	all, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("read csv: %w", err)
	}
	if len(all) == 0 {
		return nil, nil, fmt.Errorf("read csv: empty")
	}
	head := map[string]int{}
	for i, h := range all[0] {
		head[h] = i
	}
	for _, want := range []string{"system", "cpu", "chips", "cores", "tpc", "memory_gb"} {
		if _, ok := head[want]; !ok {
			return nil, nil, fmt.Errorf("read csv: no column %q", want)
		}
	}
	return all[1:], head, nil
}

func sampleOf(row []string, head map[string]int, ref string) (Sample, error) {
	chips, err1 := strconv.Atoi(row[head["chips"]])
	cores, err2 := strconv.Atoi(row[head["cores"]])
	tpc, err3 := strconv.Atoi(row[head["tpc"]])
	if err1 != nil || err2 != nil || err3 != nil {
		return Sample{}, fmt.Errorf("%s: bad chips/cores/tpc %q", ref, strings.Join(row, ","))
	}
	m := model.Machine{CPU: row[head["cpu"]], Sockets: chips, Cores: cores, Threads: cores * tpc, MemoryGB: num(row[head["memory_gb"]])}
	return Sample{Ref: ref, System: row[head["system"]], Machine: m}, nil
}

// field returns an optional column, "" when the file has none.
func field(row []string, head map[string]int, name string) string {
	if i, ok := head[name]; ok && i < len(row) {
		return strings.TrimSpace(row[i])
	}
	return ""
}

// yearOf reads the year of "Mon-YYYY".
func yearOf(published string) int {
	_, y, _ := strings.Cut(published, "-")
	n, err := strconv.Atoi(y)
	if err != nil {
		return 0
	}
	return n
}

func num(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0
	}
	return f
}

// Published simpler approaches, for comparison.

// teadsCurve is the fixed TDP-ratio curve of Teads (B. Davy, "Building an
// AWS EC2 Carbon Emissions Dataset", 2021), as the Green Software
// Foundation Impact Framework uses it: factor of TDP at 0, 10, 50, 100 %.
var teadsCurve = [][2]float64{{0, 0.12}, {10, 0.32}, {50, 0.75}, {100, 1.02}}

// ccfMemoryW is Cloud Carbon Footprint's memory coefficient, 0.392 W per
// GB (MEMORY_COEFFICIENT 0.000392 kWh per GB-hour).
const ccfMemoryW = 0.392

// TDPRatioWatts is the "TDP × fixed ratio per load" estimate: sockets ×
// tdp (per socket) × the Teads factor, plus memory at CCF's 0.392 W/GB.
func TDPRatioWatts(m model.Machine, tdp, load float64) float64 {
	return float64(max(m.Sockets, 1))*tdp*interp(teadsCurve, load) + m.MemoryGB*ccfMemoryW
}

// TrueTDP is the published TDP per socket of a sample's CPU: its own
// source, else the table row; ok is false when neither has one.
func (s Sample) TrueTDP() (float64, bool) {
	if s.TDP > 0 {
		return s.TDP, true
	}
	if m := model.Lookup(model.Query{Name: s.Machine.CPU}); m.Exact {
		return m.CPU.TDP, true
	}
	return 0, false
}

// ccfCoefficients are Cloud Carbon Footprint's per-vCPU minimum and maximum
// watts by architecture (cloud-carbon-footprint/ccf-coefficients,
// output/coefficients-aws-use.csv at commit b0032d92), themselves averages
// of SPECpower results per hardware thread.
var ccfCoefficients = map[string][2]float64{
	"Broadwell":       {0.7128342245989305, 3.685327540106952},
	"Cascade Lake":    {0.6902978319127387, 4.063193520161689},
	"Coffee Lake":     {1.138425925925926, 5.421759259259259},
	"EPYC 1st Gen":    {0.8467881944444444, 2.6041666666666665},
	"EPYC 2nd Gen":    {0.4742621527777777, 1.6929615162037035},
	"EPYC 3rd Gen":    {0.45562453497023814, 1.957333519345238},
	"EPYC 4th Gen":    {0.7391482469512195, 2.282155106707317},
	"EPYC 5th Gen":    {3.6824237779748152, 8.96143545344501},
	"Emerald Rapids":  {0.8140104166666666, 4.48203125},
	"Granite Rapids":  {0.5815883902616279, 2.5274707237711422},
	"Graviton2":       {0.4742621527777777, 1.6929615162037035},
	"Graviton3":       {0.4742621527777777, 1.6929615162037035},
	"Graviton4":       {0.4742621527777777, 1.6929615162037035},
	"Haswell":         {1.8573529411764707, 5.595383986928105},
	"Ice Lake":        {0.766796875, 3.7582031249999996},
	"Sapphire Rapids": {1.0362861003136936, 4.160476336606656},
	"Skylake":         {0.6129888539040325, 4.104170352960531},
}

// CCFLinearWatts is Cloud Carbon Footprint's compute estimate: threads ×
// (min + u × (max − min)) with its per-architecture coefficients.
func CCFLinearWatts(m model.Machine, load float64) (float64, bool) {
	match := model.Lookup(model.Query{Name: m.CPU})
	k, ok := ccfCoefficients[match.Arch.CCF]
	if !match.Exact || !ok {
		return 0, false
	}
	return float64(m.Threads) * (k[0] + load/100*(k[1]-k[0])), true
}

// interp interpolates linearly in a table of (x, y) points.
func interp(pts [][2]float64, x float64) float64 {
	if x <= pts[0][0] {
		return pts[0][1]
	}
	for i := 1; i < len(pts); i++ {
		if x <= pts[i][0] {
			a, b := pts[i-1], pts[i]
			return a[1] + (x-a[0])/(b[0]-a[0])*(b[1]-a[1])
		}
	}
	return pts[len(pts)-1][1]
}
