package promexp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var (
	metricName   = regexp.MustCompile(`\b(?:wattlens|scaph)_[a-z_]+\b`)
	recordedName = regexp.MustCompile(`\bwattlens:[a-z0-9_:]+\b`)
	recordRule   = regexp.MustCompile(`(?m)^\s*- record: (\S+)`)
)

// TestDeployNamesExist: every metric the dashboard and the rules query is
// one the collector serves or a rule records, so a rename cannot leave
// them behind.
func TestDeployNamesExist(t *testing.T) {
	known := map[string]bool{}
	for _, f := range Families() {
		known[f.Name] = true
	}
	rules, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range recordRule.FindAllStringSubmatch(string(rules), -1) {
		known[m[1]] = true
	}
	dash, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "grafana", "wattlens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	var exprs int
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs++
			for _, n := range append(metricName.FindAllString(tg.Expr, -1), recordedName.FindAllString(tg.Expr, -1)...) {
				if !known[n] {
					t.Errorf("dashboard panel %q queries %s, which nothing serves", p.Title, n)
				}
			}
		}
	}
	if exprs < 10 {
		t.Errorf("dashboard has %d queries", exprs)
	}
	for _, n := range metricName.FindAllString(string(rules), -1) {
		if !known[n] {
			t.Errorf("rules.yml uses %s, which nothing serves", n)
		}
	}
}
