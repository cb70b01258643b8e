package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRunJSONPeakAndPipe: `wattlens run --json -- sleep` writes one JSON
// object to standard output (so | jq works) and its peak is the highest
// power over a full step, or the average: never the few milliseconds from
// the last tick to the exit (peaks of 1.2–7.1 W against averages of
// 0.0006–0.03 W were reported).
func TestRunJSONPeakAndPipe(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const step = 0.5
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, wattlensBin, "-s", "estimate", "run", "--json", "--step", "0.5", "--", "sleep", "1.2")
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("%v: %s", err, stderr.String())
		}
		dec := json.NewDecoder(&out)
		var s runSummary
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("standard output is not the JSON summary: %v\nstdout %q\nstderr %q", err, out.String(), stderr.String())
		}
		if dec.More() {
			t.Errorf("more than one JSON value on standard output")
		}
		if strings.Contains(stderr.String(), "peak_power_watts") {
			t.Errorf("the summary went to standard error: %s", stderr.String())
		}
		// The highest power over a full step (at least half a step long;
		// the first point's interval starts before the command and is one).
		want, prev := 0.0, 0.0
		for j, p := range s.Series {
			if j == 0 || p.T-prev >= step/2 {
				want = max(want, p.PowerWatts)
			}
			prev = p.T
		}
		want = max(want, s.AveragePowerWatts)
		if d := s.PeakPowerWatts - want; d > 1e-5 || d < -1e-5 {
			t.Errorf("run %d: peak %.6f W, want %.6f W (the highest full step, or the average %.6f W); series %+v",
				i, s.PeakPowerWatts, want, s.AveragePowerWatts, s.Series)
		}
		t.Logf("run %d: sleep 1.2 at step 0.5 s: average %.6f W, peak %.6f W, %d points", i, s.AveragePowerWatts, s.PeakPowerWatts, len(s.Series))
	}
}

// TestTakenPortBinary: the real binary, on a taken port, prints one line
// naming the command, the address and --web.listen-address, exits 2, and
// logs nothing before it.
func TestTakenPortBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	addr := l.Addr().String()
	for _, command := range []string{"web", "prometheus"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, wattlensBin, "-s", "estimate", command, "--web.listen-address", addr)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		err := cmd.Run()
		cancel()
		var ee *exec.ExitError
		want := "wattlens: error: " + command + ": cannot listen on " + addr + ": address already in use; give another address with --web.listen-address\n"
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || stderr.String() != want || out.Len() != 0 {
			t.Errorf("%s on a taken port: %v, stderr %q, stdout %q; want exit 2 and only %q", command, err, stderr.String(), out.String(), want)
		}
	}
}
