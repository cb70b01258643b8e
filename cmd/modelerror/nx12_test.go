package main

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/wattlens/wattlens/internal/model"
)

func readTicks(t *testing.T, path string) []Tick {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ticks, err := ReadTicks(f)
	if err != nil {
		t.Fatal(err)
	}
	return ticks
}

func TestReadTicksRefusesBadRows(t *testing.T) {
	head := "acpi_line,rapl_line,timestamp,bpf_cpu_time_us,platform_w,package_w,dram_w\n"
	for name, body := range map[string]string{
		"missing column": "acpi_line,rapl_line,timestamp,bpf_cpu_time_us,platform_w,package_w\n2,2,1,1,1,1\n",
		"negative power": head + "2,2,1,1,-5,1,1\n",
		"not a number":   head + "2,2,1,1,x,1,1\n",
		"too short":      head + "2,2,1,1,100,1,1\n",
		"empty":          "",
	} {
		if _, err := ReadTicks(strings.NewReader(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestEvaluateTicksSynthetic: a platform that is exactly RAPL + 50 W + 20 W
// × utilisation is learned online to within a watt, and a straight line
// fitted on the first half of a linear machine is exact on the second.
func TestEvaluateTicksSynthetic(t *testing.T) {
	var ticks []Tick
	for i := range 600 {
		cpu := float64((i*37)%100 + 1)
		u := cpu / 100
		pkg, dram := 40+100*u, 30+10*u
		ticks = append(ticks, Tick{CPUTime: cpu, Package: pkg, DRAM: dram, Platform: pkg + dram + 50 + 20*u})
	}
	rep, err := EvaluateTicks(ticks, model.Shape{Wake: 0.2, Exp: 1.6})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 3 {
		t.Fatalf("got %d methods, want 3", len(rep.Errors))
	}
	if e := rep.Errors[1]; e.MAE > 1e-6 {
		t.Errorf("straight line on a linear machine: MAE %.3g W, want 0", e.MAE)
	}
	if e := rep.Errors[0]; e.MAE < 1 {
		t.Errorf("curved shape on a linear machine: MAE %.3g W, want visibly wrong", e.MAE)
	}
	if e := rep.Errors[2]; e.MAE > 1 || math.IsNaN(e.MAE) {
		t.Errorf("online remainder: MAE %.3g W, want < 1 W", e.MAE)
	}
}
