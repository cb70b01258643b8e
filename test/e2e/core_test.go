package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// record is the part of a json exporter line these tests read.
type record struct {
	Timestamp       time.Time `json:"timestamp"`
	IntervalSeconds float64   `json:"interval_seconds"`
	Sensor          string    `json:"sensor"`
	SensorUp        bool      `json:"sensor_up"`
	Host            struct {
		EnergyJoules         float64 `json:"energy_joules"`
		IntervalEnergyJoules float64 `json:"interval_energy_joules"`
		PowerWatts           float64 `json:"power_watts"`
		IdlePowerWatts       float64 `json:"idle_power_watts"`
		Source               string  `json:"source"`
	} `json:"host"`
	Idle struct {
		EnergyJoules         float64 `json:"energy_joules"`
		IntervalEnergyJoules float64 `json:"interval_energy_joules"`
	} `json:"idle"`
	Consumers   []consumer `json:"consumers"`
	Attribution struct {
		BusyCPUSeconds    float64  `json:"busy_cpu_seconds"`
		ProcessCPUSeconds float64  `json:"process_cpu_seconds"`
		Coverage          *float64 `json:"coverage"`
	} `json:"attribution"`
}

type consumer struct {
	Kind                 string  `json:"kind"`
	PID                  int     `json:"pid"`
	Exe                  string  `json:"exe"`
	Cmdline              string  `json:"cmdline"`
	VM                   string  `json:"vm"`
	EnergyJoules         float64 `json:"energy_joules"`
	IntervalEnergyJoules float64 `json:"interval_energy_joules"`
	PowerWatts           float64 `json:"power_watts"`
	CPUSeconds           float64 `json:"cpu_seconds"`
}

func decode(t *testing.T, out []byte) []record {
	t.Helper()
	var recs []record
	for _, l := range lines(strings.NewReader(string(out))) {
		var r record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("bad json line %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// TestJSONAgainstFakeRAPL is the core issue's yardstick: the real binary on
// a generated two-socket powercap tree whose counters advance in real time
// and wrap every few seconds, with two real burners at known duty cycles.
func TestJSONAgainstFakeRAPL(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	watts := map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20, "intel-rapl:0:0": 5, "intel-rapl:1:0": 3}
	const hostWatts = 58.0
	// 70 J range: package-0 wraps every 2.3 s.
	sysfs, _ := fakeRAPL(t, watts, 70_000_000)

	duties := []float64{0.6, 0.3}
	pids := map[int]float64{}
	traces := map[int]string{}
	for i, d := range duties {
		trace := filepath.Join(t.TempDir(), fmt.Sprintf("trace%d", i))
		b := startBurner(t, d, 20*time.Second, "-trace", trace)
		pids[b.Process.Pid] = d
		traces[b.Process.Pid] = trace
	}

	out := runWattlens(t, 40*time.Second, "-s", "powercap_rapl", "--path.sysfs", sysfs, "--idle-power", "10",
		"json", "--step", "1", "--timeout", "9", "--max-top-consumers", "100000")
	recs := decode(t, out)
	if len(recs) < 6 {
		t.Fatalf("got %d lines, want at least 6:\n%s", len(recs), out)
	}

	first, last := recs[0], recs[len(recs)-1]
	span := last.Timestamp.Sub(first.Timestamp).Seconds()
	rate := (last.Host.EnergyJoules - first.Host.EnergyJoules) / span
	t.Logf("host: %.3f W over %.2f s (helper wrote %.1f W)", rate, span, hostWatts)
	if e := relErr(rate, hostWatts); e > 0.03 {
		t.Errorf("host power %.3f W, helper wrote %.1f W: off by %.1f %% (> 3 %%)", rate, hostWatts, 100*e)
	}

	burnerEnergy := map[int]float64{}
	burnerExpected := map[int]float64{}
	burnerCPU := map[int]float64{}
	for i, r := range recs {
		if !r.SensorUp || r.Sensor != "powercap_rapl" || r.Host.Source != "measured" {
			t.Fatalf("line %d: sensor %q up=%v source %q", i, r.Sensor, r.SensorUp, r.Host.Source)
		}
		var total, interval, cpu float64
		for _, c := range r.Consumers {
			total += c.EnergyJoules
			interval += c.IntervalEnergyJoules
			if c.Kind == "process" {
				cpu += c.CPUSeconds
			}
		}
		if e := relErr(total+r.Idle.EnergyJoules, r.Host.EnergyJoules); e > 0.01 {
			t.Errorf("line %d: consumers %.3f J + idle %.3f J vs host %.3f J: off by %.2f %%", i, total, r.Idle.EnergyJoules, r.Host.EnergyJoules, 100*e)
		}
		if e := relErr(interval+r.Idle.IntervalEnergyJoules, r.Host.IntervalEnergyJoules); e > 0.01 {
			t.Errorf("line %d: interval consumers %.3f J + idle %.3f J vs host %.3f J", i, interval, r.Idle.IntervalEnergyJoules, r.Host.IntervalEnergyJoules)
		}
		if i == 0 || cpu == 0 {
			continue // the first line's processes have no cpu history in common with ours
		}
		// Each process is priced per busy CPU-second of the machine.
		active := r.Host.IntervalEnergyJoules - r.Idle.IntervalEnergyJoules
		busy := max(r.Attribution.BusyCPUSeconds, r.Attribution.ProcessCPUSeconds)
		for _, c := range r.Consumers {
			if _, ok := pids[c.PID]; ok && c.Kind == "process" {
				burnerEnergy[c.PID] += c.IntervalEnergyJoules
				burnerExpected[c.PID] += active * c.CPUSeconds / busy
				burnerCPU[c.PID] += c.CPUSeconds
			}
		}
	}
	// The CPU time wattlens read from line 1 on covers (line 0, last].
	measuredSpan := last.Timestamp.Sub(first.Timestamp).Seconds()
	for pid, duty := range pids {
		got, want := burnerEnergy[pid], burnerExpected[pid]
		t.Logf("burner pid %d duty %.1f: %.3f J, CPU share gives %.3f J; cpu %.2f s over %.2f s", pid, duty, got, want, burnerCPU[pid], measuredSpan)
		if want <= 0 {
			t.Errorf("burner %d got no cpu share at all", pid)
			continue
		}
		if e := relErr(got, want); e > 0.05 {
			t.Errorf("burner %d: %.3f J, its CPU-time share is %.3f J: off by %.1f %% (> 5 %%)", pid, got, want, 100*e)
		}
		// The CPU time wattlens read must be what the burner itself
		// measured (getrusage) over the same window, so the shares above
		// are the real CPU-time shares.
		own := cpuTrace(t, traces[pid], last.Timestamp) - cpuTrace(t, traces[pid], first.Timestamp)
		t.Logf("burner %d: wattlens read %.3f s of cpu, the burner's own rusage says %.3f s", pid, burnerCPU[pid], own)
		if e := relErr(burnerCPU[pid], own); e > 0.05 {
			t.Errorf("burner %d: wattlens read %.3f s of cpu, its own rusage says %.3f s: off by %.1f %%", pid, burnerCPU[pid], own, 100*e)
		}
	}
}
