package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestCalibratorRecoversLine(t *testing.T) {
	tests := []struct {
		name        string
		idle, slope float64
		noise       float64 // relative, uniform ±
		maxMAPE     float64
	}{
		{"exact", 40, 160, 0, 1e-9},
		{"noisy", 95, 310, 0.02, 2},
		{"flat machine", 120, 5, 0.01, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var c Calibrator
			for i := 0; i < 1000; i++ {
				u := r.Float64()
				w := (tc.idle + tc.slope*u) * (1 + tc.noise*(2*r.Float64()-1))
				c.Add(u, w)
			}
			idle, slope, mape, ok := c.Fit()
			if !ok {
				t.Fatal("Fit not ok")
			}
			tol := 0.02*(tc.idle+tc.slope) + 1e-9
			if math.Abs(idle-tc.idle) > tol || math.Abs(slope-tc.slope) > tol {
				t.Errorf("Fit = idle %.3f slope %.3f, want %g and %g", idle, slope, tc.idle, tc.slope)
			}
			if mape > tc.maxMAPE {
				t.Errorf("MAPE = %.3f %%, want ≤ %g", mape, tc.maxMAPE)
			}
		})
	}
}

func TestCalibratorRefuses(t *testing.T) {
	var few Calibrator
	few.Add(0.5, 100)
	if _, _, _, ok := few.Fit(); ok {
		t.Error("one sample: want not ok")
	}
	var flat Calibrator
	for i := 0; i < 100; i++ {
		flat.Add(0.30, 100+float64(i%3))
	}
	if _, _, _, ok := flat.Fit(); ok {
		t.Error("constant utilisation: slope unknown, want not ok")
	}
	var bad Calibrator
	bad.Add(-0.1, 10)
	bad.Add(1.5, 10)
	bad.Add(0.5, math.NaN())
	bad.Add(0.5, -3)
	if bad.Len() != 0 {
		t.Errorf("invalid samples kept: %d", bad.Len())
	}
}

func TestCalibratorKeepsRecentSamples(t *testing.T) {
	c := NewCalibrator(100)
	for i := 0; i < 500; i++ { // an old behaviour ...
		c.Add(float64(i%10)/10, 50+100*float64(i%10)/10)
	}
	for i := 0; i < 100; i++ { // ... replaced by a new one
		c.Add(float64(i%10)/10, 80+200*float64(i%10)/10)
	}
	idle, slope, _, ok := c.Fit()
	if c.Len() != 100 || !ok || math.Abs(idle-80) > 1e-6 || math.Abs(slope-200) > 1e-6 {
		t.Errorf("len %d, fit idle %g slope %g ok %v; want the last 100 samples: 80 and 200", c.Len(), idle, slope, ok)
	}
}
