package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/wattlens/wattlens/internal/model"
)

// TDPSpec is one processor's published specification.
type TDPSpec struct {
	Ref   string // where it was published
	Model string // model name
	MHz   float64
	Cores int     // per socket
	TDP   float64 // watts
	// InValidation is true for processors of the SPECpower servers the
	// model is judged on; FitTDP leaves them out.
	InValidation bool
}

// ReadTDPSpecs reads testdata/tdp/quattor.csv.
func ReadTDPSpecs(r io.Reader) ([]TDPSpec, error) {
	all, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read tdp csv: %w", err)
	}
	if len(all) < 2 {
		return nil, fmt.Errorf("read tdp csv: empty")
	}
	head := map[string]int{}
	for i, h := range all[0] {
		head[h] = i
	}
	for _, want := range []string{"path", "model", "speed_mhz", "cores", "tdp_w", "specpower"} {
		if _, ok := head[want]; !ok {
			return nil, fmt.Errorf("read tdp csv: no column %q", want)
		}
	}
	var out []TDPSpec
	for _, row := range all[1:] {
		cores, err := strconv.Atoi(row[head["cores"]])
		if err != nil {
			return nil, fmt.Errorf("tdp csv %s: cores %q", row[head["path"]], row[head["cores"]])
		}
		out = append(out, TDPSpec{Ref: row[head["path"]], Model: row[head["model"]], MHz: num(row[head["speed_mhz"]]),
			Cores: cores, TDP: num(row[head["tdp_w"]]), InValidation: row[head["specpower"]] == "1"})
	}
	return out, nil
}

// minTDPGroup is the number of processors a group needs for its own
// intercept.
const minTDPGroup = 5

// FitTDP fits TDPFit to the processors that are not InValidation and whose
// generation the name tells (exact table rows included: their generation is
// known; generic vendor fallbacks are not).
func FitTDP(specs []TDPSpec) model.TDPFit {
	type obs struct {
		group          string
		lc, lg, low, y float64
	}
	var data []obs
	counts := map[string]int{}
	for _, s := range specs {
		m := model.Lookup(model.Query{Name: s.Model})
		if s.InValidation || s.TDP <= 0 || s.Cores <= 0 || s.MHz <= 0 || model.TDPGroup(m.Arch) == "default" {
			continue
		}
		low := 0.0
		if model.LowPowerPart(m.Arch.Vendor, s.Model) {
			low = 1
		}
		data = append(data, obs{model.TDPGroup(m.Arch), math.Log(float64(s.Cores)), math.Log(s.MHz / 1000), low, math.Log(s.TDP)})
		counts[model.TDPGroup(m.Arch)]++
	}
	groups := []string{"default"}
	for _, g := range sortedKeys(counts) {
		if counts[g] >= minTDPGroup {
			groups = append(groups, g)
		}
	}
	col := map[string]int{}
	for i, g := range groups {
		col[g] = i
	}
	k := len(groups) + 3
	var rows [][]float64
	var ys []float64
	sumLG, nLG := map[string]float64{}, map[string]int{}
	nDefault := 0
	for _, o := range data {
		x := make([]float64, k)
		g := o.group
		if _, ok := col[g]; !ok {
			g = "default"
			nDefault++
		}
		x[col[g]] = 1
		x[k-3], x[k-2], x[k-1] = o.lc, o.lg, o.low
		rows, ys = append(rows, x), append(ys, o.y)
		sumLG[g] += o.lg
		nLG[g]++
		sumLG["default"] += o.lg
		nLG["default"]++
	}
	beta := leastSquares(rows, ys)
	f := model.TDPFit{Base: map[string]float64{}, LogGHz: map[string]float64{}, N: len(data),
		Cores: round4(beta[k-3]), GHz: round4(beta[k-2]), LowPower: round4(beta[k-1])}
	for g, i := range col {
		f.Base[g] = round4(beta[i])
		f.LogGHz[g] = round4(sumLG[g] / float64(max(nLG[g], 1)))
	}
	if nDefault == 0 {
		// No small group: "default" is the mean of the group
		// intercepts, weighted by processors.
		sum, n := 0.0, 0
		for g, i := range col {
			sum += beta[i] * float64(counts[g])
			n += counts[g]
		}
		f.Base["default"] = round4(sum / float64(max(n, 1)))
	}
	return f
}

// leastSquares solves min ‖Xβ − y‖² by the normal equations with a tiny
// ridge, so that a column with no data gives 0 rather than a singular
// system.
func leastSquares(x [][]float64, y []float64) []float64 {
	if len(x) == 0 {
		return nil
	}
	k := len(x[0])
	a := make([][]float64, k)
	for i := range a {
		a[i] = make([]float64, k+1)
		a[i][i] = 1e-9
	}
	for r, row := range x {
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				a[i][j] += row[i] * row[j]
			}
			a[i][k] += row[i] * y[r]
		}
	}
	for c := 0; c < k; c++ {
		p := c
		for r := c + 1; r < k; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		for r := 0; r < k; r++ {
			if r == c || a[c][c] == 0 {
				continue
			}
			f := a[r][c] / a[c][c]
			for j := c; j <= k; j++ {
				a[r][j] -= f * a[c][j]
			}
		}
	}
	beta := make([]float64, k)
	for i := range beta {
		if a[i][i] != 0 {
			beta[i] = a[i][k] / a[i][i]
		}
	}
	return beta
}
