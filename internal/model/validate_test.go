package model

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

//go:generate go run ../../cmd/modelerror -data testdata/specpower -out ../../docs/estimation-error.md

// TestPublishedError evaluates the model against the published SPECpower
// results in testdata, checks it is clearly better than the fixed
// TDP-ratio curve and CCF's linear model, that DefaultParams are what the
// data gives, and that docs/estimation-error.md is the current report.
func TestPublishedError(t *testing.T) {
	results := readSamples(t, "testdata/specpower/results.csv", ReadResults)
	curves := readSamples(t, "testdata/specpower/curves.csv", ReadCurves)
	if len(results) < 300 || len(curves) < 15 {
		t.Fatalf("read %d results and %d curves; the data files are truncated", len(results), len(curves))
	}
	rep := Evaluate(results, curves, DefaultParams())
	if len(rep.Skipped) != 0 {
		t.Errorf("skipped samples: %v", rep.Skipped)
	}

	t.Run("better than the simple approaches", func(t *testing.T) {
		for name, levels := range map[string][]Level{"curves": rep.Curves, "results": rep.Results} {
			m := Mean(levels)
			if m.Model > 20 || m.Model > m.TDPRatio/2 || m.Model > m.CCF {
				t.Errorf("%s: mean MAPE model %.1f %%, TDP ratio %.1f %%, CCF %.1f %%; want model ≤ 20 %%, ≤ half the TDP ratio's, ≤ CCF's",
					name, m.Model, m.TDPRatio, m.CCF)
			}
			for _, l := range levels {
				if l.Model > l.TDPRatio {
					t.Errorf("%s at %g %%: model %.1f %% worse than TDP ratio %.1f %%", name, l.Load, l.Model, l.TDPRatio)
				}
			}
		}
	})

	t.Run("DefaultParams are fitted", func(t *testing.T) {
		want := rep.Params.GoString()
		if diff := cmp.Diff(want, DefaultParams().GoString()); diff != "" {
			t.Errorf("DefaultParams differ from the fit; run `go run ./cmd/modelerror -fit` and update params.go (-fit +default):\n%s", diff)
		}
	})

	t.Run("doc is current", func(t *testing.T) {
		doc, err := os.ReadFile("../../docs/estimation-error.md")
		if err != nil {
			t.Fatalf("%v; run go generate ./internal/model", err)
		}
		if diff := cmp.Diff(rep.Markdown(), string(doc)); diff != "" {
			t.Errorf("docs/estimation-error.md is stale; run go generate ./internal/model (-want +file):\n%s", diff)
		}
		method, err := os.ReadFile("../../docs/estimation.md")
		if err != nil {
			t.Fatal(err)
		}
		for name, levels := range map[string][]Level{"curves": rep.Curves, "results": rep.Results} {
			var b strings.Builder
			writeTable(&b, levels)
			if !strings.Contains(string(method), b.String()) {
				t.Errorf("docs/estimation.md lacks the current %s table; copy it from docs/estimation-error.md:\n%s", name, b.String())
			}
		}
	})
}

func TestBaselines(t *testing.T) {
	m := Machine{CPU: "Intel Xeon Platinum 8180", Sockets: 2, Threads: 112, MemoryGB: 192}
	tdp, ok := TDPRatioWatts(m, 50)
	if want := 2*205*0.75 + 192*0.392; !ok || !approx(tdp, want) {
		t.Errorf("TDPRatioWatts at 50 %% = %g, %v; want %g", tdp, ok, want)
	}
	ccf, ok := CCFLinearWatts(m, 100)
	if want := 112 * 4.104170352960531; !ok || !approx(ccf, want) {
		t.Errorf("CCFLinearWatts at 100 %% = %g, %v; want %g", ccf, ok, want)
	}
	if _, ok := TDPRatioWatts(Machine{CPU: "unknown"}, 50); ok {
		t.Error("TDPRatioWatts of an unknown CPU: want not ok")
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
