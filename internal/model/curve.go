package model

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Curve is the estimate at a series of loads, for `wattlens model`.
type Curve struct {
	Method   string    `json:"-"`
	Loads    []float64 `json:"loads"` // percent, 0..100
	Wall     []float64 `json:"wall_watts"`
	CPU      []float64 `json:"cpu_watts"`
	Memory   []float64 `json:"memory_watts"`
	Platform []float64 `json:"-"` // Wall − CPU − Memory
}

// StandardLoads are SPECpower's target loads: 0 (active idle), 10, … 100 %.
func StandardLoads() []float64 {
	loads := make([]float64, 11)
	for i := range loads {
		loads[i] = float64(10 * i)
	}
	return loads
}

// Curve evaluates the model at loads given in percent (0..100).
func (md Model) Curve(loads []float64) Curve {
	c := Curve{Method: md.Method(), Loads: append([]float64(nil), loads...)}
	for _, l := range loads {
		b := md.Power(l / 100)
		c.Wall = append(c.Wall, round2(b.Wall))
		c.CPU = append(c.CPU, round2(b.CPU))
		c.Memory = append(c.Memory, round2(b.Memory))
		c.Platform = append(c.Platform, round2(b.Platform))
	}
	return c
}

// PrintTable writes the curve as an aligned text table, labelled as an
// estimate.
func PrintTable(w io.Writer, c Curve) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// tabwriter buffers until Flush, which returns the first write error.
	_, _ = fmt.Fprintln(tw, "load %\twall W\tcpu W\tmemory W\tplatform W\t")
	for i, l := range c.Loads {
		_, _ = fmt.Fprintf(tw, "%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", l, c.Wall[i], c.CPU[i], c.Memory[i], at(c.Platform, i))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "All figures are estimated, not measured.\n%s\n", c.Method)
	return err
}

// WriteJSON writes {"loads":[…],"wall_watts":[…],"cpu_watts":[…],
// "memory_watts":[…]} followed by a newline.
func WriteJSON(w io.Writer, c Curve) error {
	return json.NewEncoder(w).Encode(c)
}

func at(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return 0
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
