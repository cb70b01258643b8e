package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

// TestRun runs fakerapl for 300 ms and checks the report against the
// counters it left: each final energy_uj is the initial one plus what the
// report says was written, modulo the range.
func TestRun(t *testing.T) {
	root := t.TempDir()
	report := filepath.Join(t.TempDir(), "written.json")
	const maxRange = 20_000_000
	args := []string{
		"--root", root, "--layout", "intel-server-2s", "--watts", "intel-rapl:0=40,intel-rapl:1=20",
		"--max-range", strconv.Itoa(maxRange), "--duration", "300ms", "--report", report,
	}
	if err := run(context.Background(), args, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var written map[string]float64
	if err := json.Unmarshal(b, &written); err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 || written["intel-rapl:1"] <= 0 {
		t.Fatalf("report %s: want two zones with energy", b)
	}
	if ratio := written["intel-rapl:0"] / written["intel-rapl:1"]; math.Abs(ratio-2) > 1e-6 {
		t.Errorf("intel-rapl:0 got %.9f times intel-rapl:1's energy, want 2", ratio)
	}
	initial := map[string]uint64{"intel-rapl:0": 123_456_789_012, "intel-rapl:1": 98_765_432_109}
	for id, j := range written {
		dir, err := powercaptest.ZoneDir(root, id)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "energy_uj"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		want := (initial[id]%maxRange + uint64(math.Round(j*1e6))) % maxRange
		if got != want {
			t.Errorf("zone %s: energy_uj %d, want %d (initial + %v J written, modulo range)", id, got, want, j)
		}
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no root", []string{"--watts", "intel-rapl:0=1"}, "--root is required"},
		{"no watts", []string{"--root", "R"}, "--watts is required"},
		{"watts without zone", []string{"--root", "R", "--watts", "=3"}, "want zone=W"},
		{"negative watts", []string{"--root", "R", "--watts", "intel-rapl:0=-3"}, "non-negative"},
		{"unknown layout", []string{"--root", "R", "--layout", "arm", "--watts", "intel-rapl:0=1"}, "unknown layout"},
		{"unknown zone", []string{"--root", "R", "--watts", "intel-rapl:9=1"}, "intel-rapl:9 not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string(nil), tt.args...)
			for i, a := range args {
				if a == "R" {
					args[i] = t.TempDir()
				}
			}
			err := run(context.Background(), args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error saying %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestParseWatts(t *testing.T) {
	got, err := parseWatts("intel-rapl:0=40, intel-rapl:0:0=2.5")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]float64{"intel-rapl:0": 40, "intel-rapl:0:0": 2.5}, got); diff != "" {
		t.Errorf("parseWatts (-want +got):\n%s", diff)
	}
}
