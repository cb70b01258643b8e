package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// wattlensExit runs wattlens to completion within limit and returns its
// exit status, standard output and standard error.
func wattlensExit(t *testing.T, limit time.Duration, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, wattlensBin, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("wattlens %s: still running after %s", strings.Join(args, " "), limit)
	}
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), stderr.String()
}

// TestFaultFIFOInSysfs: a FIFO in place of energy_uj neither blocks
// start-up nor deafens wattlens to SIGTERM.
func TestFaultFIFOInSysfs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sysfs, _ := fakeRAPL(t, map[string]float64{"intel-rapl:0": 10}, 0)
	energy := filepath.Join(sysfs, "class", "powercap", "intel-rapl:1", "energy_uj")
	if _, err := os.Stat(energy); err != nil {
		t.Skipf("fixture layout: %v", err)
	}
	if err := os.Remove(energy); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(energy, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := wattlensExit(t, 30*time.Second, "-s", "powercap_rapl", "--path.sysfs", sysfs, "json", "-t", "1", "--step", "0.5")
	t.Logf("exit %d\nstdout %s\nstderr %s", code, out, stderr)
	if !strings.Contains(stderr, "not a regular file") {
		t.Errorf("want the FIFO named as not a regular file in:\n%s", stderr)
	}

	// SIGTERM ends it in any case, in a few seconds at most.
	cmd := exec.Command(wattlensBin, "-s", "powercap_rapl", "--path.sysfs", sysfs, "json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("wattlens ended after SIGTERM: %v", err)
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("wattlens did not end within 15 s of SIGTERM")
	}
}

// TestFaultBadInputExitsTwo: mistakes on the command line are refused
// before anything starts, with the flag's name, exit 2.
func TestFaultBadInputExitsTwo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	marker := filepath.Join(t.TempDir(), "ran")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--idle-power", "NaN", "stdout"}, "--idle-power"},
		{[]string{"--idle-power", "abc", "stdout"}, "--idle-power"},
		{[]string{"stdout", "-p", "2.5"}, "-p/--processes"},
		{[]string{"json", "--step", "1ns"}, "--step"},
		{[]string{"json", "--step", "NaN"}, "--step"},
		{[]string{"json", "--step=-5"}, "--step"},
		{[]string{"-s", "estimate,estimate", "info"}, "given twice"},
		{[]string{"-s", "estimate", "run", "--carbon-intensity", "Inf", "--", "touch", marker}, "--carbon-intensity"},
		{[]string{"-s", "estimate", "run", "--output", "/nonexistent/dir/x", "--", "touch", marker}, "--output"},
	}
	for _, tt := range tests {
		code, _, stderr := wattlensExit(t, 30*time.Second, tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("wattlens %s: exit %d, stderr %q; want 2 and %q", strings.Join(tt.args, " "), code, stderr, tt.want)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a run with a bad flag started its command")
	}
}

// TestFaultRunStartFailures: 127 for a command not found, 126 for one
// that cannot be run, as shells say.
func TestFaultRunStartFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	noexec := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{noexec: 126, "/nonexistent/cmd": 127} {
		if code, _, stderr := wattlensExit(t, 30*time.Second, "-s", "estimate", "run", "--", path); code != want {
			t.Errorf("run %s: exit %d (%s), want %d", path, code, stderr, want)
		}
	}
}

// TestFaultPartialInterval: a timeout shorter than the step, and SIGTERM
// mid-step, still report the interval measured, with its true length.
func TestFaultPartialInterval(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sysfs, adv := fakeRAPL(t, map[string]float64{"intel-rapl:0": 20}, 0)
	out := runWattlens(t, 60*time.Second, "-s", "powercap_rapl", "--path.sysfs", sysfs, "json", "-t", "1", "--step", "2")
	ls := lines(bytes.NewReader(out))
	if len(ls) != 1 {
		t.Fatalf("json -t 1 --step 2: %d lines, want 1 for the partial interval", len(ls))
	}
	var rec struct {
		Interval float64 `json:"interval_seconds"`
		Host     struct {
			PowerWatts float64 `json:"power_watts"`
		} `json:"host"`
	}
	if err := json.Unmarshal([]byte(ls[0]), &rec); err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v; written %.2f J", rec, adv.Written("intel-rapl:0"))
	if rec.Interval < 0.5 || rec.Interval > 2 {
		t.Errorf("interval %.3f s, want the partial 1–1.5 s", rec.Interval)
	}
	if rec.Host.PowerWatts <= 0 || rec.Host.PowerWatts > 40 {
		t.Errorf("host %.2f W over the partial interval; the fake draws 20 W", rec.Host.PowerWatts)
	}

	// SIGTERM at ~3 s into a 10 s step: one line, not none.
	file := filepath.Join(t.TempDir(), "out.ndjson")
	cmd := exec.Command(wattlensBin, "-s", "powercap_rapl", "--path.sysfs", sysfs, "json", "--step", "10", "--file", file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v", err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lines(bytes.NewReader(b))); n != 1 {
		t.Errorf("SIGTERM mid-step: %d lines, want 1", n)
	}
}

// TestFaultInfoHealthCheck: info exits non-zero when the sensor asked for
// does not work.
func TestFaultInfoHealthCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	empty := t.TempDir()
	code, out, _ := wattlensExit(t, 30*time.Second, "-s", "powercap_rapl", "--path.sysfs", empty, "info")
	if code == 0 {
		t.Errorf("info with no working sensor: exit 0\n%s", out)
	}
}
