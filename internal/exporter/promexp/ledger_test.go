package promexp

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// series flattens the collector's counters into "name{labels}" → value.
func counters(mfs map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, mf := range mfs {
		if mf.GetType() != dto.MetricType_COUNTER || !strings.HasSuffix(name, "_joules_total") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out[name+"{"+strings.Join(ls, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}

func sumFamily(mfs map[string]*dto.MetricFamily, name string) float64 {
	var sum float64
	for _, m := range mfs[name].GetMetric() {
		if m.Counter != nil {
			sum += m.GetCounter().GetValue()
		} else {
			sum += m.GetGauge().GetValue()
		}
	}
	return sum
}

// TestLedgerScripted follows one process out of and back into the top 1.
func TestLedgerScripted(t *testing.T) {
	proc := func(pid int, total, delta units.Energy) snapshot.Process {
		return snapshot.Process{
			Key:    procinfo.Key{PID: pid, StartTime: 1},
			Meta:   &procinfo.Meta{Comm: fmt.Sprint(pid)},
			Energy: snapshot.Energy{Total: total * units.Joule, Delta: delta * units.Joule, Source: power.Measured},
		}
	}
	snap := func(seq uint64, procs ...snapshot.Process) *snapshot.Snapshot {
		s := &snapshot.Snapshot{Seq: seq, SensorUp: true, Interval: time.Second, Processes: procs}
		for _, p := range procs {
			s.Host.Total += p.Total
		}
		sort.Slice(s.Processes, func(i, j int) bool { return s.Processes[i].Delta > s.Processes[j].Delta })
		return s
	}
	type want struct {
		procs map[string]float64 // pid → exposed joules
		other float64
	}
	steps := []struct {
		snap *snapshot.Snapshot
		want want
	}{
		// 1 leads: exposed whole; 2 is in other.
		{snap(1, proc(1, 10, 10), proc(2, 4, 4)), want{map[string]float64{"1": 10}, 4}},
		// 2 takes the lead: the 4 J it had stay in other, its series
		// starts at 5; 1 leaves and its 11 J go to other.
		{snap(2, proc(1, 11, 1), proc(2, 9, 5)), want{map[string]float64{"2": 5}, 15}},
		// 1 comes back: the 11 J counted in other stay there, its series
		// restarts at 9; 2 leaves with its 10 J.
		{snap(3, proc(1, 20, 9), proc(2, 10, 1)), want{map[string]float64{"1": 9}, 21}},
		// 1 stays: its series grows; 2 exits (its 10 J stay in other as
		// exited energy).
		{func() *snapshot.Snapshot {
			s := snap(4, proc(1, 25, 5))
			s.Exited = 10 * units.Joule
			s.Host.Total += s.Exited
			return s
		}(),
			want{map[string]float64{"1": 14}, 21}},
	}
	c := mustNew(t, Options{TopN: 1})
	for i, st := range steps {
		exportAll(t, c, st.snap)
		mfs := gather(t, c)
		got := want{procs: map[string]float64{}, other: sumFamily(mfs, "wattlens_other_energy_joules_total")}
		for _, m := range mfs["wattlens_process_energy_joules_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "pid" {
					// summed over resource, to the microjoule
					got.procs[l.GetValue()] = math.Round((got.procs[l.GetValue()]+m.GetCounter().GetValue())*1e6) / 1e6
				}
			}
		}
		if diff := cmp.Diff(st.want, got, cmp.AllowUnexported(want{})); diff != "" {
			t.Errorf("step %d (-want +got):\n%s", i+1, diff)
		}
	}
}

// TestLedgerMonotonicAndConserving drives the real attribution through
// hundreds of ticks in which processes change their CPU use, move in and
// out of the top N, exit and are born, and the package counter wraps. At
// every tick every _joules_total series that was there the tick before
// has not gone down, other is always there, and
// Σ process + other + idle = host exactly.
func TestLedgerMonotonicAndConserving(t *testing.T) {
	for _, topN := range []int{1, 3, 10, 0} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("top%d/seed%d", topN, seed), func(t *testing.T) {
				checkLedger(t, topN, seed)
			})
		}
	}
}

