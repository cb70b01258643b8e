package run

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/units"
)

type fakeProcs struct{ procs []procstat.Proc }

func (f *fakeProcs) Read(dst []procstat.Proc) ([]procstat.Proc, procstat.Stats, error) {
	return append(dst, f.procs...), procstat.Stats{}, nil
}
func (f *fakeProcs) CPUTimes() (procstat.CPUTimes, error) { return procstat.CPUTimes{}, nil }

func p(pid, ppid int, cpu, child uint64) procstat.Proc {
	return procstat.Proc{Key: procstat.Key{PID: pid, StartTime: 1}, PPID: ppid, CPU: cpu, ChildCPU: child}
}

func TestTreeReaderFoldsTheTree(t *testing.T) {
	inner := &fakeProcs{}
	tr := newTreeReader(inner)
	tr.setRoot(100, 5, []string{"make", "-j2"})

	steps := []struct {
		name    string
		procs   []procstat.Proc
		exitCPU uint64
		exited  bool
		wantCPU uint64
		wantPID []int
	}{
		{
			name:    "root, child and grandchild fold into one; others stay",
			procs:   []procstat.Proc{p(1, 0, 5, 0), p(100, 50, 10, 0), p(101, 100, 20, 0), p(102, 101, 30, 0), p(200, 1, 7, 0)},
			wantCPU: 60, wantPID: []int{1, 200, 100},
		},
		{
			name:    "grandchild reaped by the child: its time moves into cutime",
			procs:   []procstat.Proc{p(1, 0, 5, 0), p(100, 50, 11, 0), p(101, 100, 21, 35), p(200, 1, 7, 0)},
			wantCPU: 67, wantPID: []int{1, 200, 100},
		},
		{
			name:    "a race that reads less than before never goes backwards",
			procs:   []procstat.Proc{p(100, 50, 11, 0)},
			wantCPU: 67, wantPID: []int{100},
		},
		{
			name:   "after exit the rusage counts",
			procs:  []procstat.Proc{p(1, 0, 5, 0)},
			exited: true, exitCPU: 80,
			wantCPU: 80, wantPID: []int{1, 100},
		},
	}
	for _, st := range steps {
		inner.procs = st.procs
		if st.exited {
			tr.setExited(st.exitCPU)
		}
		got, _, err := tr.Read(nil)
		if err != nil {
			t.Fatal(err)
		}
		var pids []int
		var cpu uint64
		for _, x := range got {
			pids = append(pids, x.PID)
			if x.PID == 100 {
				cpu = x.CPU
				if x.Meta.Cmdline != "make -j2" || x.StartTime != 5 {
					t.Errorf("%s: pseudo-process meta %+v start %d", st.name, x.Meta, x.StartTime)
				}
			}
		}
		if diff := cmp.Diff(st.wantPID, pids); diff != "" || cpu != st.wantCPU {
			t.Errorf("%s: cpu %d want %d; pids (-want +got):\n%s", st.name, cpu, st.wantCPU, diff)
		}
	}
	if n := tr.processes(); n != 3 {
		t.Errorf("processes = %d, want 3", n)
	}
}

func sampleResult(energyJ float64) Result {
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	return Result{
		Command: []string{"make", "test"}, Start: start, End: start.Add(40 * time.Second),
		Energy: units.FromJoules(energyJ), HostEnergy: units.FromJoules(2905), PeakPower: units.FromWatts(63),
		CPU: 77 * time.Second, HostCPU: 80 * time.Second, Processes: 38, Sensor: "powercap_rapl", Source: "measured", SensorUp: true,
		Series: []Point{{Seconds: 1, PowerWatts: 40}, {Seconds: 2, PowerWatts: 63}},
	}
}

func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := (Report{Runs: []Result{sampleResult(1734)}, CarbonIntensity: 400}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `wattlens: make test — 40.0 s, exit 0
  energy     1 734 J  (0.48 Wh)   host 2 905 J over the same time
  power      43.4 W average, 63.0 W peak (1 s)
  cpu        77.0 s across 38 processes
  carbon     0.193 gCO2e at 400 g/kWh
  source     powercap_rapl (measured)
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

func TestReportJSONKeysAndSpread(t *testing.T) {
	var b bytes.Buffer
	if err := (Report{Runs: []Result{sampleResult(1734)}}).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"command", "start", "end", "duration_seconds", "exit_code", "energy_joules", "host_energy_joules",
		"average_power_watts", "peak_power_watts", "cpu_seconds", "processes", "sensor", "source", "series"} {
		if _, ok := m[k]; !ok {
			t.Errorf("json summary lacks %q", k)
		}
	}

	b.Reset()
	rep := Report{Runs: []Result{sampleResult(100), sampleResult(300), sampleResult(200)}}
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var many struct {
		Runs    []map[string]any  `json:"runs"`
		Summary map[string]Spread `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &many); err != nil {
		t.Fatal(err)
	}
	got := many.Summary["energy_joules"]
	if len(many.Runs) != 3 || got.Median != 200 || got.Min != 100 || got.Max != 300 || got.Stdev != 100 {
		t.Errorf("spread = %+v over %d runs; want median 200, min 100, max 300, stdev 100", got, len(many.Runs))
	}
	b.Reset()
	_ = rep.WriteText(&b)
	if !strings.Contains(b.String(), "3 runs") || !strings.Contains(b.String(), "[100.0 … 300.0]") {
		t.Errorf("text summary of runs:\n%s", b.String())
	}
}
