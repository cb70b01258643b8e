package main

import (
	"strings"
	"testing"

	"github.com/wattlens/wattlens/internal/model"
)

func TestReadDIMMRefusesBadRows(t *testing.T) {
	head := "arch,workload,socket,dimm_gb,dimm_w,rapl_dram_w,seconds,source,rapl_source\n"
	for name, body := range map[string]string{
		"no rows":        head,
		"missing column": "arch,workload,socket,dimm_gb,dimm_w,seconds,source\nb,idle,0,16,1,10,x\n",
		"zero power":     head + "b,idle,0,16,0,1,10,x,y\n",
		"bad socket":     head + "b,idle,s,16,1,1,10,x,y\n",
	} {
		if _, err := ReadDIMM(strings.NewReader(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEvaluateDIMM(t *testing.T) {
	p := model.Params{MemIdleW: 0.05, MemFullW: 0.25}
	runs := []DIMMRun{
		{Arch: "broadwell", Workload: "idle", GB: 16, DIMM: 1, RAPL: 1.5},     // model 0.8: 20 %
		{Arch: "broadwell", Workload: "stream_add", GB: 16, DIMM: 4, RAPL: 4}, // model 4: 0 %
		{Arch: "broadwell", Workload: "busywait", GB: 16, DIMM: 2, RAPL: 2},   // model 4: 100 %
		{Arch: "icelake", Workload: "stream_add", Socket: 1, GB: 32, DIMM: 2, RAPL: 2},
	}
	rows := EvaluateDIMM(runs, p)
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want 3 (the unloaded Ice Lake socket left out): %+v", len(rows), rows)
	}
	want := []float64{20, 0, 100}
	for i, r := range rows {
		if !approx(r.Model, want[i]) {
			t.Errorf("%s: model error %.3g %%, want %g %%", r.Label, r.Model, want[i])
		}
	}
	if !approx(rows[0].RAPL, 50) {
		t.Errorf("idle RAPL error %.3g %%, want 50 %%", rows[0].RAPL)
	}
}
