package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestModelCommand(t *testing.T) {
	code, out, stderr := runWattlens(t, "model", "--cpu", "Intel Xeon Gold 6248", "--sockets", "2", "--threads", "80", "--memory-gb", "384", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var c struct {
		Loads  []float64 `json:"loads"`
		Wall   []float64 `json:"wall_watts"`
		CPU    []float64 `json:"cpu_watts"`
		Memory []float64 `json:"memory_watts"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("bad json %q: %v", out, err)
	}
	if len(c.Loads) != 11 || c.Loads[0] != 0 || c.Loads[10] != 100 || len(c.Wall) != 11 || len(c.CPU) != 11 || len(c.Memory) != 11 {
		t.Fatalf("curve shape: %+v", c)
	}
	for i := 1; i < 11; i++ {
		if c.Wall[i] <= c.Wall[i-1] {
			t.Errorf("wall power not rising with load at %v %%: %v", c.Loads[i], c.Wall)
		}
		if c.CPU[i]+c.Memory[i] > c.Wall[i] {
			t.Errorf("parts exceed the wall at %v %%", c.Loads[i])
		}
	}

	code, out, _ = runWattlens(t, "model", "--cpu", "AMD EPYC 7R13", "--vcpus", "4", "--memory-gb", "8")
	if code != 0 || !strings.Contains(out, "estimated") || !strings.Contains(out, "VM share: 4 vCPUs") {
		t.Errorf("vm curve: exit %d\n%s", code, out)
	}
	if code, _, stderr = runWattlens(t, "model", "--cpu", "x", "--sockets", "0"); code != 2 || !strings.Contains(stderr, "--sockets") {
		t.Errorf("bad --sockets: exit %d, %q", code, stderr)
	}
}

// The case: an E5345 server that drew 334-357 W at full load
// (SPECpower, Supermicro 6025B-TR+) got 73 W from a thread-scaled fallback.
func TestModelCommandUnknownCPU(t *testing.T) {
	code, out, stderr := runWattlens(t, "model", "--cpu", "Intel Xeon processor E5345", "--sockets", "2", "--threads", "8", "--memory-gb", "8", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var c struct {
		Wall []float64 `json:"wall_watts"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || len(c.Wall) != 11 {
		t.Fatalf("bad json %q: %v", out, err)
	}
	if full := c.Wall[10]; full < 334*0.7 || full > 357*1.3 {
		t.Errorf("full load %.1f W; published 334-357 W, want within 30 %%", full)
	}
	code, out, _ = runWattlens(t, "model", "--cpu", "Intel Xeon processor E5345", "--sockets", "2", "--cores", "8", "--memory-gb", "8")
	for _, want := range []string{"CPU not in table", "fallback TDP", "4 cores/socket (cores)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, method line lacks %q:\n%s", code, want, out)
		}
	}
	if code, _, stderr = runWattlens(t, "model", "--cpu", "x", "--cores", "-1"); code != 2 || !strings.Contains(stderr, "--cores") {
		t.Errorf("bad --cores: exit %d, %q", code, stderr)
	}
}

func TestCalibrateCommand(t *testing.T) {
	sys := fakeRAPL(t) // 50 W flat
	code, out, stderr := runWattlens(t, "--path.sysfs", sys, "-s", "powercap_rapl", "calibrate", "--duration", "1.2", "--step", "0.3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"samples ", "from powercap_rapl", "model error", "fit "} {
		if !strings.Contains(out, want) {
			t.Errorf("calibrate output lacks %q:\n%s", want, out)
		}
	}
}

// TestCalibrateRefusesAnEstimateAtOnce: a sensor that only estimates is
// refused before sampling starts (exit 2, the reason), not after
// --duration.
func TestCalibrateRefusesAnEstimateAtOnce(t *testing.T) {
	began := time.Now()
	code, out, stderr := runWattlens(t, "-s", "estimate", "calibrate", "--duration", "30", "--step", "1")
	took := time.Since(began)
	if code != 2 || !strings.Contains(stderr, "measuring sensor") || !strings.Contains(stderr, "estimate only estimates") || out != "" {
		t.Errorf("calibrating the estimate against itself: exit %d, stderr %q, stdout %q", code, stderr, out)
	}
	if took > 10*time.Second {
		t.Errorf("refused after %s; want at once, not after --duration 30", took)
	}
}

func TestUnknownCommandNamesTheValidOnes(t *testing.T) {
	code, _, stderr := runWattlens(t, "stdoot")
	if code != 2 || !strings.Contains(stderr, "valid commands: stdout, json, prometheus") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, %q: want one line naming the valid commands, exit 2", code, stderr)
	}
}

// TestModelCommandRefusesNonFinite: NaN and Inf are usage errors that
// name the flag, never a figure.
func TestModelCommandRefusesNonFinite(t *testing.T) {
	for _, args := range [][]string{
		{"--memory-gb", "NaN"}, {"--memory-gb", "Inf"}, {"--memory-gb", "-Inf"}, {"--sockets", "2.5"}, {"--threads", "x"},
	} {
		code, out, stderr := runWattlens(t, append([]string{"model", "--cpu", "Intel Xeon Gold 6248"}, args...)...)
		if code != 2 || !strings.Contains(stderr, args[0]) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 2, the flag named, nothing printed", args, code, stderr, out)
		}
	}
}
