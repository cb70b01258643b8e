package promexp

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/wattlens/wattlens/internal/snapshot"
)

// nativeNames are the native families whose values a fixed snapshot
// determines.
var nativeNames = []string{
	"wattlens_host_energy_joules_total", "wattlens_host_power_watts", "wattlens_host_idle_power_watts",
	"wattlens_zone_energy_joules_total", "wattlens_zone_power_watts",
	"wattlens_process_energy_joules_total", "wattlens_process_power_watts",
	"wattlens_idle_energy_joules_total", "wattlens_idle_power_watts",
	"wattlens_other_energy_joules_total", "wattlens_other_power_watts",
	"wattlens_unattributed_energy_joules_total", "wattlens_unattributed_power_watts", "wattlens_attribution_coverage_ratio",
	"wattlens_vm_energy_joules_total", "wattlens_vm_power_watts",
	"wattlens_cpu_utilisation_ratio", "wattlens_sensor_up",
	"wattlens_tick_duration_seconds", "wattlens_last_tick_timestamp_seconds",
	"wattlens_processes", "wattlens_processes_skipped", "wattlens_processes_exposed",
	"wattlens_energy_wraps_total", "wattlens_energy_resets_total", "wattlens_scrape_series",
}

const nativeWant = `
# HELP wattlens_attribution_coverage_ratio Share of the last step's busy CPU time (user + nice + system + irq + softirq in /proc/stat) that the processes the agent reads hold, 0 to 1; the rest is priced into wattlens_unattributed_energy_joules_total. Absent while the sensor is down or the busy time is unknown.
# TYPE wattlens_attribution_coverage_ratio gauge
wattlens_attribution_coverage_ratio 0.9
# HELP wattlens_energy_resets_total Energy counters seen going back without a known range (a reset: counted as no energy) since the agent started.
# TYPE wattlens_energy_resets_total counter
wattlens_energy_resets_total 0
# HELP wattlens_energy_wraps_total Energy counter wraparounds seen and corrected since the agent started.
# TYPE wattlens_energy_wraps_total counter
wattlens_energy_wraps_total 2
# HELP wattlens_cpu_utilisation_ratio Busy share of all CPUs over the last step, 0 to 1.
# TYPE wattlens_cpu_utilisation_ratio gauge
wattlens_cpu_utilisation_ratio 0.5
# HELP wattlens_host_energy_joules_total Energy the whole host drew since the agent started: psys where present, else packages + dram (+ GPUs). Wrap-corrected and monotonic: use rate() for power.
# TYPE wattlens_host_energy_joules_total counter
wattlens_host_energy_joules_total{source="measured"} 100
# HELP wattlens_host_idle_power_watts Idle baseline of the host in use; origin says where it comes from: flag (--idle-power), model (estimate sensor), learned, fitted (the intercept of the host power regressed on its activities, where it never went quiet), or learning (not known yet: 0).
# TYPE wattlens_host_idle_power_watts gauge
wattlens_host_idle_power_watts{origin="flag",source="measured"} 2.5
# HELP wattlens_host_power_watts Average power the host drew over the last step (energy over the step / its length). Absent while the sensor is down.
# TYPE wattlens_host_power_watts gauge
wattlens_host_power_watts{source="measured"} 10
# HELP wattlens_idle_energy_joules_total Host energy booked to the idle pseudo-consumer (the idle baseline × time, at most the host's energy); always 0 under --idle-policy=shared.
# TYPE wattlens_idle_energy_joules_total counter
wattlens_idle_energy_joules_total{source="measured"} 25
# HELP wattlens_idle_power_watts Average power booked to the idle pseudo-consumer over the last step. Absent while the sensor is down.
# TYPE wattlens_idle_power_watts gauge
wattlens_idle_power_watts{source="measured"} 2.5
# HELP wattlens_last_tick_timestamp_seconds Unix time at the end of the interval the figures cover.
# TYPE wattlens_last_tick_timestamp_seconds gauge
wattlens_last_tick_timestamp_seconds 1.795608e+09
# HELP wattlens_other_energy_joules_total Host energy booked to processes without an exposed series: processes outside the top N, processes that have exited, and energy of processes whose series ended. Monotonic; sum(process) + other + unattributed + idle = host at every scrape.
# TYPE wattlens_other_energy_joules_total counter
wattlens_other_energy_joules_total{source="measured"} 22
# HELP wattlens_other_power_watts Average power over the last step of what wattlens_other_energy_joules_total counts; sum(process power) + other + unattributed + idle = host power. Absent while the sensor is down.
# TYPE wattlens_other_power_watts gauge
wattlens_other_power_watts{source="measured"} 1
# HELP wattlens_process_energy_joules_total Host energy attributed to one process while it is among the top N by energy over the last step (--process.top; a process enters in a step in which it drew energy). A process that leaves the top N has its series end and its energy booked to wattlens_other_energy_joules_total; if it comes back, its series restarts from the energy since its return. At every scrape: sum(process) + other + unattributed + idle = host. One series per resource (cpu, memory, storage, network, gpu, platform) the host has drawn energy for: each resource's energy goes to those that used it (docs/attribution.md); sum by the other labels for the whole.
# TYPE wattlens_process_energy_joules_total counter
wattlens_process_energy_joules_total{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",exe="/usr/bin/qemu-system-x86_64",pid="200",resource="cpu",source="measured"} 14
wattlens_process_energy_joules_total{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",exe="/usr/bin/qemu-system-x86_64",pid="200",resource="memory",source="measured"} 2
wattlens_process_energy_joules_total{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",exe="/usr/bin/qemu-system-x86_64",pid="200",resource="network",source="measured"} 2
wattlens_process_energy_joules_total{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",exe="/usr/bin/qemu-system-x86_64",pid="200",resource="storage",source="measured"} 2
wattlens_process_energy_joules_total{cmdline="stress-ng --cpu 2",comm="stress-ng",exe="/usr/bin/stress-ng",pid="100",resource="cpu",source="measured"} 21
wattlens_process_energy_joules_total{cmdline="stress-ng --cpu 2",comm="stress-ng",exe="/usr/bin/stress-ng",pid="100",resource="memory",source="measured"} 3
wattlens_process_energy_joules_total{cmdline="stress-ng --cpu 2",comm="stress-ng",exe="/usr/bin/stress-ng",pid="100",resource="network",source="measured"} 3
wattlens_process_energy_joules_total{cmdline="stress-ng --cpu 2",comm="stress-ng",exe="/usr/bin/stress-ng",pid="100",resource="storage",source="measured"} 3
# HELP wattlens_process_power_watts Average power attributed to one exposed process over the last step, per resource. Absent while the sensor is down.
# TYPE wattlens_process_power_watts gauge
wattlens_process_power_watts{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",exe="/usr/bin/qemu-system-x86_64",pid="200",resource="cpu",source="measured"} 1.4
wattlens_process_power_watts{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",exe="/usr/bin/qemu-system-x86_64",pid="200",resource="memory",source="measured"} 0.2
wattlens_process_power_watts{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",exe="/usr/bin/qemu-system-x86_64",pid="200",resource="network",source="measured"} 0.2
wattlens_process_power_watts{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",exe="/usr/bin/qemu-system-x86_64",pid="200",resource="storage",source="measured"} 0.2
wattlens_process_power_watts{cmdline="stress-ng --cpu 2",comm="stress-ng",exe="/usr/bin/stress-ng",pid="100",resource="cpu",source="measured"} 2.8
wattlens_process_power_watts{cmdline="stress-ng --cpu 2",comm="stress-ng",exe="/usr/bin/stress-ng",pid="100",resource="memory",source="measured"} 0.4
wattlens_process_power_watts{cmdline="stress-ng --cpu 2",comm="stress-ng",exe="/usr/bin/stress-ng",pid="100",resource="network",source="measured"} 0.4
wattlens_process_power_watts{cmdline="stress-ng --cpu 2",comm="stress-ng",exe="/usr/bin/stress-ng",pid="100",resource="storage",source="measured"} 0.4
# HELP wattlens_processes Processes read in the last tick.
# TYPE wattlens_processes gauge
wattlens_processes 4
# HELP wattlens_processes_exposed Processes with a series of their own in this exposition (at most --process.top; see wattlens_process_energy_joules_total).
# TYPE wattlens_processes_exposed gauge
wattlens_processes_exposed 2
# HELP wattlens_processes_skipped Processes that vanished or could not be read during the last tick.
# TYPE wattlens_processes_skipped gauge
wattlens_processes_skipped 1
# HELP wattlens_scrape_series Series this collection produced, not counting the two wattlens_scrape_* series.
# TYPE wattlens_scrape_series gauge
wattlens_scrape_series 50
# HELP wattlens_sensor_up 1 when the last read of the sensor succeeded, 0 when it failed: the energy counters are then held at the last good reading (the next good read books the whole gap).
# TYPE wattlens_sensor_up gauge
wattlens_sensor_up{sensor="powercap_rapl"} 1
# HELP wattlens_tick_duration_seconds Time the last tick spent reading the sensor and procfs.
# TYPE wattlens_tick_duration_seconds gauge
wattlens_tick_duration_seconds 0.003
# HELP wattlens_unattributed_energy_joules_total Active host energy of busy CPU time that no process the agent can read holds (irq and softirq time, processes reaped by an ancestor it cannot read, PIDs outside its view), and all active energy of steps in which no process used CPU time. Never given to visible processes. Monotonic.
# TYPE wattlens_unattributed_energy_joules_total counter
wattlens_unattributed_energy_joules_total{source="measured"} 3
# HELP wattlens_unattributed_power_watts Average power over the last step of what wattlens_unattributed_energy_joules_total counts. Absent while the sensor is down.
# TYPE wattlens_unattributed_power_watts gauge
wattlens_unattributed_power_watts{source="measured"} 0.5
# HELP wattlens_vm_energy_joules_total Host energy attributed to one virtual machine (its qemu/KVM processes, whether or not in the top N) since the agent started; monotonic across restarts of the VM's process. One series per resource (cpu, memory, storage, network, gpu, platform) the host has drawn energy for: each resource's energy goes to those that used it (docs/attribution.md); sum by the other labels for the whole.
# TYPE wattlens_vm_energy_joules_total counter
wattlens_vm_energy_joules_total{resource="cpu",source="measured",vm="web"} 14
wattlens_vm_energy_joules_total{resource="memory",source="measured",vm="web"} 2
wattlens_vm_energy_joules_total{resource="network",source="measured",vm="web"} 2
wattlens_vm_energy_joules_total{resource="storage",source="measured",vm="web"} 2
# HELP wattlens_vm_power_watts Average power attributed to one virtual machine over the last step, per resource. Absent while the sensor is down.
# TYPE wattlens_vm_power_watts gauge
wattlens_vm_power_watts{resource="cpu",source="measured",vm="web"} 1.4
wattlens_vm_power_watts{resource="memory",source="measured",vm="web"} 0.2
wattlens_vm_power_watts{resource="network",source="measured",vm="web"} 0.2
wattlens_vm_power_watts{resource="storage",source="measured",vm="web"} 0.2
# HELP wattlens_zone_energy_joules_total Energy one zone (package, core, uncore, dram, psys, gpu, platform, wall) counted since the agent started; wrap-corrected and monotonic. Zones overlap (core is inside package, package inside psys, everything inside a wall meter): do not sum all zones.
# TYPE wattlens_zone_energy_joules_total counter
wattlens_zone_energy_joules_total{name="core",socket="0",source="measured",zone="core"} 60
wattlens_zone_energy_joules_total{name="dram",socket="0",source="measured",zone="dram"} 10
wattlens_zone_energy_joules_total{name="package-0",socket="0",source="measured",zone="package"} 90
# HELP wattlens_zone_power_watts Average power of one zone over the last step. Absent while the sensor is down.
# TYPE wattlens_zone_power_watts gauge
wattlens_zone_power_watts{name="core",socket="0",source="measured",zone="core"} 6
wattlens_zone_power_watts{name="dram",socket="0",source="measured",zone="dram"} 1
wattlens_zone_power_watts{name="package-0",socket="0",source="measured",zone="package"} 9
`

