package promexp

import (
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/units"
)

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func valueOf(m *dto.Metric) float64 {
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// A quiet process that --process.include-regex names has series beyond
// the top N (Scaphandre's dashboards chart exe="dockerd"); one it does not
// name has none; at most IncludeMax are added; the books still add up.
func TestIncludeRegex(t *testing.T) {
	s := fixedSnapshot()
	// python3 (10 J, 1 J this step) and the kworker are outside the top 1;
	// make python3 quiet this step, as dockerd usually is.
	s.Processes[2].Delta, s.Processes[2].Power = 0, 0
	c := mustNew(t, Options{TopN: 1, Compat: []string{CompatScaphandre}, Include: regexp.MustCompile(`^(python3|kworker/0:1)$`), IncludeMax: 1})
	exportAll(t, c, s)
	mfs := gather(t, c)
	pids := map[string]bool{}
	for _, m := range mfs["wattlens_process_energy_joules_total"].GetMetric() {
		pids[labelOf(m, "pid")] = true
	}
	// Top 1: stress-ng (100); included, highest energy first, at most 1:
	// python3 (300), quiet; the kworker (400) is over IncludeMax.
	if !pids["100"] || !pids["300"] || pids["200"] || pids["400"] || len(pids) != 2 {
		t.Errorf("exposed pids %v, want 100 (top 1) and 300 (included)", pids)
	}
	var scaph bool
	for _, m := range mfs["scaph_process_power_consumption_microwatts"].GetMetric() {
		scaph = scaph || labelOf(m, "exe") == "python3"
	}
	if !scaph {
		t.Error("no scaph_process_power_consumption_microwatts{exe=\"python3\"} for the included quiet process")
	}
	// sum(process) + other + unattributed + idle = host.
	sum := 0.0
	for _, m := range mfs["wattlens_process_energy_joules_total"].GetMetric() {
		sum += valueOf(m)
	}
	for _, m := range mfs["wattlens_other_energy_joules_total"].GetMetric() {
		sum += valueOf(m)
	}
	sum += 3 + 25
	if math.Abs(sum-100) > 1e-9 {
		t.Errorf("process + other + unattributed + idle = %v J, want 100", sum)
	}

	// Without the regex the quiet process has no series.
	c = mustNew(t, Options{TopN: 1})
	exportAll(t, c, s)
	pids = map[string]bool{}
	for _, m := range gather(t, c)["wattlens_process_energy_joules_total"].GetMetric() {
		pids[labelOf(m, "pid")] = true
	}
	if len(pids) != 1 {
		t.Errorf("without --process.include-regex: processes %v with series, want 1", pids)
	}
}

func TestIncluderMatches(t *testing.T) {
	in := newIncluder(regexp.MustCompile(`^dockerd$`), 0)
	for _, tc := range []struct {
		m    *procinfo.Meta
		want bool
	}{
		{&procinfo.Meta{Exe: "/usr/bin/dockerd", Comm: "dockerd", Cmdline: "/usr/bin/dockerd -H fd://"}, true},
		{&procinfo.Meta{Comm: "dockerd"}, true}, // no readable exe: comm
		{&procinfo.Meta{Exe: "/usr/bin/containerd", Comm: "containerd"}, false},
		{nil, false},
	} {
		if got := in.match(tc.m); got != tc.want {
			t.Errorf("match(%+v) = %v, want %v", tc.m, got, tc.want)
		}
	}
	if in.max != DefaultIncludeMax {
		t.Errorf("max %d, want the default %d", in.max, DefaultIncludeMax)
	}
	if newIncluder(nil, 5) != nil {
		t.Error("an includer without a regex")
	}
}

// --compat=scaphandre serves each process's RSS and VSZ where the reader
// read them (not at all where it did not), and the host facts handed to
// SetHostFacts.
func TestScaphandreMemoryAndHostFacts(t *testing.T) {
	s := fixedSnapshot()
	s.Processes[0].Memory = procinfo.Memory{Resident: 4096 * 300, Virtual: 10_000_000, Known: true}
	c := mustNew(t, Options{Compat: []string{CompatScaphandre}})
	exportAll(t, c, s)
	c.SetHostFacts(&HostFacts{
		Load:           &[3]float64{1.5, 1, 0.5},
		Disks:          []DiskFacts{{FileSystem: "ext4", MountPoint: "/", Type: "SSD", Name: "/dev/vda1", Total: 4096000, Available: 1024000}},
		SelfCPUPercent: 0.25, SelfCPUKnown: true, SelfVirtual: 123456789,
	})
	want := `
# HELP scaph_process_memory_bytes ` + families()[scaphProcessMemory].help + `
# TYPE scaph_process_memory_bytes gauge
scaph_process_memory_bytes{cmdline="stress-ng --cpu 2",exe="stress-ng",pid="100"} 1.2288e+06
# HELP scaph_process_memory_virtual_bytes ` + families()[scaphProcessMemoryVirtual].help + `
# TYPE scaph_process_memory_virtual_bytes gauge
scaph_process_memory_virtual_bytes{cmdline="stress-ng --cpu 2",exe="stress-ng",pid="100"} 1e+07
# HELP scaph_host_load_avg_one ` + families()[scaphLoadOne].help + `
# TYPE scaph_host_load_avg_one gauge
scaph_host_load_avg_one 1.5
# HELP scaph_host_load_avg_fifteen ` + families()[scaphLoadFifteen].help + `
# TYPE scaph_host_load_avg_fifteen gauge
scaph_host_load_avg_fifteen 0.5
# HELP scaph_host_disk_available_bytes ` + families()[scaphDiskAvailable].help + `
# TYPE scaph_host_disk_available_bytes gauge
scaph_host_disk_available_bytes{disk_file_system="ext4",disk_is_removable="false",disk_mount_point="/",disk_name="/dev/vda1",disk_type="SSD"} 1.024e+06
# HELP scaph_self_cpu_usage_percent ` + families()[scaphSelfCPU].help + `
# TYPE scaph_self_cpu_usage_percent gauge
scaph_self_cpu_usage_percent 0.25
# HELP scaph_self_memory_virtual_bytes ` + families()[scaphSelfMemoryVirtual].help + `
# TYPE scaph_self_memory_virtual_bytes gauge
scaph_self_memory_virtual_bytes 1.23456789e+08
`
	names := []string{"scaph_process_memory_bytes", "scaph_process_memory_virtual_bytes", "scaph_host_load_avg_one",
		"scaph_host_load_avg_fifteen", "scaph_host_disk_available_bytes", "scaph_self_cpu_usage_percent", "scaph_self_memory_virtual_bytes"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// Unknown figures are left out, not served as 0.
	c.SetHostFacts(&HostFacts{})
	if n := testutil.CollectAndCount(c, "scaph_host_load_avg_one", "scaph_self_cpu_usage_percent", "scaph_host_disk_total_bytes", "scaph_self_memory_virtual_bytes"); n != 0 {
		t.Errorf("%d series for unknown host facts, want 0", n)
	}
}

// --compat=kepler: node zones split into active + idle exactly; the
// processes with the other and unattributed pseudo-processes add up to the
// host's active energy exactly; Kepler's label names; both compat modes at
// once.
func TestKeplerCompat(t *testing.T) {
	s := fixedSnapshot()
	c := mustNew(t, Options{Compat: []string{CompatScaphandre, CompatKepler}, NodeName: "node-1",
		CPUs: []KeplerCPU{{Processor: "0", VendorID: "GenuineIntel", ModelName: "Xeon", PhysicalID: "0", CoreID: "0"}}})
	exportAll(t, c, s)
	mfs := gather(t, c)
	for _, name := range []string{"scaph_host_power_microwatts", "kepler_node_cpu_watts", "kepler_build_info", "kepler_node_cpu_info", "kepler_node_cpu_usage_ratio", "kepler_vm_cpu_watts"} {
		if len(mfs[name].GetMetric()) == 0 {
			t.Errorf("no %s", name)
		}
	}
	byZone := func(name string) map[string]float64 {
		out := map[string]float64{}
		for _, m := range mfs[name].GetMetric() {
			if labelOf(m, "node_name") != "node-1" {
				t.Errorf("%s: node_name %q", name, labelOf(m, "node_name"))
			}
			out[labelOf(m, "zone")] = valueOf(m)
		}
		return out
	}
	total, active, idle := byZone("kepler_node_cpu_joules_total"), byZone("kepler_node_cpu_active_joules_total"), byZone("kepler_node_cpu_idle_joules_total")
	if len(total) != 3 {
		t.Errorf("zones %v, want package, core, dram", total)
	}
	for z, tot := range total {
		if math.Abs(active[z]+idle[z]-tot) > 1e-9 {
			t.Errorf("zone %s: active %v + idle %v != total %v", z, active[z], idle[z], tot)
		}
		// This step's idle share is 5/20 of the host: idle = Δzone × 1/4
		// (the ledger starts with this snapshot).
	}
	if math.Abs(idle["package"]-18.0/4) > 1e-6 {
		t.Errorf("package idle %v J, want 4.5 (18 J this step × 5/20)", idle["package"])
	}
	var procs float64
	comms := map[string]string{}
	for _, m := range mfs["kepler_process_cpu_joules_total"].GetMetric() {
		procs += valueOf(m)
		comms[labelOf(m, "comm")] = labelOf(m, "type")
		if labelOf(m, "zone") != "host" || labelOf(m, "state") != "running" {
			t.Errorf("process series zone %q state %q", labelOf(m, "zone"), labelOf(m, "state"))
		}
	}
	// Host 100 J − idle 25 J.
	if math.Abs(procs-75) > 1e-9 {
		t.Errorf("Σ kepler_process_cpu_joules_total = %v J, want host − idle = 75", procs)
	}
	if comms["other"] != "other" || comms["unattributed"] != "unattributed" || comms["qemu-system-x86"] != "vm" || comms["stress-ng"] != "regular" {
		t.Errorf("process types by comm: %v", comms)
	}
	for _, m := range mfs["kepler_vm_cpu_joules_total"].GetMetric() {
		if labelOf(m, "vm_name") != "web" || labelOf(m, "hypervisor") != "kvm" || valueOf(m) != 20 {
			t.Errorf("vm series %v", m)
		}
	}
	problems, err := testutil.CollectAndLint(c, "kepler_node_cpu_joules_total", "kepler_process_cpu_watts", "kepler_build_info")
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestShare(t *testing.T) {
	for _, tc := range []struct{ e, num, den, want units.Energy }{
		{18_000_000, 5_000_000, 20_000_000, 4_500_000},
		{1, 1, 3, 0},
		{math.MaxUint64 / 2, 3, 4, math.MaxUint64 / 2 / 4 * 3},
		{10, 0, 20, 0},
		{10, 5, 0, 0},
		{10, 30, 20, 10}, // idle above the host: capped
	} {
		got := share(tc.e, tc.num, tc.den)
		if d := int64(got) - int64(tc.want); d < -2 || d > 2 {
			t.Errorf("share(%d, %d, %d) = %d, want %d", tc.e, tc.num, tc.den, got, tc.want)
		}
	}
}

// Where the process reader read no memory (the eBPF CPU source), the
// collector names the exposed processes (MemoryWanted) and serves what a
// HostFacts reader found for them.
func TestMemoryWanted(t *testing.T) {
	s := fixedSnapshot()
	s.Processes[0].Memory = procinfo.Memory{Resident: 1, Virtual: 2, Known: true}
	c := mustNew(t, Options{TopN: 2, Compat: []string{CompatScaphandre}})
	if c.MemoryWanted() != nil {
		t.Error("MemoryWanted before the first snapshot")
	}
	exportAll(t, c, s)
	want := c.MemoryWanted()
	if len(want) != 1 || want[0] != s.Processes[1].Key {
		t.Fatalf("MemoryWanted = %v, want the qemu process's key only (the stress-ng one has its memory)", want)
	}
	c.SetHostFacts(&HostFacts{Memory: map[procinfo.Key]procinfo.Memory{want[0]: {Resident: 4096, Virtual: 8192, Known: true}}})
	mfs := gather(t, c)
	got := map[string]float64{}
	for _, m := range mfs["scaph_process_memory_bytes"].GetMetric() {
		got[labelOf(m, "pid")] = valueOf(m)
	}
	if len(got) != 2 || got["100"] != 1 || got["200"] != 4096 {
		t.Errorf("scaph_process_memory_bytes by pid %v, want 100: 1 (reader), 200: 4096 (facts)", got)
	}
}
