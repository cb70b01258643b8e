// Package e2e runs the real wattlens binary against generated sysfs trees
// and real CPU-burning processes, and checks what it reports.
//
// Shared helpers live here: TestMain builds wattlens and the burner once;
// every test gets their paths from wattlensBin and burnerBin.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

var (
	wattlensBin string
	burnerBin   string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wattlens-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	wattlensBin = filepath.Join(dir, "wattlens")
	burnerBin = filepath.Join(dir, "burner")
	for bin, pkg := range map[string]string{wattlensBin: "../../cmd/wattlens", burnerBin: "../burner"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, ":", err)
			return 1
		}
	}
	return m.Run()
}

// fakeRAPL builds an Intel two-socket powercap tree under a new sysfs root
// and drives its counters in real time at the given watts per zone, with a
// small range so they wrap every few seconds. It returns the sysfs root.
func fakeRAPL(t *testing.T, watts map[string]float64, maxRange uint64) (string, *powercaptest.Advancer) {
	t.Helper()
	root := t.TempDir()
	return root, powercaptest.Start(t, root, powercaptest.IntelServer2S(), watts, maxRange)
}

// startBurner starts a burner at duty (share of one CPU) for d.
func startBurner(t *testing.T, duty float64, d time.Duration, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"-duty", fmt.Sprint(duty), "-for", d.String()}, extra...)
	cmd := exec.Command(burnerBin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// cpuTrace reads a burner's -trace file and returns its CPU seconds at t,
// interpolated between the two samples around it.
func cpuTrace(t *testing.T, path string, at time.Time) float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type pt struct {
		ns  int64
		cpu float64
	}
	var pts []pt
	for _, l := range lines(strings.NewReader(string(b))) {
		var p pt
		if _, err := fmt.Sscan(l, &p.ns, &p.cpu); err == nil {
			pts = append(pts, p)
		}
	}
	ns := at.UnixNano()
	for i := 1; i < len(pts); i++ {
		if pts[i].ns >= ns && pts[i-1].ns <= ns {
			f := float64(ns-pts[i-1].ns) / float64(pts[i].ns-pts[i-1].ns)
			return pts[i-1].cpu + f*(pts[i].cpu-pts[i-1].cpu)
		}
	}
	t.Fatalf("trace %s does not cover %v", path, at)
	return 0
}

// runWattlens runs the binary to completion (bounded by limit) and returns
// its standard output; standard error is logged.
func runWattlens(t *testing.T, limit time.Duration, args ...string) []byte {
	t.Helper()
	return runCommand(t, limit, wattlensBin, args...)
}

// runCommand runs a command to completion (bounded by limit) and returns
// its standard output; standard error is logged.
func runCommand(t *testing.T, limit time.Duration, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("%s %s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), stderr.String())
	if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
	}
	return out
}

// lines splits NDJSON output.
func lines(r io.Reader) []string {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
