package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wattlens/wattlens/internal/exporter/jsonexp"
	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

// fakeRAPL builds a two-socket powercap tree whose packages draw 30 W and
// 20 W while the test runs, and returns the sysfs root.
func fakeRAPL(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	powercaptest.Start(t, root, powercaptest.IntelServer2S(), map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20}, 0)
	return root
}

func runWattlens(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = run(args, &out, &errs)
	return code, out.String(), errs.String()
}

func TestJSONCommand(t *testing.T) {
	sys := fakeRAPL(t)
	path := filepath.Join(t.TempDir(), "power.ndjson")
	code, _, stderr := runWattlens(t, "--path.sysfs", sys, "-s", "powercap_rapl",
		"json", "--timeout", "1.3", "--step", "250ms", "--max-top-consumers", "2", "--file", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var lines int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines++
		var r jsonexp.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		if r.Sensor != "powercap_rapl" || !r.SensorUp || r.Host.Source != "measured" || len(r.Zones) != 4 {
			t.Errorf("line %d: sensor %q up %v source %q zones %d", lines, r.Sensor, r.SensorUp, r.Host.Source, len(r.Zones))
		}
		if n := len(r.Consumers); n > 4 || r.Consumers[n-1].Kind != "other" || r.Consumers[n-2].Kind != "unattributed" {
			t.Errorf("line %d: consumers %+v", lines, r.Consumers)
		}
		var total, interval float64
		for _, c := range r.Consumers {
			total += math.Round(c.EnergyJoules * 1e6)
			interval += math.Round(c.IntervalEnergyJoules * 1e6)
		}
		total += math.Round(r.Idle.EnergyJoules * 1e6)
		interval += math.Round(r.Idle.IntervalEnergyJoules * 1e6)
		if total != math.Round(r.Host.EnergyJoules*1e6) || interval != math.Round(r.Host.IntervalEnergyJoules*1e6) {
			t.Errorf("line %d: books do not balance: %v/%v µJ vs host %v/%v J", lines, total, interval, r.Host.EnergyJoules, r.Host.IntervalEnergyJoules)
		}
		if r.Seq > 1 && r.Host.EnergyJoules <= 0 {
			t.Errorf("line %d: no energy measured", lines)
		}
	}
	if lines < 2 {
		t.Errorf("%d lines in 1.3 s at a 250 ms step", lines)
	}
}

func TestStdoutCommand(t *testing.T) {
	sys := fakeRAPL(t)
	code, out, stderr := runWattlens(t, "--path.sysfs", sys, "-s", "powercap_rapl",
		"stdout", "-t", "0.7", "--step", "0.2", "-p", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"measured by powercap_rapl", "socket 1  package-1", "Top 3 of", "others"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.ContainsRune(out, '\x1b') {
		t.Errorf("escape codes written to a buffer:\n%q", out)
	}
}

func TestExporterUsageErrors(t *testing.T) {
	tests := [][]string{
		{"stdout", "-r", "("},
		{"stdout", "--regex-filter", "a[b"},
		{"stdout", "--step", "0"},
		{"json", "--process-regex", "*"},
		{"json", "--max-top-consumers", "-1"},
		{"json", "--timeout", "-3"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, stderr := runWattlens(t, append([]string{"--path.sysfs", t.TempDir()}, args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stdout %q stderr %q", code, out, stderr)
			}
			if !strings.Contains(stderr, "wattlens: error:") {
				t.Errorf("stderr %q", stderr)
			}
		})
	}
}

func TestJSONFileInAMissingDirectory(t *testing.T) {
	code, _, stderr := runWattlens(t, "--path.sysfs", fakeRAPL(t), "-s", "powercap_rapl",
		"json", "-t", "1", "--file", filepath.Join(t.TempDir(), "no", "such.ndjson"))
	if code != 1 || !strings.Contains(stderr, "no such file or directory") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
