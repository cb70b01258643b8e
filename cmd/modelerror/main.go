// Command modelerror measures the estimate sensor's power model against
// published SPECpower_ssj2008 results and writes the error table, next to
// the fixed TDP-ratio curve and Cloud Carbon Footprint's linear model.
//
//	go run ./cmd/modelerror                                # print the report
//	go run ./cmd/modelerror -out docs/estimation-error.md  # regenerate the doc
//	go run ./cmd/modelerror -fit                           # print fitted coefficients
//	go run ./cmd/modelerror -series nx12.csv               # the time series from another file
//
// The data and the provenance of every row are in
// internal/model/testdata (see its README.md).
//
// It holds the model's offline tooling, which the agent never runs:
// reading the published data (validate.go), fitting the coefficients of
// model.DefaultParams (fit.go) and of the TDP fallback (tdpfit.go),
// cross-validating them (evaluate.go) and writing the report (report.go).
// internal/model holds only the estimator.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/wattlens/wattlens/internal/model"
)

func main() {
	dir := flag.String("data", "internal/model/testdata", "directory holding specpower/results.csv, specpower/curves.csv and tdp/quattor.csv")
	out := flag.String("out", "", "write the Markdown report to this file instead of standard output")
	fit := flag.Bool("fit", false, "print the coefficients fitted on all the data as Go, for DefaultParams")
	series := flag.String("series", "", "the kepler-model-db nx12 series (CSV from testdata/kepler-nx12/extract.py; default: kepler-nx12/nx12.csv under -data, \"none\" to leave it out)")
	dimm := flag.String("dimm", "", "the ICPE 2024 DIMM power runs (CSV from testdata/icpe-dimm/extract.py; default: icpe-dimm/dimm.csv under -data, \"none\" to leave it out)")
	flag.Parse()
	if *series == "" {
		*series = filepath.Join(*dir, "kepler-nx12", "nx12.csv")
	}
	if *dimm == "" {
		*dimm = filepath.Join(*dir, "icpe-dimm", "dimm.csv")
	}
	if err := run(*dir, *series, *dimm, *out, *fit); err != nil {
		fmt.Fprintln(os.Stderr, "modelerror:", err)
		os.Exit(1)
	}
}

func run(dir, series, dimm, out string, fit bool) error {
	results, err := load(filepath.Join(dir, "specpower", "results.csv"), ReadResults)
	if err != nil {
		return err
	}
	curves, err := load(filepath.Join(dir, "specpower", "curves.csv"), ReadCurves)
	if err != nil {
		return err
	}
	specs, err := load(filepath.Join(dir, "tdp", "quattor.csv"), ReadTDPSpecs)
	if err != nil {
		return err
	}
	rep := Evaluate(results, curves, specs, model.DefaultParams())
	if series != "none" {
		ticks, err := load(series, ReadTicks)
		if err != nil {
			return err
		}
		s, err := EvaluateTicks(ticks, rep.Params.Shape["default"])
		if err != nil {
			return err
		}
		rep.Series = &s
	}
	if dimm != "none" {
		runs, err := load(dimm, ReadDIMM)
		if err != nil {
			return err
		}
		rep.DIMM = EvaluateDIMM(runs, rep.Params)
	}
	if fit {
		fmt.Println(goString(rep.Params))
		return nil
	}
	if out == "" {
		fmt.Print(rep.Markdown())
		return nil
	}
	return os.WriteFile(out, []byte(rep.Markdown()), 0o644)
}

func load[T any](path string, read func(io.Reader) ([]T, error)) ([]T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ss, err := read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ss, nil
}
