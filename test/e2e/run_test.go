package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type runSummary struct {
	Command           []string `json:"command"`
	DurationSeconds   float64  `json:"duration_seconds"`
	ExitCode          int      `json:"exit_code"`
	EnergyJoules      float64  `json:"energy_joules"`
	HostEnergyJoules  float64  `json:"host_energy_joules"`
	HostSeconds       float64  `json:"host_duration_seconds"`
	IdlePowerWatts    float64  `json:"idle_power_watts"`
	IdleOrigin        string   `json:"idle_origin"`
	AveragePowerWatts float64  `json:"average_power_watts"`
	PeakPowerWatts    float64  `json:"peak_power_watts"`
	CPUSeconds        float64  `json:"cpu_seconds"`
	HostCPUSeconds    float64  `json:"host_cpu_seconds"`
	Processes         int      `json:"processes"`
	Sensor            string   `json:"sensor"`
	Source            string   `json:"source"`
	Series            []struct {
		T          float64 `json:"t"`
		PowerWatts float64 `json:"power_watts"`
	} `json:"series"`
}

// wattlensRun runs `wattlens <global> run --json --output F -- argv` and
// returns the summary and the exit error.
func wattlensRun(t *testing.T, global []string, argv ...string) (runSummary, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "summary.json")
	args := append(append(global, "run", "--json", "--output", out, "--"), argv...)
	cmd := exec.Command(wattlensBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	t.Logf("wattlens %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	var s runSummary
	b, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("no summary: %v", rerr)
	}
	if jerr := json.Unmarshal(b, &s); jerr != nil {
		t.Fatalf("bad summary %s: %v", b, jerr)
	}
	return s, err
}

func TestRunTreeEnergy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sysfs, _ := fakeRAPL(t, map[string]float64{"intel-rapl:0": 40, "intel-rapl:1": 20}, 0)
	report := filepath.Join(t.TempDir(), "cpu")
	// The burner, its child and its grandchild each burn 30 % of a CPU.
	s, err := wattlensRun(t, []string{"-s", "powercap_rapl", "--path.sysfs", sysfs, "--idle-power", "15"},
		burnerBin, "-duty", "0.3", "-for", "4s", "-children", "2", "-report", report)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	selfCPU, _ := strconv.ParseFloat(string(b), 64)
	t.Logf("summary: %+v; the burner's own rusage: %.3f s", s, selfCPU)
	if s.Processes < 3 {
		t.Errorf("processes = %d, want the burner, its child and grandchild", s.Processes)
	}
	if e := relErr(s.CPUSeconds, selfCPU); e > 0.05 {
		t.Errorf("cpu %.3f s, the tree's own rusage says %.3f s: off by %.1f %%", s.CPUSeconds, selfCPU, 100*e)
	}
	if e := relErr(s.HostEnergyJoules/s.DurationSeconds, 60); e > 0.05 {
		t.Errorf("host %.2f W, helper wrote 60 W", s.HostEnergyJoules/s.DurationSeconds)
	}
	// The command's CPU time is priced per busy CPU-second of the machine
	// (docs/attribution.md): at most its share of the CPU time processes
	// held, at least its share of all the CPU time there was.
	active := s.HostEnergyJoules - 15*s.HostSeconds
	most := active * s.CPUSeconds / s.HostCPUSeconds
	least := active * s.CPUSeconds / (s.HostSeconds * float64(runtime.NumCPU()))
	if s.EnergyJoules > most*1.05 || s.EnergyJoules < least*0.95 {
		t.Errorf("energy %.2f J, want between its share of all the CPU time (%.2f J) and of the processes' (%.2f J)", s.EnergyJoules, least, most)
	}
	if s.Source != "measured" || s.Sensor != "powercap_rapl" || len(s.Series) < 3 {
		t.Errorf("source %q sensor %q series %d points", s.Source, s.Sensor, len(s.Series))
	}
	for _, p := range s.Series[:len(s.Series)-1] {
		if p.PowerWatts <= 0 || p.PowerWatts > 60 {
			t.Errorf("series point %+v: want the command's power, between 0 and the host's 60 W", p)
		}
	}
}

func TestRunShortCommandGetsAFigure(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	// A host whose power follows its busy CPUs: on a constant-power fake
	// the measured idle is all of it, and 0 J would be the right answer.
	sysfs, _ := startCPUMeter(t, 20, 15)
	s, err := wattlensRun(t, []string{"-s", "powercap_rapl", "--path.sysfs", sysfs}, burnerBin, "-duty", "1", "-for", "200ms")
	if err != nil {
		t.Fatal(err)
	}
	if s.EnergyJoules <= 0 || s.CPUSeconds <= 0 {
		t.Errorf("a 0.2 s command got %.4f J and %.3f s cpu; want non-zero", s.EnergyJoules, s.CPUSeconds)
	}
}

func TestRunEstimateSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s, err := wattlensRun(t, []string{"-s", "estimate"}, burnerBin, "-duty", "1", "-for", "1s")
	if err != nil {
		t.Fatal(err)
	}
	if s.Source != "estimated" || s.EnergyJoules <= 0 {
		t.Errorf("estimate: source %q energy %.3f J", s.Source, s.EnergyJoules)
	}
}

func TestRunExitStatusAndSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	global := []string{"-s", "estimate"}
	_, err := wattlensRun(t, global, burnerBin, "-duty", "0", "-for", "10ms", "-exit", "3")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exit status: %v, want 3", err)
	}
	_, err = wattlensRun(t, global, "sh", "-c", "kill -USR1 $$")
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGUSR1 {
		t.Errorf("a command killed by SIGUSR1: wattlens ended with %v, want the same signal", err)
	}

	// SIGTERM sent to wattlens reaches the command.
	cmd := exec.Command(wattlensBin, "-s", "estimate", "run", "--", "sh", "-c", "trap 'exit 42' TERM; sleep 20 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if !errors.As(err, &ee) || ee.ExitCode() != 42 {
			t.Errorf("after SIGTERM: %v, want the command's own exit 42", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("SIGTERM was not forwarded: wattlens run still running")
	}
}