func TestCollectNative(t *testing.T) {
	c := mustNew(t, Options{TopN: 2})
	exportAll(t, c, fixedSnapshot())
	if err := testutil.CollectAndCompare(c, strings.NewReader(nativeWant), nativeNames...); err != nil {
		t.Error(err)
	}
	// Without compat, no scaph_ series at all.
	if n := testutil.CollectAndCount(c, "scaph_host_power_microwatts", "scaph_self_version"); n != 0 {
		t.Errorf("scaph_ series without --compat: %d", n)
	}
}

const scaphWant = `
# HELP scaph_domain_energy_microjoules Scaphandre compatibility: energy of one RAPL domain in microjoules since the agent started, wrap-corrected.
# TYPE scaph_domain_energy_microjoules counter
scaph_domain_energy_microjoules{domain_id="0",domain_name="core",socket_id="0"} 6e+07
scaph_domain_energy_microjoules{domain_id="1",domain_name="dram",socket_id="0"} 1e+07
# HELP scaph_domain_power_microwatts Scaphandre compatibility: power of one RAPL domain (core, uncore, dram) in microwatts.
# TYPE scaph_domain_power_microwatts gauge
scaph_domain_power_microwatts{domain_id="0",domain_name="core",socket_id="0"} 6e+06
scaph_domain_power_microwatts{domain_id="1",domain_name="dram",socket_id="0"} 1e+06
# HELP scaph_host_energy_microjoules Scaphandre compatibility: host energy in microjoules since the agent started, wrap-corrected (Scaphandre exposes the raw counters' sum).
# TYPE scaph_host_energy_microjoules counter
scaph_host_energy_microjoules{value_source="powercap_rapl_pkg"} 1e+08
# HELP scaph_host_power_microwatts Scaphandre compatibility: host power in microwatts (wattlens_host_power_watts × 1e6).
# TYPE scaph_host_power_microwatts gauge
scaph_host_power_microwatts{value_source="powercap_rapl_pkg"} 1e+07
# HELP scaph_process_cpu_usage_percentage Scaphandre compatibility: CPU time one exposed process used over the last step, as a percentage of all CPUs.
# TYPE scaph_process_cpu_usage_percentage gauge
scaph_process_cpu_usage_percentage{cmdline="qemu-system-x86_64 -name guest=web",exe="qemu-system-x86_64",pid="200"} 12.5
scaph_process_cpu_usage_percentage{cmdline="stress-ng --cpu 2",exe="stress-ng",pid="100"} 25
scaph_process_cpu_usage_percentage{cmdline="python3 serve.py",exe="python3",pid="300"} 6.25
scaph_process_cpu_usage_percentage{cmdline="",exe="kworker/0:1",pid="400"} 1.25
# HELP scaph_process_power_consumption_microwatts Scaphandre compatibility: power attributed to one exposed process in microwatts (wattlens_process_power_watts × 1e6: without idle power unless --idle-policy=shared).
# TYPE scaph_process_power_consumption_microwatts gauge
scaph_process_power_consumption_microwatts{cmdline="qemu-system-x86_64 -name guest=web",exe="qemu-system-x86_64",pid="200"} 2e+06
scaph_process_power_consumption_microwatts{cmdline="stress-ng --cpu 2",exe="stress-ng",pid="100"} 4e+06
scaph_process_power_consumption_microwatts{cmdline="python3 serve.py",exe="python3",pid="300"} 500000
scaph_process_power_consumption_microwatts{cmdline="",exe="kworker/0:1",pid="400"} 500000
# HELP scaph_self_topo_procs_nb Scaphandre compatibility: processes tracked in the last tick.
# TYPE scaph_self_topo_procs_nb gauge
scaph_self_topo_procs_nb 4
# HELP scaph_self_version Scaphandre compatibility: the agent's version as major.minorpatch (v1.2.3 → 1.23; 0 for a development build).
# TYPE scaph_self_version gauge
scaph_self_version 0
# HELP scaph_socket_energy_microjoules Scaphandre compatibility: energy of one package (socket) in microjoules since the agent started, wrap-corrected.
# TYPE scaph_socket_energy_microjoules counter
scaph_socket_energy_microjoules{socket_id="0"} 9e+07
# HELP scaph_socket_power_microwatts Scaphandre compatibility: power of one package (socket) in microwatts.
# TYPE scaph_socket_power_microwatts gauge
scaph_socket_power_microwatts{socket_id="0"} 9e+06
`

