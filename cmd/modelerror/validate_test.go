package main

import (
	"bytes"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/model"
)

// dataDir holds the published data and its provenance (README.md there).
const dataDir = "../../internal/model/testdata"

//go:generate go run . -data ../../internal/model/testdata -out ../../docs/estimation-error.md

// TestPublishedError evaluates the model against every published
// SPECpower_ssj2008 result in internal/model/testdata and checks the bar: on the servers
// whose CPU has a published TDP, the model's mean absolute percentage
// error is at most half that of the fixed TDP-ratio curve given that TDP,
// overall, for CPUs in and not in the table, and in every era; and the
// error over all results is at most 15 %. It also
// checks that DefaultParams are what the data gives and that
// docs/estimation-error.md is the current report.
func TestPublishedError(t *testing.T) {
	results := readSamples(t, dataDir+"/specpower/results.csv", ReadResults)
	curves := readSamples(t, dataDir+"/specpower/curves.csv", ReadCurves)
	b, err := os.ReadFile(dataDir + "/tdp/quattor.csv")
	if err != nil {
		t.Fatal(err)
	}
	specs, err := ReadTDPSpecs(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1088 || len(curves) < 15 || len(specs) < 1000 {
		t.Fatalf("read %d results, %d curves, %d TDPs; the data files are truncated", len(results), len(curves), len(specs))
	}
	rep := Evaluate(results, curves, specs, model.DefaultParams())
	ticks := readTicks(t, dataDir+"/kepler-nx12/nx12.csv")
	series, err := EvaluateTicks(ticks, rep.Params.Shape["default"])
	if err != nil {
		t.Fatal(err)
	}
	rep.Series = &series
	dimm, err := os.ReadFile(dataDir + "/icpe-dimm/dimm.csv")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := ReadDIMM(bytes.NewReader(dimm))
	if err != nil {
		t.Fatal(err)
	}
	rep.DIMM = EvaluateDIMM(runs, rep.Params)

	t.Run("only multi-node enclosures and curve machines left out", func(t *testing.T) {
		for _, e := range rep.Excluded {
			if !strings.Contains(e, "multi-node enclosure") && !strings.Contains(e, "curves.csv") {
				t.Errorf("excluded for another reason: %s", e)
			}
		}
		if rep.NResults+len(rep.Excluded) != len(results) {
			t.Errorf("%d evaluated + %d excluded != %d read", rep.NResults, len(rep.Excluded), len(results))
		}
	})

	t.Run("half the TDP-ratio curve's error", func(t *testing.T) {
		check := func(what string, l Level) {
			if l.NTDP == 0 {
				return
			}
			if l.ModelTDP > l.TDPRatio/2 {
				t.Errorf("%s: MAPE model %.1f %%, TDP ratio %.1f %% on the same %d predictions; want model ≤ half", what, l.ModelTDP, l.TDPRatio, l.NTDP)
			}
		}
		check("all results", rep.Overall)
		for _, r := range rep.ByTable {
			check(r.Label, r.Level)
		}
		if len(rep.ByTable) != 2 {
			t.Errorf("want results with and without a table row, got %v", rep.ByTable)
		}
		if rep.Overall.Model > 15 {
			t.Errorf("MAPE over all %d predictions %.1f %%, want ≤ 15 %%", rep.Overall.N, rep.Overall.Model)
		}
		for _, r := range rep.ByEra {
			check(r.Label, r.Level)
		}
		if len(rep.ByEra) != len(Eras) {
			t.Errorf("want every era, got %v", rep.ByEra)
		}
		for _, l := range rep.Curves {
			if l.Model > l.TDPRatio {
				t.Errorf("curves at %g %%: model %.1f %% worse than TDP ratio %.1f %%", l.Load, l.Model, l.TDPRatio)
			}
		}
	})

	t.Run("DefaultParams are fitted", func(t *testing.T) {
		want := goString(rep.Params)
		if diff := cmp.Diff(want, goString(model.DefaultParams())); diff != "" {
			t.Errorf("DefaultParams differ from the fit; run `go run ./cmd/modelerror -fit` and update params.go (-fit +default):\n%s", diff)
		}
	})

	t.Run("doc is current", func(t *testing.T) {
		doc, err := os.ReadFile("../../docs/estimation-error.md")
		if err != nil {
			t.Fatalf("%v; run go generate ./cmd/modelerror", err)
		}
		if diff := cmp.Diff(rep.Markdown(), string(doc)); diff != "" {
			t.Errorf("docs/estimation-error.md is stale; run go generate ./cmd/modelerror (-want +file):\n%s", diff)
		}
		method, err := os.ReadFile("../../docs/estimation.md")
		if err != nil {
			t.Fatal(err)
		}
		for name, rows := range map[string][]Row{"curves": loadRows(rep.Curves), "eras": rep.ByEra, "table": rep.ByTable} {
			var b strings.Builder
			writeLevels(&b, map[string]string{"curves": "load", "eras": "published", "table": "CPU"}[name], rows)
			if !strings.Contains(string(method), b.String()) {
				t.Errorf("docs/estimation.md lacks the current %s table; copy it from docs/estimation-error.md:\n%s", name, b.String())
			}
		}
	})
}

func TestBaselines(t *testing.T) {
	m := model.Machine{CPU: "Intel Xeon Platinum 8180", Sockets: 2, Threads: 112, MemoryGB: 192}
	if got, want := TDPRatioWatts(m, 205, 50), 2*205*0.75+192*0.392; !approx(got, want) {
		t.Errorf("TDPRatioWatts at 50 %% = %g; want %g", got, want)
	}
	ccf, ok := CCFLinearWatts(m, 100)
	if want := 112 * 4.104170352960531; !ok || !approx(ccf, want) {
		t.Errorf("CCFLinearWatts at 100 %% = %g, %v; want %g", ccf, ok, want)
	}
	if _, ok := (Sample{Machine: model.Machine{CPU: "unknown"}}).TrueTDP(); ok {
		t.Error("TrueTDP of an unknown CPU without a source: want not ok")
	}
	if tdp, ok := (Sample{Machine: model.Machine{CPU: "Intel Xeon X5670"}, TDP: 95}).TrueTDP(); !ok || tdp != 95 {
		t.Errorf("TrueTDP with a source = %g, %v; want 95", tdp, ok)
	}
}

func readSamples(t *testing.T, path string, read func(io.Reader) ([]Sample, error)) []Sample {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(a)) }
