package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needEBPF skips unless wattlens can load its eBPF program here.
func needEBPF(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	if os.Geteuid() != 0 {
		t.Skip("the eBPF CPU source needs root (CAP_BPF and CAP_PERFMON); run as root to cover it")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("the kernel has no BTF (/sys/kernel/btf/vmlinux): the eBPF CPU source cannot load here")
	}
}

// TestEBPFBurners is TestJSONAgainstFakeRAPL's check of burners with
// --cpu-source ebpf: each burner's CPU time as wattlens read it is its own
// rusage within 5 %, its energy its CPU share within 5 %, and consumers
// plus idle make the host.
func TestEBPFBurners(t *testing.T) {
	needEBPF(t)
	watts := map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20, "intel-rapl:0:0": 5, "intel-rapl:1:0": 3}
	sysfs, _ := fakeRAPL(t, watts, 70_000_000)
	duties := []float64{0.6, 0.3}
	pids := map[int]float64{}
	traces := map[int]string{}
	for i, d := range duties {
		trace := filepath.Join(t.TempDir(), fmt.Sprintf("trace%d", i))
		b := startBurner(t, d, 15*time.Second, "-trace", trace)
		pids[b.Process.Pid] = d
		traces[b.Process.Pid] = trace
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wattlensBin, "--cpu-source", "ebpf", "-s", "powercap_rapl", "--path.sysfs", sysfs,
		"--idle-power", "10", "json", "--step", "1", "--timeout", "7", "--max-top-consumers", "100000")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("stderr:\n%s", stderr.String())
	if err != nil {
		t.Fatalf("wattlens: %v", err)
	}
	if !strings.Contains(stderr.String(), "per-process cpu time from ebpf") {
		t.Errorf("wattlens does not say it uses the ebpf source")
	}
	recs := decode(t, out)
	if len(recs) < 5 {
		t.Fatalf("got %d lines, want at least 5", len(recs))
	}
	first, last := recs[0], recs[len(recs)-1]
	energy, expected, cpu := map[int]float64{}, map[int]float64{}, map[int]float64{}
	for i, r := range recs {
		var total float64
		for _, c := range r.Consumers {
			total += c.EnergyJoules
		}
		if e := relErr(total+r.Idle.EnergyJoules, r.Host.EnergyJoules); e > 0.01 {
			t.Errorf("line %d: consumers %.3f J + idle %.3f J vs host %.3f J", i, total, r.Idle.EnergyJoules, r.Host.EnergyJoules)
		}
		if i == 0 {
			continue
		}
		active := r.Host.IntervalEnergyJoules - r.Idle.IntervalEnergyJoules
		busy := max(r.Attribution.BusyCPUSeconds, r.Attribution.ProcessCPUSeconds)
		for _, c := range r.Consumers {
			if _, ok := pids[c.PID]; ok && c.Kind == "process" && busy > 0 {
				energy[c.PID] += c.IntervalEnergyJoules
				expected[c.PID] += active * c.CPUSeconds / busy
				cpu[c.PID] += c.CPUSeconds
			}
		}
	}
	for pid, duty := range pids {
		own := cpuTrace(t, traces[pid], last.Timestamp) - cpuTrace(t, traces[pid], first.Timestamp)
		t.Logf("burner %d duty %.1f: ebpf cpu %.3f s, its rusage %.3f s; %.3f J, cpu share %.3f J", pid, duty, cpu[pid], own, energy[pid], expected[pid])
		if e := relErr(cpu[pid], own); e > 0.05 {
			t.Errorf("burner %d: wattlens read %.3f s of cpu, its own rusage says %.3f s: off by %.1f %%", pid, cpu[pid], own, 100*e)
		}
		if expected[pid] <= 0 {
			t.Errorf("burner %d got no cpu share", pid)
		} else if e := relErr(energy[pid], expected[pid]); e > 0.05 {
			t.Errorf("burner %d: %.3f J, its CPU-time share is %.3f J: off by %.1f %%", pid, energy[pid], expected[pid], 100*e)
		}
	}
}

// TestEBPFRefused runs wattlens in an unprivileged user namespace, where
// the kernel refuses to load BPF programs: --cpu-source ebpf fails and says
// why, auto falls back to procfs with one line saying why, and info says
// procfs. In a PID namespace of its own, where /proc does not show the
// kernel's PIDs, --cpu-source ebpf fails too.
func TestEBPFRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1) to make an unprivileged user namespace")
	}
	if err := exec.Command(unshare, "-U", "true").Run(); err != nil {
		t.Skipf("cannot make a user namespace here: %v", err)
	}
	sysfs, _ := fakeRAPL(t, map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20}, 0)
	base := []string{"-U", wattlensBin, "-s", "powercap_rapl", "--path.sysfs", sysfs}

	code, _, stderr := runExit(t, unshare, append(base, "--cpu-source", "ebpf", "json", "--step", "1", "--timeout", "1")...)
	if code != 1 || !strings.Contains(stderr, "--cpu-source ebpf: cannot use the eBPF source: not permitted") {
		t.Errorf("--cpu-source ebpf refused: exit %d, want 1 and why; stderr:\n%s", code, stderr)
	}

	code, out, stderr := runExit(t, unshare, append(base, "json", "--step", "1", "--timeout", "2")...)
	if code != 0 || len(decode(t, []byte(out))) == 0 {
		t.Errorf("auto, refused: exit %d, %d bytes of output, want 0 and reports", code, len(out))
	}
	if n := strings.Count(stderr, "per-process cpu time from procfs"); n != 1 || !strings.Contains(stderr, "not permitted to load BPF programs") {
		t.Errorf("auto, refused: want one line saying procfs and why; stderr:\n%s", stderr)
	}

	// In a PID namespace of its own (as root: the program loads), /proc
	// does not name processes with the kernel's PIDs.
	pidns := []string{"-p", "-f", "--mount-proc", wattlensBin, "-s", "powercap_rapl", "--path.sysfs", sysfs}
	if os.Geteuid() == 0 && exec.Command(unshare, "-p", "-f", "--mount-proc", "true").Run() == nil {
		code, _, stderr = runExit(t, unshare, append(pidns, "--cpu-source", "ebpf", "json", "--step", "1", "--timeout", "1")...)
		if code != 1 || !strings.Contains(stderr, "does not show processes with the kernel's PIDs") {
			t.Errorf("--cpu-source ebpf in a PID namespace: exit %d, want 1 and why; stderr:\n%s", code, stderr)
		}
	}

	_, out, _ = runExit(t, unshare, append(base, "info")...)
	if !strings.Contains(out, "Process CPU time\n  procfs (auto: the eBPF source cannot be used here: not permitted") {
		t.Errorf("info does not say procfs and why:\n%s", out)
	}
}

// runExit runs a command to completion within 30 s and returns its exit
// status, standard output and standard error.
func runExit(t *testing.T, name string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return code, stdout.String(), stderr.String()
}