func checkLedger(t *testing.T, topN int, seed uint64) {
	w := newWorld(seed, 25)
	c := mustNew(t, Options{TopN: topN})
	prev := map[string]float64{}
	var prevSnap *snapshot.Snapshot
	var reentries, departures, exits, wraps int
	everSeen := map[string]bool{}
	wasExposed := map[string]bool{}
	for tick := 0; tick < 300; tick++ {
		s := w.Step()
		if s == nil {
			continue
		}
		exportAll(t, c, s)
		v := c.view.Load()

		// Exact, in microjoules.
		var sum units.Energy
		for _, p := range v.procs {
			sum += p.energy
		}
		if sum+v.other.Total+s.Idle.Total != s.Host.Total {
			t.Fatalf("tick %d: Σ process %d + other %d + idle %d != host %d µJ", tick, sum, v.other.Total, s.Idle.Total, s.Host.Total)
		}
		// The exposed set: the top N, less those that drew nothing over
		// the step and were not exposed the tick before.
		head, _, _ := s.TopN(topN)
		want := map[string]bool{}
		for _, p := range head {
			if pid := fmt.Sprint(p.PID); p.Delta > 0 || wasExposed[pid] {
				want[pid] = true
			}
		}
		got := map[string]bool{}
		for _, p := range v.procs {
			got[p.labels.pid] = true
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("tick %d: exposed set (-want +got):\n%s", tick, diff)
		}
		wasExposed = got

		// As a scraper sees it, in joules.
		mfs := gather(t, c)
		host := sumFamily(mfs, "wattlens_host_energy_joules_total")
		parts := sumFamily(mfs, "wattlens_process_energy_joules_total") + sumFamily(mfs, "wattlens_other_energy_joules_total") + sumFamily(mfs, "wattlens_unattributed_energy_joules_total") + sumFamily(mfs, "wattlens_idle_energy_joules_total")
		if math.Abs(parts-host) > 1e-9*host+1e-6 {
			t.Fatalf("tick %d: Σ process + other + idle = %.9f J, host %.9f J", tick, parts, host)
		}
		// Power: the same split over the interval, to rounding.
		hostP := sumFamily(mfs, "wattlens_host_power_watts")
		partsP := sumFamily(mfs, "wattlens_process_power_watts") + sumFamily(mfs, "wattlens_other_power_watts") + sumFamily(mfs, "wattlens_unattributed_power_watts") + sumFamily(mfs, "wattlens_idle_power_watts")
		if math.Abs(partsP-hostP) > float64(len(v.procs)+3)*1e-6 {
			t.Fatalf("tick %d: Σ process + other + idle power = %.6f W, host %.6f W", tick, partsP, hostP)
		}

		cur := counters(mfs)
		for k, val := range cur {
			if old, ok := prev[k]; ok && val < old {
				t.Fatalf("tick %d: %s went from %v to %v", tick, k, old, val)
			}
			if _, ok := prev[k]; !ok && everSeen[k] {
				reentries++
			}
			everSeen[k] = true
		}
		for _, k := range []string{
			"wattlens_host_energy_joules_total{source=measured}",
			"wattlens_other_energy_joules_total{source=measured}",
			"wattlens_idle_energy_joules_total{source=measured}",
		} {
			if _, ok := cur[k]; !ok {
				t.Fatalf("tick %d: %s missing", tick, k)
			}
		}
		for k := range prev {
			if _, ok := cur[k]; !ok && strings.HasPrefix(k, "wattlens_process_") {
				departures++
			}
		}
		if prevSnap != nil {
			exits += len(prevSnap.Processes) - countSurvivors(prevSnap, s)
			wraps = s.Stats.Wraps
		}
		prev, prevSnap = cur, s
	}
	if wraps == 0 || exits == 0 {
		t.Errorf("the run never wrapped (%d) or saw an exit (%d): it tests nothing", wraps, exits)
	}
	if topN > 0 && topN < 10 && (departures == 0 || reentries == 0) {
		t.Errorf("top %d: %d departures, %d re-entries: the run never moved a process out of and back into the top N", topN, departures, reentries)
	}
}

func countSurvivors(prev, cur *snapshot.Snapshot) int {
	alive := map[procinfo.Key]bool{}
	for _, p := range cur.Processes {
		alive[p.Key] = true
	}
	n := 0
	for _, p := range prev.Processes {
		if alive[p.Key] {
			n++
		}
	}
	return n
}

