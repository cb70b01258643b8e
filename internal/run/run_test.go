package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/units"
)

type fakeProcs struct{ procs []procinfo.Proc }

func (f *fakeProcs) Read(dst []procinfo.Proc) ([]procinfo.Proc, procinfo.Stats, error) {
	return append(dst, f.procs...), procinfo.Stats{}, nil
}
func (f *fakeProcs) CPUTimes() (procinfo.CPUTimes, error) { return procinfo.CPUTimes{}, nil }

func p(pid, ppid int, cpu, child uint64) procinfo.Proc {
	return procinfo.Proc{Key: procinfo.Key{PID: pid, StartTime: 1}, PPID: ppid, CPU: cpu, ChildCPU: child}
}

func TestTreeReaderFoldsTheTree(t *testing.T) {
	inner := &fakeProcs{}
	tr := newTreeReader(inner, nil, nil)
	tr.setRoot(100, 5, []string{"make", "-j2"})

	steps := []struct {
		name    string
		procs   []procinfo.Proc
		exitCPU uint64
		exited  bool
		wantCPU uint64
		wantPID []int
	}{
		{
			name:    "root, child and grandchild fold into one; others stay",
			procs:   []procinfo.Proc{p(1, 0, 5, 0), p(100, 50, 10, 0), p(101, 100, 20, 0), p(102, 101, 30, 0), p(200, 1, 7, 0)},
			wantCPU: 60, wantPID: []int{1, 200, 100},
		},
		{
			name:    "grandchild reaped by the child: its time moves into cutime",
			procs:   []procinfo.Proc{p(1, 0, 5, 0), p(100, 50, 11, 0), p(101, 100, 21, 35), p(200, 1, 7, 0)},
			wantCPU: 67, wantPID: []int{1, 200, 100},
		},
		{
			name:    "a race that reads less than before never goes backwards",
			procs:   []procinfo.Proc{p(100, 50, 11, 0)},
			wantCPU: 67, wantPID: []int{100},
		},
		{
			name:   "after exit the rusage counts",
			procs:  []procinfo.Proc{p(1, 0, 5, 0)},
			exited: true, exitCPU: 80,
			wantCPU: 80, wantPID: []int{1, 100},
		},
	}
	for _, st := range steps {
		inner.procs = st.procs
		if st.exited {
			tr.setExited(st.exitCPU, 0)
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
		Energy: units.FromJoules(energyJ), HostEnergy: units.FromJoules(2905), HostDuration: 40200 * time.Millisecond, PeakPower: units.FromWatts(63),
		IdlePower: units.FromWatts(30), IdleOrigin: IdleBaselineFit,
		CPU: 7 * time.Second, HostCPU: 80 * time.Second, Processes: 38, Sensor: "powercap_rapl", Source: "measured", SensorUp: true,
		Series: []Point{{Seconds: 1, PowerWatts: 40}, {Seconds: 2, PowerWatts: 63}},
	}
}

// TestReportTextLongCommand: a command with a 1.8 MB argument list is cut
// in the text summary to its first 160 characters and the count of the
// rest; the JSON report keeps it whole.
func TestReportTextLongCommand(t *testing.T) {
	res := sampleResult(1734)
	res.Command = []string{"cc"}
	for i := range 100_000 {
		res.Command = append(res.Command, fmt.Sprintf("file%013d.c", i))
	}
	full := len(strings.Join(res.Command, " "))
	var b bytes.Buffer
	if err := (Report{Runs: []Result{res}}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(b.String(), "\n")
	if !strings.HasPrefix(first, "wattlens: cc file0000000000000.c file0000000000001.c") ||
		!strings.Contains(first, fmt.Sprintf("… (%d more characters) — 40.0 s, exit 0", full-159)) {
		t.Errorf("first line %.300q", first)
	}
	if b.Len() > 2000 {
		t.Errorf("text summary of %d bytes for a %d-byte command line", b.Len(), full)
	}
	b.Reset()
	if err := (Report{Runs: []Result{res}}).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if b.Len() < full {
		t.Errorf("JSON report of %d bytes: the command (%d bytes) is not whole", b.Len(), full)
	}
}

func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := (Report{Runs: []Result{sampleResult(1734)}, CarbonIntensity: 400}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `wattlens: make test — 40.0 s, exit 0
  energy     1 734 J  (0.48 Wh)   host 2 905 J over 40.2 s
  power      43.4 W average, 63.0 W peak (1 s)
  cpu        7.000 s across 38 processes seen
  idle       30.0 W taken out of the host's energy (measured before the start: host power at no busy CPU)
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

// TestTreeReaderDaemonLeavesTheTree: a grandchild re-parented to init
// keeps what it used inside the tree booked to the command, and the
// command's later CPU time still counts.
func TestTreeReaderDaemonLeavesTheTree(t *testing.T) {
	inner := &fakeProcs{}
	tr := newTreeReader(inner, nil, nil)
	tr.setRoot(100, 5, []string{"cmd"})
	steps := []struct {
		name  string
		procs []procinfo.Proc
		want  uint64
	}{
		{"root, child, grandchild", []procinfo.Proc{p(100, 50, 10, 0), p(101, 100, 0, 0), p(102, 101, 100, 0)}, 110},
		{"the child exits, the grandchild is re-parented to init", []procinfo.Proc{p(1, 0, 0, 0), p(100, 50, 10, 0), p(102, 1, 100, 0)}, 110},
		{"the command goes on using cpu; the daemon's is not the command's", []procinfo.Proc{p(1, 0, 0, 0), p(100, 50, 60, 0), p(102, 1, 300, 0)}, 160},
		{"and on", []procinfo.Proc{p(1, 0, 0, 0), p(100, 50, 150, 0), p(102, 1, 900, 0)}, 250},
	}
	for _, st := range steps {
		inner.procs = st.procs
		got, _, _ := tr.Read(nil)
		var cpu uint64
		for _, x := range got {
			if x.PID == 100 {
				cpu = x.CPU
			}
		}
		if cpu != st.want {
			t.Errorf("%s: command cpu %d, want %d", st.name, cpu, st.want)
		}
	}
}

type sharingSensor struct{ shares map[string]power.Shares }

func (sharingSensor) Name() string                             { return "gpu" }
func (sharingSensor) Read() (power.Reading, error)             { return power.Reading{}, nil }
func (s sharingSensor) ProcessShares() map[string]power.Shares { return s.shares }

// TestTreeSensorGivesDescendantsGPUToTheCommand: a child of the command
// using the GPU has its share booked to the command's pseudo-process.
func TestTreeSensorGivesDescendantsGPUToTheCommand(t *testing.T) {
	inner := &fakeProcs{procs: []procinfo.Proc{p(100, 50, 1, 0), p(101, 100, 1, 0), p(300, 1, 1, 0)}}
	tr := newTreeReader(inner, nil, nil)
	tr.setRoot(100, 5, []string{"sh", "-c", "python train.py"})
	if _, _, err := tr.Read(nil); err != nil {
		t.Fatal(err)
	}
	s := treeSensor{Sensor: sharingSensor{shares: map[string]power.Shares{"gpu:0": {101: 0.95, 300: 0.05}}}, tree: tr}
	want := map[string]power.Shares{"gpu:0": {100: 0.95, 300: 0.05}}
	if diff := cmp.Diff(want, s.ProcessShares()); diff != "" {
		t.Errorf("shares (-want +got):\n%s", diff)
	}
	if got := (treeSensor{Sensor: fakeSensorNoShares{}, tree: tr}).ProcessShares(); got != nil {
		t.Errorf("a sensor without shares: %v", got)
	}
}

type fakeSensorNoShares struct{}

func (fakeSensorNoShares) Name() string                 { return "x" }
func (fakeSensorNoShares) Read() (power.Reading, error) { return power.Reading{}, nil }

type flakySensor struct {
	reads, okReads int
	uj             units.Energy
}

func (f *flakySensor) Name() string { return "flaky" }
func (f *flakySensor) Read() (power.Reading, error) {
	f.reads++
	if f.reads > f.okReads {
		return power.Reading{}, errors.New("zone vanished")
	}
	f.uj += 1_000_000
	return power.Reading{Zones: []power.Zone{{ID: "z", Kind: power.KindPackage, Energy: f.uj, Source: power.Measured}}}, nil
}

// TestRunDownTicksBookNothing: ticks on which the sensor is down repeat
// the last figures; they must add neither CPU time nor series points.
func TestRunDownTicksBookNothing(t *testing.T) {
	res, err := Run([]string{"sleep", "0.7"}, Options{
		Sensor: &flakySensor{okReads: 3}, Procs: procstat.NewReader("/proc"),
		Step: 100 * time.Millisecond, Log: slog.New(slog.DiscardHandler),
		Attribution: attribution.Options{IdleOrigin: attribution.IdleFromFlag}, // no baseline reads
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Series) != 2 || res.SensorUp {
		t.Errorf("series has %d points (want the 2 good ticks after the baseline), sensor up %v (want false)", len(res.Series), res.SensorUp)
	}
}

// fakeWalker is a host whose process tree can be walked, as
// procstat.Reader walks /proc/<pid>/task/<tid>/children.
type fakeWalker struct {
	fakeProcs
	noChildren bool // a kernel without children files
	listed     int  // Read calls: every process listed
	read       []int
}

func (f *fakeWalker) Read(dst []procinfo.Proc) ([]procinfo.Proc, procinfo.Stats, error) {
	f.listed++
	return f.fakeProcs.Read(dst)
}

func (f *fakeWalker) Descendants(root int, dst []int) ([]int, error) {
	if f.noChildren {
		return dst[:0], procstat.ErrNoChildren
	}
	dst = dst[:0]
	if !slices.ContainsFunc(f.procs, func(x procinfo.Proc) bool { return x.PID == root }) {
		return dst, nil
	}
	dst = append(dst, root)
	for i := 0; i < len(dst); i++ {
		for _, x := range f.procs {
			if x.PPID == dst[i] {
				dst = append(dst, x.PID)
			}
		}
	}
	return dst, nil
}

func (f *fakeWalker) ReadPIDs(dst []procinfo.Proc, pids []int) ([]procinfo.Proc, procinfo.Stats, error) {
	f.read = append(f.read[:0], pids...)
	dst = dst[:0]
	for _, x := range f.procs {
		if slices.Contains(pids, x.PID) {
			dst = append(dst, x)
		}
	}
	return dst, procinfo.Stats{Seen: len(pids), Skipped: len(pids) - len(dst)}, nil
}

// TestTreeReaderWalksOnlyTheTree: with a reader that can walk a tree, only
// the command's tree and last tick's members are read, never the host's
// other processes, and the command's CPU time is what listing every
// process gives (the steps of TestTreeReaderDaemonLeavesTheTree).
func TestTreeReaderWalksOnlyTheTree(t *testing.T) {
	host := &fakeWalker{}
	tr := newTreeReader(host, nil, nil)
	if got, _, _ := tr.Read(nil); len(got) != 0 || host.listed != 0 {
		t.Fatalf("before the command starts: %v, %d listings; want nothing read", got, host.listed)
	}
	tr.setRoot(100, 5, []string{"cmd"})
	others := []procinfo.Proc{p(1, 0, 0, 0), p(300, 1, 5, 0), p(301, 300, 9, 0)}
	steps := []struct {
		name     string
		procs    []procinfo.Proc
		want     uint64
		wantRead []int
	}{
		{"root, child, grandchild", []procinfo.Proc{p(100, 50, 10, 0), p(101, 100, 0, 0), p(102, 101, 100, 0)}, 110, []int{100, 101, 102}},
		{"the child exits, the grandchild is re-parented to init", []procinfo.Proc{p(100, 50, 10, 0), p(102, 1, 100, 0)}, 110, []int{100, 101, 102}},
		{"the command goes on using cpu; the daemon's is not the command's", []procinfo.Proc{p(100, 50, 60, 0), p(102, 1, 300, 0)}, 160, []int{100}},
		{"and on", []procinfo.Proc{p(100, 50, 150, 0), p(102, 1, 900, 0)}, 250, []int{100}},
	}
	for _, st := range steps {
		host.procs = append(slices.Clone(others), st.procs...)
		got, _, err := tr.Read(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].PID != 100 || got[0].Meta == nil {
			t.Fatalf("%s: read %+v; want the command's pseudo-process alone", st.name, got)
		}
		if got[0].CPU != st.want {
			t.Errorf("%s: command cpu %d, want %d", st.name, got[0].CPU, st.want)
		}
		slices.Sort(host.read)
		if diff := cmp.Diff(st.wantRead, host.read); diff != "" {
			t.Errorf("%s: PIDs read (-want +got):\n%s", st.name, diff)
		}
	}
	if host.listed != 0 {
		t.Errorf("every process was listed %d times; want never", host.listed)
	}
	if n := tr.processes(); n != 3 {
		t.Errorf("processes = %d, want 3", n)
	}
}

// TestTreeReaderWithoutChildrenFiles: a kernel without children files
// makes the tree reader list every process, as it does with any reader.
func TestTreeReaderWithoutChildrenFiles(t *testing.T) {
	host := &fakeWalker{noChildren: true}
	host.procs = []procinfo.Proc{p(1, 0, 5, 0), p(100, 50, 10, 0), p(101, 100, 20, 0)}
	tr := newTreeReader(host, nil, nil)
	tr.setRoot(100, 5, []string{"cmd"})
	for range 2 {
		got, _, err := tr.Read(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[1].PID != 100 || got[1].CPU != 30 {
			t.Fatalf("read %+v; want init and the command with 30 ticks", got)
		}
	}
	if host.listed != 2 {
		t.Errorf("listed %d times, want 2", host.listed)
	}
}
