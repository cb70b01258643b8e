package promexp

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetricsDocUpToDate fails when docs/metrics.md is not what the metric
// table generates: run `go generate ./internal/exporter/promexp`.
func TestMetricsDocUpToDate(t *testing.T) {
	var want bytes.Buffer
	if err := WriteMarkdown(&want); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "..", "docs", "metrics.md")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; generate it with: go generate ./internal/exporter/promexp", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("%s is stale; regenerate it with: go generate ./internal/exporter/promexp", path)
	}
}

// TestMarkdownListsEveryFamily: each family has a row, once.
func TestMarkdownListsEveryFamily(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, f := range Families() {
		if n := strings.Count(b.String(), "| `"+f.Name+"` |"); n != 1 {
			t.Errorf("%s has %d rows", f.Name, n)
		}
	}
}

// TestFamiliesWellFormed: names follow the conventions the docs promise.
func TestFamiliesWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Families() {
		if seen[f.Name] {
			t.Errorf("%s twice", f.Name)
		}
		seen[f.Name] = true
		if f.Help == "" {
			t.Errorf("%s has no help", f.Name)
		}
		if f.Set == SetScaphandre {
			if !strings.HasPrefix(f.Name, "scaph_") {
				t.Errorf("%s: compat family without scaph_ prefix", f.Name)
			}
			if f.Native == "" {
				t.Errorf("%s: compat family without its wattlens equivalent", f.Name)
			}
			continue
		}
		if f.Set == SetKepler {
			if !strings.HasPrefix(f.Name, "kepler_") {
				t.Errorf("%s: compat family without kepler_ prefix", f.Name)
			}
			if f.Native == "" {
				t.Errorf("%s: compat family without its wattlens equivalent", f.Name)
			}
			if (f.Type == "counter") != strings.HasSuffix(f.Name, "_total") {
				t.Errorf("%s: type %s and _total suffix disagree", f.Name, f.Type)
			}
			continue
		}
		if !strings.HasPrefix(f.Name, "wattlens_") {
			t.Errorf("%s: no wattlens_ prefix", f.Name)
		}
		if (f.Type == "counter") != strings.HasSuffix(f.Name, "_total") {
			t.Errorf("%s: type %s and _total suffix disagree", f.Name, f.Type)
		}
		if strings.Contains(f.Name, "_energy_") && f.Set == SetNative && !strings.HasSuffix(f.Name, "_energy_joules_total") {
			t.Errorf("%s: energy is a _joules_total counter", f.Name)
		}
		if strings.HasSuffix(f.Name, "_watts") {
			if f.Type != "gauge" {
				t.Errorf("%s: power is a gauge", f.Name)
			}
		}
		energyOrPower := strings.HasSuffix(f.Name, "_joules_total") || strings.HasSuffix(f.Name, "_power_watts")
		if energyOrPower != (len(f.Labels) > 0 && f.Labels[len(f.Labels)-1] == "source") {
			t.Errorf("%s: energy and power series, and only they, end with a source label: %v", f.Name, f.Labels)
		}
	}
}