func TestRunStreamsUntouched(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	in := make([]byte, 3<<20)
	_, _ = rand.Read(in)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wattlensBin, "-s", "estimate", "run", "--output", filepath.Join(t.TempDir(), "s"), "--", "cat")
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if !bytes.Equal(in, out.Bytes()) {
		t.Errorf("wattlens run -- cat changed the stream: %d bytes in, %d out", len(in), out.Len())
	}
	if stderr.Len() != 0 {
		t.Errorf("with --output, standard error should be untouched; got %q", stderr.String())
	}
}

// runResources is the per-resource part of a run's --json.
type runResources struct {
	EnergyJoules float64 `json:"energy_joules"`
	Resources    map[string]struct {
		EnergyJoules     float64 `json:"energy_joules"`
		HostEnergyJoules float64 `json:"host_energy_joules"`
	} `json:"resources"`
	StorageBy     string `json:"storage_by"`
	StorageBytes  uint64 `json:"storage_bytes"`
	HostDiskBytes uint64 `json:"host_disk_bytes"`
	NetworkBy     string `json:"network_by"`
}

// wattlensRunResources is wattlensRun reading the resources of the summary.
func wattlensRunResources(t *testing.T, global []string, argv ...string) runResources {
	t.Helper()
	out := filepath.Join(t.TempDir(), "summary.json")
	args := append(append(global, "run", "--json", "--output", out, "--"), argv...)
	cmd := exec.Command(wattlensBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("wattlens %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r runResources
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("bad summary %s: %v", b, err)
	}
	t.Logf("wattlens %s: %+v", strings.Join(args, " "), r)
	return r
}

// TestRunStorageByBytes runs a writer doing O_DIRECT writes and a CPU
// burner under `wattlens run` on the estimate sensor of this machine (its
// real disks and /proc/diskstats). The command's tree is all wattlens run
// reads, so its storage is priced against the host's disk bytes: the
// writer gets most of the disks' energy, the burner none, and each run's
// resources add up to its energy.
func TestRunStorageByBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	dir := t.TempDir() // on a disk, as in TestResourcesOnEstimate
	global := []string{"-s", "estimate"}
	check := func(name string, r runResources) {
		t.Helper()
		var sum float64
		for _, res := range []string{"cpu", "memory", "storage", "network", "gpu", "platform"} {
			x, ok := r.Resources[res]
			if !ok {
				t.Errorf("%s: no %s in the summary's resources", name, res)
			}
			if x.EnergyJoules < 0 || x.EnergyJoules > x.HostEnergyJoules+1e-6 {
				t.Errorf("%s: %s %.6f J of the host's %.6f J", name, res, x.EnergyJoules, x.HostEnergyJoules)
			}
			sum += x.EnergyJoules
		}
		if d := sum - r.EnergyJoules; d > 1e-5 || d < -1e-5 {
			t.Errorf("%s: resources add up to %.6f J, energy %.6f J", name, sum, r.EnergyJoules)
		}
		if r.StorageBy != "bytes" {
			t.Errorf("%s: storage_by %q, want bytes (this machine's disks are readable)", name, r.StorageBy)
		}
	}

	w := wattlensRunResources(t, global, ioload(t), "-disk", filepath.Join(dir, "data"), "-for", "5s")
	check("writer", w)
	st := w.Resources["storage"]
	if st.HostEnergyJoules <= 0 || w.HostDiskBytes == 0 {
		t.Fatalf("writer: host storage %.3f J, disks %d bytes: the disks' activity was not seen", st.HostEnergyJoules, w.HostDiskBytes)
	}
	// Other processes of this machine (builds, tests) may write too.
	if st.EnergyJoules < 0.5*st.HostEnergyJoules {
		t.Errorf("writer got %.3f J of the host's %.3f J of storage energy (%d of %d bytes), want most",
			st.EnergyJoules, st.HostEnergyJoules, w.StorageBytes, w.HostDiskBytes)
	}

	b := wattlensRunResources(t, global, burnerBin, "-duty", "1", "-for", "3s")
	check("burner", b)
	if got, host := b.Resources["storage"].EnergyJoules, b.Resources["storage"].HostEnergyJoules; got > 0.05*host || got > 0.05*st.EnergyJoules {
		t.Errorf("burner got %.4f J of the host's %.4f J of storage energy (%d bytes of its own); it does no I/O", got, host, b.StorageBytes)
	}
	if b.Resources["cpu"].EnergyJoules <= 0 {
		t.Errorf("burner: no cpu energy")
	}
}

// TestRunOwnNetNSByBytes: a command in a network namespace of its own
// (unshare -n) has its network energy priced by that namespace's bytes,
// and says so; its traffic over its own lo moves no NIC, so it gets none.
func TestRunOwnNetNSByBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	if os.Geteuid() != 0 {
		t.Skip("unshare -n needs root")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	r := wattlensRunResources(t, []string{"-s", "estimate"}, "unshare", "-n", "sh", "-c",
		"ip link set lo up && exec "+ioload(t)+" -loopback -for 3s")
	if r.NetworkBy != "netns" {
		t.Errorf("network_by %q, want netns (the command had a namespace of its own)", r.NetworkBy)
	}
	if got := r.Resources["network"].EnergyJoules; got != 0 {
		t.Errorf("network %.6f J for traffic over the namespace's own lo, want 0", got)
	}
}