func TestCollectScaphandre(t *testing.T) {
	c := mustNew(t, Options{TopN: 0, Compat: []string{CompatScaphandre}})
	exportAll(t, c, fixedSnapshot())
	names := []string{
		"scaph_host_power_microwatts", "scaph_host_energy_microjoules",
		"scaph_socket_power_microwatts", "scaph_socket_energy_microjoules",
		"scaph_domain_power_microwatts", "scaph_domain_energy_microjoules",
		"scaph_process_power_consumption_microwatts", "scaph_process_cpu_usage_percentage",
		"scaph_self_version", "scaph_self_topo_procs_nb",
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(scaphWant), names...); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "scaph_self_memory_bytes"); n != 1 {
		t.Errorf("scaph_self_memory_bytes: %d series, want 1", n)
	}
}

func TestScaphandrePsysAndSockets(t *testing.T) {
	s := fixedSnapshot()
	s.Zones = append(s.Zones,
		snapshot.Zone{ID: "intel-rapl:2", Kind: "package", Name: "package-0-die-1", Socket: 0, Energy: s.Zones[0].Energy},
		snapshot.Zone{ID: "intel-rapl:1", Kind: "psys", Name: "psys", Socket: -1, Energy: s.Host},
	)
	c := mustNew(t, Options{Compat: []string{CompatScaphandre}})
	exportAll(t, c, s)
	want := `
# HELP scaph_host_energy_microjoules Scaphandre compatibility: host energy in microjoules since the agent started, wrap-corrected (Scaphandre exposes the raw counters' sum).
# TYPE scaph_host_energy_microjoules counter
scaph_host_energy_microjoules{value_source="powercap_rapl_psys"} 1e+08
# HELP scaph_socket_energy_microjoules Scaphandre compatibility: energy of one package (socket) in microjoules since the agent started, wrap-corrected.
# TYPE scaph_socket_energy_microjoules counter
scaph_socket_energy_microjoules{socket_id="0"} 1.8e+08
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "scaph_host_energy_microjoules", "scaph_socket_energy_microjoules"); err != nil {
		t.Error(err)
	}
}

func TestScaphVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"v1.0.2", 1.02}, {"1.2.3", 1.23}, {"v0.5.0", 0.50}, {"v0.10.1-rc.1", 0.101}, {"dev", 0}, {"v1.2", 0}, {"v1.x.3", 0},
	} {
		if got := scaphVersion(tc.in); got != tc.want {
			t.Errorf("scaphVersion(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// gather collects c into metric families by name.
func gather(t testing.TB, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func names(mfs map[string]*dto.MetricFamily) []string {
	var out []string
	for n := range mfs {
		out = append(out, n)
	}
	return sortStrings(out)
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func TestBeforeFirstSnapshot(t *testing.T) {
	c := mustNew(t, Options{Sensor: "powercap_rapl", Compat: []string{CompatScaphandre}})
	got := names(gather(t, c))
	if diff := cmp.Diff([]string{"wattlens_build_info", "wattlens_sensor_up"}, got); diff != "" {
		t.Errorf("families before the first snapshot (-want +got):\n%s", diff)
	}
	// A sensor that fails before the first interval: a snapshot with no
	// measured interval, sensor down.
	exportAll(t, c, &snapshot.Snapshot{Sensor: "powercap_rapl", SensorError: "permission denied"})
	mfs := gather(t, c)
	if diff := cmp.Diff([]string{"wattlens_build_info", "wattlens_sensor_up"}, names(mfs)); diff != "" {
		t.Errorf("families after a failed first read (-want +got):\n%s", diff)
	}
	if v := mfs["wattlens_sensor_up"].GetMetric()[0].GetGauge().GetValue(); v != 0 {
		t.Errorf("wattlens_sensor_up = %v after a failed first read, want 0", v)
	}
}

func TestSensorDownHoldsCounters(t *testing.T) {
	c := mustNew(t, Options{TopN: 2, Compat: []string{CompatScaphandre}})
	up := fixedSnapshot()
	down := *up
	down.SensorUp, down.SensorError = false, "energy_uj: no such file"
	exportAll(t, c, up, &down)
	mfs := gather(t, c)
	if v := mfs["wattlens_sensor_up"].GetMetric()[0].GetGauge().GetValue(); v != 0 {
		t.Errorf("wattlens_sensor_up = %v, want 0", v)
	}
	for _, n := range []string{"wattlens_host_energy_joules_total", "wattlens_other_energy_joules_total", "wattlens_idle_energy_joules_total"} {
		want := map[string]float64{"wattlens_host_energy_joules_total": 100, "wattlens_other_energy_joules_total": 22, "wattlens_idle_energy_joules_total": 25}[n]
		if mf := mfs[n]; mf == nil || mf.GetMetric()[0].GetCounter().GetValue() != want {
			t.Errorf("%s not held at %v while down: %v", n, want, mf)
		}
	}
	// 2 processes × the 4 resources the fixture's host has energy for
	// (snapshottest.Split: cpu, memory, storage, network).
	if n := len(mfs["wattlens_process_energy_joules_total"].GetMetric()); n != 2*4 {
		t.Errorf("process counters while down: %d series, want 8", n)
	}
	for n := range mfs {
		if strings.HasSuffix(n, "_watts") && n != "wattlens_host_idle_power_watts" || strings.HasSuffix(n, "_microwatts") || n == "scaph_process_cpu_usage_percentage" {
			t.Errorf("power gauge %s served while the sensor is down", n)
		}
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []Options{{TopN: -1}, {CmdlineLength: -5}, {Compat: []string{"scaphandre,kepler"}}, {Compat: []string{"collectd"}}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestLint(t *testing.T) {
	c := mustNew(t, Options{TopN: 3})
	exportAll(t, c, fixedSnapshot())
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestLintScaphandre checks that the only problems promlint finds with
// --compat=scaphandre are those of Scaphandre's own names, which the
// compatibility keeps on purpose.
func TestLintScaphandre(t *testing.T) {
	c := mustNew(t, Options{TopN: 3, Compat: []string{CompatScaphandre}})
	exportAll(t, c, fixedSnapshot())
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if !ScaphandreLintProblem(p.Metric, p.Text) {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

func TestExportNil(t *testing.T) {
	c := mustNew(t, Options{})
	if err := c.Export(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := names(gather(t, c)); len(got) != 2 {
		t.Errorf("families after Export(nil): %v", got)
	}
}

// TestPlatformCoefficients: a snapshot with a learned platform fit shows
// each coefficient with its status and its standard error.
func TestPlatformCoefficients(t *testing.T) {
	s := fixedSnapshot()
	s.Platform = &snapshot.PlatformFit{Samples: 120, NoiseSD: 0.4,
		Intercept: snapshot.PlatformCoef{Term: "idle", Resource: "platform", Value: 31.5, StdErr: 0.5, Prior: 25, Status: "learned"},
		Terms: []snapshot.PlatformCoef{
			{Term: "storage:sda", Resource: "storage", Value: 12.25, StdErr: 0.25, Prior: 4.5, Status: "learned"},
			{Term: "cpu", Resource: "platform", Value: 8, StdErr: 8, Prior: 8, Status: "prior: too little variation"},
		}}
	c := mustNew(t, Options{TopN: 2})
	exportAll(t, c, s)
	const want = `
# HELP wattlens_platform_coefficient_stderr_watts One standard deviation of wattlens_platform_coefficient_watts: the posterior's where learned, the prior's where the prior is kept.
# TYPE wattlens_platform_coefficient_stderr_watts gauge
wattlens_platform_coefficient_stderr_watts{resource="platform",term="cpu"} 8
wattlens_platform_coefficient_stderr_watts{resource="platform",term="idle"} 0.5
wattlens_platform_coefficient_stderr_watts{resource="storage",term="storage:sda"} 0.25
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "wattlens_platform_coefficient_stderr_watts"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "wattlens_platform_coefficient_watts"); n != 3 {
		t.Errorf("%d coefficient series, want 3", n)
	}
	exportAll(t, c, fixedSnapshot())
	if n := testutil.CollectAndCount(c, "wattlens_platform_coefficient_watts"); n != 0 {
		t.Errorf("%d coefficient series without a fit, want 0", n)
	}
}
