package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/exporter/promexp"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// rawMetrics is stdout --raw-metrics (Scaphandre's): after every step,
// every scaph_* series --compat=scaphandre serves, one a line, as
// Scaphandre prints them:
//
//	## At <unix seconds>
//	<name> = <value> {<labels as JSON>} # <help>
//
// The series come from the prometheus exporter's collector (the same
// figures as /metrics); the machine facts are read by hostFacts.
type rawMetrics struct {
	w     io.Writer
	col   *promexp.Collector
	facts *hostFacts
	reg   *prometheus.Registry
}

func newRawMetrics(e *env, top int, sensor string) (*rawMetrics, error) {
	col, err := promexp.New(promexp.Options{TopN: top, Compat: []string{promexp.CompatScaphandre}, Sensor: sensor})
	if err != nil {
		return nil, usageError{err}
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(col); err != nil {
		return nil, err
	}
	return &rawMetrics{w: e.stdout, col: col, facts: newHostFacts(e.cfg.ProcFS, e.cfg.SysFS, col, e.log), reg: reg}, nil
}

var _ exporter.Exporter = (*rawMetrics)(nil)

// Export prints the step's series.
func (r *rawMetrics) Export(ctx context.Context, s *snapshot.Snapshot) error {
	_ = r.col.Export(ctx, s)
	_ = r.facts.Export(ctx, s)
	mfs, err := r.reg.Gather()
	if err != nil {
		return err
	}
	var b strings.Builder
	at := s.Time
	if at.IsZero() {
		at = time.Now()
	}
	fmt.Fprintf(&b, "## At %d\n", at.Unix())
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "scaph_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			js, err := json.Marshal(labels)
			if err != nil {
				return err
			}
			v := m.GetGauge().GetValue()
			if c := m.GetCounter(); c != nil {
				v = c.GetValue()
			}
			fmt.Fprintf(&b, "%s = %s %s # %s\n", mf.GetName(), strconv.FormatFloat(v, 'f', -1, 64), js, mf.GetHelp())
		}
	}
	_, err = io.WriteString(r.w, b.String())
	return err
}