// TestVMCounterSurvivesRestart: a VM's counter keeps what its first qemu
// process used after that process exits and another starts.
func TestVMCounterSurvivesRestart(t *testing.T) {
	qemu := func(start uint64, total, delta units.Energy) snapshot.Process {
		return snapshot.Process{
			Key:    procinfo.Key{PID: 42, StartTime: start},
			Meta:   &procinfo.Meta{Comm: "qemu", VM: "db\xff"},
			Energy: snapshot.Energy{Total: total * units.Joule, Delta: delta * units.Joule, Power: units.PowerOf(delta*units.Joule, time.Second)},
		}
	}
	mk := func(seq uint64, procs ...snapshot.Process) *snapshot.Snapshot {
		return &snapshot.Snapshot{Seq: seq, SensorUp: true, Interval: time.Second, Processes: procs}
	}
	c := mustNew(t, Options{TopN: 1})
	var got []float64
	for _, s := range []*snapshot.Snapshot{
		mk(1, qemu(1, 10, 10)),
		mk(2, qemu(1, 15, 5)),
		mk(3),                // the VM is down: no series
		mk(4, qemu(9, 2, 2)), // restarted: 15 + 2
		mk(5, qemu(9, 6, 4)),
	} {
		exportAll(t, c, s)
		mf := gather(t, c)["wattlens_vm_energy_joules_total"]
		if mf == nil {
			got = append(got, -1)
			continue
		}
		var sum float64 // over resource
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "vm" && l.GetValue() != "db\uFFFD" {
					t.Errorf("vm label %q, want the invalid byte replaced", l.GetValue())
				}
			}
			sum += m.GetCounter().GetValue()
		}
		got = append(got, math.Round(sum*1e6)/1e6)
	}
	if diff := cmp.Diff([]float64{10, 15, -1, 17, 21}, got); diff != "" {
		t.Errorf("vm counter (-want +got):\n%s", diff)
	}
}

// TestCardinalityBounded: 10 000 processes give top-N process series by
// default, one per resource the host has energy for (4 in the fixture),
// and all of them only when asked.
func TestCardinalityBounded(t *testing.T) {
	s := manyProcs(10_000)
	for _, tc := range []struct {
		topN, want int
	}{{DefaultTopN, DefaultTopN * 4}, {5, 5 * 4}, {0, 10_000 * 4}} {
		c := mustNew(t, Options{TopN: tc.topN})
		exportAll(t, c, s)
		mfs := gather(t, c)
		for _, n := range []string{"wattlens_process_energy_joules_total", "wattlens_process_power_watts"} {
			if got := len(mfs[n].GetMetric()); got != tc.want {
				t.Errorf("top %d: %s has %d series, want %d", tc.topN, n, got, tc.want)
			}
		}
		var sum float64
		for _, m := range mfs["wattlens_process_energy_joules_total"].GetMetric() {
			sum += m.GetCounter().GetValue()
		}
		parts := sum + sumFamily(mfs, "wattlens_other_energy_joules_total") + sumFamily(mfs, "wattlens_unattributed_energy_joules_total") + sumFamily(mfs, "wattlens_idle_energy_joules_total")
		if host := sumFamily(mfs, "wattlens_host_energy_joules_total"); math.Abs(parts-host) > 1e-9*host {
			t.Errorf("top %d: parts %v != host %v", tc.topN, parts, host)
		}
	}
}

// TestProcessLabelsSanitised: invalid UTF-8 and control characters never
// reach a label (MustNewConstMetric would panic), and the cmdline is cut
// to --process.cmdline-length bytes on a rune boundary.
func TestProcessLabelsSanitised(t *testing.T) {
	s := fixedSnapshot()
	long := strings.Repeat("é", 200) + " --flag"
	s.Processes[0].Meta = &procinfo.Meta{Exe: "/usr/bin/bad\xfe\xffname", Comm: "tab\tname", Cmdline: long}
	c := mustNew(t, Options{TopN: 1, CmdlineLength: 101})
	exportAll(t, c, s)
	m := gather(t, c)["wattlens_process_energy_joules_total"].GetMetric()[0]
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	want := map[string]string{
		"pid": "100", "exe": "/usr/bin/bad\uFFFDname", "comm": "tab name",
		"cmdline": strings.Repeat("é", 49) + "…", "resource": "cpu", "source": "measured",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if n := len(got["cmdline"]); n > 101 {
		t.Errorf("cmdline label is %d bytes, want at most 101", n)
	}
}

// TestDuplicateZonesStayUnique: two zones with the same kind, name and
// socket must not make the scrape fail.
func TestDuplicateZonesStayUnique(t *testing.T) {
	s := fixedSnapshot()
	s.Zones = append(s.Zones, snapshot.Zone{ID: "intel-rapl-mmio:0", Kind: power.KindPackage, Name: "package-0", Socket: 0, Energy: s.Zones[0].Energy})
	c := mustNew(t, Options{})
	exportAll(t, c, s)
	if n := len(gather(t, c)["wattlens_zone_energy_joules_total"].GetMetric()); n != 4 {
		t.Errorf("%d zone series, want 4", n)
	}
}
