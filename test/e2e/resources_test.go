package e2e

import (
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	ioloadOnce sync.Once
	ioloadBin  string
	ioloadErr  error
)

// ioload builds test/ioload once per test binary.
func ioload(t *testing.T) string {
	t.Helper()
	ioloadOnce.Do(func() {
		ioloadBin = filepath.Join(filepath.Dir(wattlensBin), "ioload")
		out, err := exec.Command("go", "build", "-o", ioloadBin, "../ioload").CombinedOutput()
		if err != nil {
			ioloadErr = err
			ioloadBin = string(out)
		}
	})
	if ioloadErr != nil {
		t.Fatalf("building ioload: %v\n%s", ioloadErr, ioloadBin)
	}
	return ioloadBin
}

func startIOLoad(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(ioload(t), args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// resFigures is one resource's figures in a json line.
type resFigures struct {
	EnergyJoules         float64 `json:"energy_joules"`
	IntervalEnergyJoules float64 `json:"interval_energy_joules"`
}

// resRecord is the part of a json line the resource test reads.
type resRecord struct {
	Host struct {
		Resources map[string]resFigures `json:"resources"`
	} `json:"host"`
	Idle struct {
		Resources map[string]resFigures `json:"resources"`
	} `json:"idle"`
	Consumers []struct {
		Kind         string                `json:"kind"`
		PID          int                   `json:"pid"`
		Resources    map[string]resFigures `json:"resources"`
		StorageBytes uint64                `json:"storage_bytes"`
	} `json:"consumers"`
}

var resourceNames = []string{"cpu", "memory", "storage", "network", "gpu", "platform"}

func uj(j float64) int64 { return int64(math.Round(j * 1e6)) }

// TestResourcesOnEstimate runs the real binary on the estimate sensor of
// the machine it runs on (its real /proc and /sys: its disks and NICs),
// with a process writing to a file with O_DIRECT, one talking to itself
// over loopback and a CPU burner. Each resource's energy must add up
// exactly, the writer must get the disk's energy and the burner none of
// it, and the burner more CPU energy than the others.
func TestResourcesOnEstimate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	dir := t.TempDir()
	writer := startIOLoad(t, "-disk", filepath.Join(dir, "data"), "-for", "20s")
	talker := startIOLoad(t, "-loopback", "-for", "20s")
	burner := startBurner(t, 1, 20*time.Second)

	out := runWattlens(t, 40*time.Second, "-s", "estimate", "--idle-power", "0",
		"json", "--step", "1", "--timeout", "9", "--max-top-consumers", "100000")
	var recs []resRecord
	for _, l := range lines(strings.NewReader(string(out))) {
		var r resRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("bad json line %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	if len(recs) < 6 {
		t.Fatalf("got %d lines, want at least 6", len(recs))
	}
	if _, ok := recs[0].Host.Resources["storage"]; !ok {
		t.Fatalf("no storage resource in %+v", recs[0].Host)
	}

	// Per resource, every line: consumers + idle = host, to the µJ.
	for i, r := range recs {
		for _, res := range resourceNames {
			var total, interval int64
			for _, c := range r.Consumers {
				total += uj(c.Resources[res].EnergyJoules)
				interval += uj(c.Resources[res].IntervalEnergyJoules)
			}
			total += uj(r.Idle.Resources[res].EnergyJoules)
			interval += uj(r.Idle.Resources[res].IntervalEnergyJoules)
			h := r.Host.Resources[res]
			if total != uj(h.EnergyJoules) || interval != uj(h.IntervalEnergyJoules) {
				t.Errorf("line %d, %s: consumers + idle = %d/%d µJ, host %d/%d µJ", i, res, total, interval, uj(h.EnergyJoules), uj(h.IntervalEnergyJoules))
			}
		}
	}

	// Over the run, from the second line (the first may catch the
	// processes starting).
	sum := func(pid int, res string) float64 {
		var e float64
		for _, r := range recs[1:] {
			for _, c := range r.Consumers {
				if c.Kind != "unattributed" && c.Kind != "other" && c.PID == pid {
					e += c.Resources[res].IntervalEnergyJoules
				}
			}
		}
		return e
	}
	var hostStorage float64
	for _, r := range recs[1:] {
		hostStorage += r.Host.Resources["storage"].IntervalEnergyJoules
	}
	w, tk, b := writer.Process.Pid, talker.Process.Pid, burner.Process.Pid
	t.Logf("storage: host %.3f J, writer %.3f J, talker %.3f J, burner %.3f J", hostStorage, sum(w, "storage"), sum(tk, "storage"), sum(b, "storage"))
	t.Logf("cpu: writer %.3f J, talker %.3f J, burner %.3f J", sum(w, "cpu"), sum(tk, "cpu"), sum(b, "cpu"))
	t.Logf("network: writer %.3f J, talker %.3f J, burner %.3f J", sum(w, "network"), sum(tk, "network"), sum(b, "network"))
	if hostStorage <= 0 {
		t.Fatal("no storage energy while a process writes with O_DIRECT: the disk's activity was not seen")
	}
	// Other processes of this machine (builds, tests) may write too: the
	// writer must hold most of the disk's energy, the burner none.
	if got := sum(w, "storage"); got < 0.5*hostStorage {
		t.Errorf("writer got %.3f J of %.3f J of storage energy, want at least half", got, hostStorage)
	}
	if got := sum(b, "storage"); got > 0.01*sum(w, "storage") {
		t.Errorf("burner got %.3f J of storage energy, writer %.3f J: the burner does no I/O", got, sum(w, "storage"))
	}
	if sum(b, "cpu") <= sum(w, "cpu") || sum(b, "cpu") <= sum(tk, "cpu") {
		t.Errorf("cpu energy: burner %.3f J, writer %.3f J, talker %.3f J: the burner should hold the most", sum(b, "cpu"), sum(w, "cpu"), sum(tk, "cpu"))
	}
}
