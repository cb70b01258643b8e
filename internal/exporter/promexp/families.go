package promexp

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Sets of metric families.
const (
	// SetNative is wattlens's own metric set, in base units.
	SetNative = "native"
	// SetSelf is the agent's figures about itself.
	SetSelf = "self"
	// SetContainers is what --containers adds: the books of containers,
	// pods and systemd services.
	SetContainers = "containers"
	// SetScaphandre is what --compat=scaphandre adds.
	SetScaphandre = "scaphandre"
	// SetKepler is what --compat=kepler adds.
	SetKepler = "kepler"
)

// metricID names one metric family; descriptors are kept in an array
// indexed by it.
type metricID int

const (
	hostEnergy metricID = iota
	hostPower
	hostIdlePower
	zoneEnergy
	zonePower
	processEnergy
	processPower
	idleEnergy
	idlePower
	otherEnergy
	otherPower
	unattributedEnergy
	unattributedPower
	vmEnergy
	vmPower
	cpuUtilisation
	attributionCoverage
	platformCoefficient
	platformCoefficientStdErr

	containerEnergy
	containerPower
	podEnergy
	podPower
	serviceEnergy
	servicePower

	buildInfo
	sensorUp
	tickDuration
	lastTick
	processes
	processesSkipped
	processesExposed
	counterWraps
	counterResets
	scrapeDuration
	scrapeSeries

	scaphHostPower
	scaphHostEnergy
	scaphSocketPower
	scaphSocketEnergy
	scaphDomainPower
	scaphDomainEnergy
	scaphProcessPower
	scaphProcessCPU
	scaphSelfVersion
	scaphSelfProcs
	scaphSelfMemory
	scaphProcessMemory
	scaphProcessMemoryVirtual
	scaphLoadOne
	scaphLoadFive
	scaphLoadFifteen
	scaphDiskTotal
	scaphDiskAvailable
	scaphSelfCPU
	scaphSelfMemoryVirtual

	keplerNodeJoules
	keplerNodeWatts
	keplerNodeActiveJoules
	keplerNodeActiveWatts
	keplerNodeIdleJoules
	keplerNodeIdleWatts
	keplerNodeUsage
	keplerNodeInfo
	keplerProcessJoules
	keplerProcessWatts
	keplerProcessSeconds
	keplerContainerJoules
	keplerContainerWatts
	keplerVMJoules
	keplerVMWatts
	keplerPodJoules
	keplerPodWatts
	keplerBuildInfo

	numMetrics
)

// family is one metric family as the documentation and the descriptors
// see it.
type family struct {
	name   string
	typ    prometheus.ValueType
	help   string
	labels []string
	set    string
}

// containerLabels are the labels a family gains with --containers
// (Options.Containers), before its last label (source). A family has one
// label set for the agent's lifetime either way, so series of one family
// never mix label sets.
func containerLabels(id metricID) []string {
	switch id {
	case processEnergy, processPower:
		return labelsProcessContainer
	}
	return nil
}

var (
	labelsSource  = []string{"source"}
	labelsZone    = []string{"zone", "name", "socket", "source"}
	labelsProcess = []string{"pid", "exe", "comm", "cmdline", "resource", "source"}
	labelsVM      = []string{"vm", "resource", "source"}
	// labelsProcessContainer are the process's container's, with
	// --containers; empty for a process in no container.
	labelsProcessContainer = []string{"container_id", "container_name", "pod", "namespace"}
	labelsContainer        = []string{"container_id", "container_name", "runtime", "pod", "namespace", "resource", "source"}
	labelsPod              = []string{"pod_uid", "pod", "namespace", "resource", "source"}
	labelsService          = []string{"service", "resource", "source"}
	labelsScaph            = []string{"pid", "exe", "cmdline"}
	labelsDomain           = []string{"domain_name", "domain_id", "socket_id"}
	labelsDisk             = []string{"disk_file_system", "disk_mount_point", "disk_type", "disk_is_removable", "disk_name"}

	// Kepler 0.11's label names (../shared/reference/kepler.md §2).
	labelsKeplerNode      = []string{"zone", "path", "node_name"}
	labelsKeplerProcess   = []string{"pid", "comm", "exe", "type", "state", "container_id", "vm_id", "zone", "node_name"}
	labelsKeplerProcSecs  = []string{"pid", "comm", "exe", "type", "container_id", "vm_id", "node_name"}
	labelsKeplerContainer = []string{"container_id", "container_name", "runtime", "state", "zone", "pod_id", "node_name"}
	labelsKeplerVM        = []string{"vm_id", "vm_name", "hypervisor", "state", "zone", "node_name"}
	labelsKeplerPod       = []string{"pod_id", "pod_name", "pod_namespace", "state", "zone", "node_name"}
)

// families is the table every descriptor and docs/metrics.md are made
// from, in the order a scrape emits them.
func families() [numMetrics]family {
	return [numMetrics]family{
		hostEnergy: {"wattlens_host_energy_joules_total", prometheus.CounterValue,
			"Energy the whole host drew since the agent started: psys where present, else packages + dram (+ GPUs). Wrap-corrected and monotonic: use rate() for power.",
			labelsSource, SetNative},
		hostPower: {"wattlens_host_power_watts", prometheus.GaugeValue,
			"Average power the host drew over the last step (energy over the step / its length). Absent while the sensor is down.",
			labelsSource, SetNative},
		hostIdlePower: {"wattlens_host_idle_power_watts", prometheus.GaugeValue,
			"Idle baseline of the host in use; origin says where it comes from: flag (--idle-power), model (estimate sensor), learned, fitted (the intercept of the host power regressed on its activities, where it never went quiet), or learning (not known yet: 0).",
			[]string{"origin", "source"}, SetNative},
		zoneEnergy: {"wattlens_zone_energy_joules_total", prometheus.CounterValue,
			"Energy one zone (package, core, uncore, dram, psys, gpu, platform, wall) counted since the agent started; wrap-corrected and monotonic. Zones overlap (core is inside package, package inside psys, everything inside a wall meter): do not sum all zones.",
			labelsZone, SetNative},
		zonePower: {"wattlens_zone_power_watts", prometheus.GaugeValue,
			"Average power of one zone over the last step. Absent while the sensor is down.",
			labelsZone, SetNative},
		processEnergy: {"wattlens_process_energy_joules_total", prometheus.CounterValue,
			"Host energy attributed to one process while it is among the top N by energy over the last step (--process.top; a process enters in a step in which it drew energy). A process that leaves the top N has its series end and its energy booked to wattlens_other_energy_joules_total; if it comes back, its series restarts from the energy since its return. At every scrape: sum(process) + other + unattributed + idle = host. One series per resource (cpu, memory, storage, network, gpu, platform) the host has drawn energy for: each resource's energy goes to those that used it (docs/attribution.md); sum by the other labels for the whole.",
			labelsProcess, SetNative},
		processPower: {"wattlens_process_power_watts", prometheus.GaugeValue,
			"Average power attributed to one exposed process over the last step, per resource. Absent while the sensor is down.",
			labelsProcess, SetNative},
		idleEnergy: {"wattlens_idle_energy_joules_total", prometheus.CounterValue,
			"Host energy booked to the idle pseudo-consumer (the idle baseline × time, at most the host's energy); always 0 under --idle-policy=shared.",
			labelsSource, SetNative},
		idlePower: {"wattlens_idle_power_watts", prometheus.GaugeValue,
			"Average power booked to the idle pseudo-consumer over the last step. Absent while the sensor is down.",
			labelsSource, SetNative},
		otherEnergy: {"wattlens_other_energy_joules_total", prometheus.CounterValue,
			"Host energy booked to processes without an exposed series: processes outside the top N, processes that have exited, and energy of processes whose series ended. Monotonic; sum(process) + other + unattributed + idle = host at every scrape.",
			labelsSource, SetNative},
		otherPower: {"wattlens_other_power_watts", prometheus.GaugeValue,
			"Average power over the last step of what wattlens_other_energy_joules_total counts; sum(process power) + other + unattributed + idle = host power. Absent while the sensor is down.",
			labelsSource, SetNative},
		unattributedEnergy: {"wattlens_unattributed_energy_joules_total", prometheus.CounterValue,
			"Active host energy of busy CPU time that no process the agent can read holds (irq and softirq time, processes reaped by an ancestor it cannot read, PIDs outside its view), and all active energy of steps in which no process used CPU time. Never given to visible processes. Monotonic.",
			labelsSource, SetNative},
		unattributedPower: {"wattlens_unattributed_power_watts", prometheus.GaugeValue,
			"Average power over the last step of what wattlens_unattributed_energy_joules_total counts. Absent while the sensor is down.",
			labelsSource, SetNative},
		vmEnergy: {"wattlens_vm_energy_joules_total", prometheus.CounterValue,
			"Host energy attributed to one virtual machine (its qemu/KVM processes, whether or not in the top N) since the agent started; monotonic across restarts of the VM's process. One series per resource (cpu, memory, storage, network, gpu, platform) the host has drawn energy for: each resource's energy goes to those that used it (docs/attribution.md); sum by the other labels for the whole.",
			labelsVM, SetNative},
		vmPower: {"wattlens_vm_power_watts", prometheus.GaugeValue,
			"Average power attributed to one virtual machine over the last step, per resource. Absent while the sensor is down.",
			labelsVM, SetNative},
		cpuUtilisation: {"wattlens_cpu_utilisation_ratio", prometheus.GaugeValue,
			"Busy share of all CPUs over the last step, 0 to 1.",
			nil, SetNative},
		attributionCoverage: {"wattlens_attribution_coverage_ratio", prometheus.GaugeValue,
			"Share of the last step's busy CPU time (user + nice + system + irq + softirq in /proc/stat) that the processes the agent reads hold, 0 to 1; the rest is priced into wattlens_unattributed_energy_joules_total. Absent while the sensor is down or the busy time is unknown.",
			nil, SetNative},

		platformCoefficient: {"wattlens_platform_coefficient_watts", prometheus.GaugeValue,
			"What a wall meter's remainder beyond the RAPL zones costs per unit of each activity, learned online from the meter (ridge regression towards published figures): term idle (watts with every activity at zero), storage:<disk> and network:<interface> (watts at full activity; that energy goes to the resource), cpu (watts at full CPU load; stays platform). status: learned, or the prior kept (too few samples, too little variation), clamped at zero. Absent without a meter or device activity.",
			[]string{"term", "resource", "status"}, SetNative},
		platformCoefficientStdErr: {"wattlens_platform_coefficient_stderr_watts", prometheus.GaugeValue,
			"One standard deviation of wattlens_platform_coefficient_watts: the posterior's where learned, the prior's where the prior is kept.",
			[]string{"term", "resource"}, SetNative},
		containerEnergy: {"wattlens_container_energy_joules_total", prometheus.CounterValue,
			"Host energy attributed to one container since it was first seen: the sum of its processes', those that have exited included, whether or not they are in the top N; monotonic. Every container the node runs has a series; one whose processes have all gone keeps it, at a constant value, for 5 minutes, then it ends. sum(container) + processes in no container + idle = host. One series per resource (cpu, memory, storage, network, gpu, platform) the host has drawn energy for: each resource's energy goes to those that used it (docs/attribution.md); sum by the other labels for the whole.",
			labelsContainer, SetContainers},
		containerPower: {"wattlens_container_power_watts", prometheus.GaugeValue,
			"Average power attributed to one container over the last step, per resource. Absent while the sensor is down.",
			labelsContainer, SetContainers},
		podEnergy: {"wattlens_pod_energy_joules_total", prometheus.CounterValue,
			"Host energy attributed to one Kubernetes pod since it was first seen: the sum of its containers', those that are gone and the processes that have exited included; monotonic, kept like a container's. One series per resource (cpu, memory, storage, network, gpu, platform) the host has drawn energy for: each resource's energy goes to those that used it (docs/attribution.md); sum by the other labels for the whole.",
			labelsPod, SetContainers},
		podPower: {"wattlens_pod_power_watts", prometheus.GaugeValue,
			"Average power attributed to one Kubernetes pod over the last step, per resource. Absent while the sensor is down.",
			labelsPod, SetContainers},
		serviceEnergy: {"wattlens_service_energy_joules_total", prometheus.CounterValue,
			"Host energy attributed to one systemd service (a process in no container whose cgroup is a *.service unit) since it was first seen: the sum of its processes' (exited ones included); monotonic, kept like a container's. One series per resource (cpu, memory, storage, network, gpu, platform) the host has drawn energy for: each resource's energy goes to those that used it (docs/attribution.md); sum by the other labels for the whole.",
			labelsService, SetContainers},
		servicePower: {"wattlens_service_power_watts", prometheus.GaugeValue,
			"Average power attributed to one systemd service over the last step, per resource. Absent while the sensor is down.",
			labelsService, SetContainers},

		buildInfo: {"wattlens_build_info", prometheus.GaugeValue,
			"Always 1; the labels say which build is running.",
			[]string{"version", "revision", "goversion"}, SetSelf},
		sensorUp: {"wattlens_sensor_up", prometheus.GaugeValue,
			"1 when the last read of the sensor succeeded, 0 when it failed: the energy counters are then held at the last good reading (the next good read books the whole gap).",
			[]string{"sensor"}, SetSelf},
		tickDuration: {"wattlens_tick_duration_seconds", prometheus.GaugeValue,
			"Time the last tick spent reading the sensor and procfs.",
			nil, SetSelf},
		lastTick: {"wattlens_last_tick_timestamp_seconds", prometheus.GaugeValue,
			"Unix time at the end of the interval the figures cover.",
			nil, SetSelf},
		processes: {"wattlens_processes", prometheus.GaugeValue,
			"Processes read in the last tick.",
			nil, SetSelf},
		processesSkipped: {"wattlens_processes_skipped", prometheus.GaugeValue,
			"Processes that vanished or could not be read during the last tick.",
			nil, SetSelf},
		processesExposed: {"wattlens_processes_exposed", prometheus.GaugeValue,
			"Processes with a series of their own in this exposition (at most --process.top; see wattlens_process_energy_joules_total).",
			nil, SetSelf},
		counterWraps: {"wattlens_energy_wraps_total", prometheus.CounterValue,
			"Energy counter wraparounds seen and corrected since the agent started.",
			nil, SetSelf},
		counterResets: {"wattlens_energy_resets_total", prometheus.CounterValue,
			"Energy counters seen going back without a known range (a reset: counted as no energy) since the agent started.",
			nil, SetSelf},
		scrapeDuration: {"wattlens_scrape_duration_seconds", prometheus.GaugeValue,
			"Time this collection took to produce every other wattlens series, from the latest snapshot (no sensor or procfs is read).",
			nil, SetSelf},
		scrapeSeries: {"wattlens_scrape_series", prometheus.GaugeValue,
			"Series this collection produced, not counting the two wattlens_scrape_* series.",
			nil, SetSelf},

		scaphHostPower: {"scaph_host_power_microwatts", prometheus.GaugeValue,
			"Scaphandre compatibility: host power in microwatts (wattlens_host_power_watts × 1e6).",
			[]string{"value_source"}, SetScaphandre},
		scaphHostEnergy: {"scaph_host_energy_microjoules", prometheus.CounterValue,
			"Scaphandre compatibility: host energy in microjoules since the agent started, wrap-corrected (Scaphandre exposes the raw counters' sum).",
			[]string{"value_source"}, SetScaphandre},
		scaphSocketPower: {"scaph_socket_power_microwatts", prometheus.GaugeValue,
			"Scaphandre compatibility: power of one package (socket) in microwatts.",
			[]string{"socket_id"}, SetScaphandre},
		scaphSocketEnergy: {"scaph_socket_energy_microjoules", prometheus.CounterValue,
			"Scaphandre compatibility: energy of one package (socket) in microjoules since the agent started, wrap-corrected.",
			[]string{"socket_id"}, SetScaphandre},
		scaphDomainPower: {"scaph_domain_power_microwatts", prometheus.GaugeValue,
			"Scaphandre compatibility: power of one RAPL domain (core, uncore, dram) in microwatts.",
			labelsDomain, SetScaphandre},
		scaphDomainEnergy: {"scaph_domain_energy_microjoules", prometheus.CounterValue,
			"Scaphandre compatibility: energy of one RAPL domain in microjoules since the agent started, wrap-corrected.",
			labelsDomain, SetScaphandre},
		scaphProcessPower: {"scaph_process_power_consumption_microwatts", prometheus.GaugeValue,
			"Scaphandre compatibility: power attributed to one exposed process in microwatts (wattlens_process_power_watts × 1e6: without idle power unless --idle-policy=shared).",
			labelsScaph, SetScaphandre},
		scaphProcessCPU: {"scaph_process_cpu_usage_percentage", prometheus.GaugeValue,
			"Scaphandre compatibility: CPU time one exposed process used over the last step, as a percentage of all CPUs.",
			labelsScaph, SetScaphandre},
		scaphSelfVersion: {"scaph_self_version", prometheus.GaugeValue,
			"Scaphandre compatibility: the agent's version as major.minorpatch (v1.2.3 → 1.23; 0 for a development build).",
			nil, SetScaphandre},
		scaphSelfProcs: {"scaph_self_topo_procs_nb", prometheus.GaugeValue,
			"Scaphandre compatibility: processes tracked in the last tick.",
			nil, SetScaphandre},
		scaphSelfMemory: {"scaph_self_memory_bytes", prometheus.GaugeValue,
			"Scaphandre compatibility: memory the agent's Go runtime holds from the system (mapped minus released), close to its resident set size.",
			nil, SetScaphandre},
		scaphProcessMemory: {"scaph_process_memory_bytes", prometheus.GaugeValue,
			"Scaphandre compatibility: resident set size of one exposed process in bytes, at the end of the last step (/proc/<pid>/stat field 24 × the page size: read with the CPU time by the procfs reader, or once per step for the exposed processes under the eBPF CPU source). Absent for a process that has exited.",
			labelsScaph, SetScaphandre},
		scaphProcessMemoryVirtual: {"scaph_process_memory_virtual_bytes", prometheus.GaugeValue,
			"Scaphandre compatibility: virtual memory size of one exposed process in bytes (/proc/<pid>/stat field 23), read as scaph_process_memory_bytes is.",
			labelsScaph, SetScaphandre},
		scaphLoadOne: {"scaph_host_load_avg_one", prometheus.GaugeValue,
			"Scaphandre compatibility: the host's load average over 1 minute (/proc/loadavg), read at the last step.",
			nil, SetScaphandre},
		scaphLoadFive: {"scaph_host_load_avg_five", prometheus.GaugeValue,
			"Scaphandre compatibility: the host's load average over 5 minutes (/proc/loadavg).",
			nil, SetScaphandre},
		scaphLoadFifteen: {"scaph_host_load_avg_fifteen", prometheus.GaugeValue,
			"Scaphandre compatibility: the host's load average over 15 minutes (/proc/loadavg; Scaphandre 1.0 exports the 5-minute figure here by mistake).",
			nil, SetScaphandre},
		scaphDiskTotal: {"scaph_host_disk_total_bytes", prometheus.GaugeValue,
			"Scaphandre compatibility: size of one mounted block-device file system in bytes (statfs), one series per mount point (Scaphandre 1.0 exports the last disk only).",
			labelsDisk, SetScaphandre},
		scaphDiskAvailable: {"scaph_host_disk_available_bytes", prometheus.GaugeValue,
			"Scaphandre compatibility: space an unprivileged user may still write on one mounted block-device file system, in bytes (statfs f_bavail).",
			labelsDisk, SetScaphandre},
		scaphSelfCPU: {"scaph_self_cpu_usage_percent", prometheus.GaugeValue,
			"Scaphandre compatibility: CPU time the agent used over the last step, as a percentage of all CPUs.",
			nil, SetScaphandre},
		scaphSelfMemoryVirtual: {"scaph_self_memory_virtual_bytes", prometheus.GaugeValue,
			"Scaphandre compatibility: the agent's virtual memory size in bytes (/proc/self/stat field 23).",
			nil, SetScaphandre},

		keplerNodeJoules: {"kepler_node_cpu_joules_total", prometheus.CounterValue,
			"Kepler compatibility: energy of one zone (package, core, uncore, dram, psys), summed over sockets, in joules since the agent started; wrap-corrected. Zones overlap: do not sum them. path is the zone's ID, or aggregated-<zone> over several sockets (wattlens_zone_energy_joules_total).",
			labelsKeplerNode, SetKepler},
		keplerNodeWatts: {"kepler_node_cpu_watts", prometheus.GaugeValue,
			"Kepler compatibility: power of one zone over the last step, in watts (wattlens_zone_power_watts summed over sockets).",
			labelsKeplerNode, SetKepler},
		keplerNodeActiveJoules: {"kepler_node_cpu_active_joules_total", prometheus.CounterValue,
			"Kepler compatibility: the active part of one zone's energy: the zone's energy less its idle part (below). Kepler splits a zone by the CPU usage ratio; wattlens by its idle baseline: each step, idle = zone × idle energy / host energy (wattlens_idle_energy_joules_total; 0 under --idle-policy=shared).",
			labelsKeplerNode, SetKepler},
		keplerNodeActiveWatts: {"kepler_node_cpu_active_watts", prometheus.GaugeValue,
			"Kepler compatibility: active power of one zone over the last step (the zone's power less its idle part).",
			labelsKeplerNode, SetKepler},
		keplerNodeIdleJoules: {"kepler_node_cpu_idle_joules_total", prometheus.CounterValue,
			"Kepler compatibility: the idle part of one zone's energy, in joules since the agent started: each step's zone energy × the host's idle share of that step. active + idle = the zone's total, exactly.",
			labelsKeplerNode, SetKepler},
		keplerNodeIdleWatts: {"kepler_node_cpu_idle_watts", prometheus.GaugeValue,
			"Kepler compatibility: idle power of one zone over the last step.",
			labelsKeplerNode, SetKepler},
		keplerNodeUsage: {"kepler_node_cpu_usage_ratio", prometheus.GaugeValue,
			"Kepler compatibility: busy share of all CPUs over the last step, 0 to 1 (wattlens_cpu_utilisation_ratio).",
			[]string{"node_name"}, SetKepler},
		keplerNodeInfo: {"kepler_node_cpu_info", prometheus.GaugeValue,
			"Kepler compatibility: always 1, one series per logical CPU of /proc/cpuinfo, read at start.",
			[]string{"processor", "vendor_id", "model_name", "physical_id", "core_id"}, SetKepler},
		keplerProcessJoules: {"kepler_process_cpu_joules_total", prometheus.CounterValue,
			"Kepler compatibility: host energy attributed to one exposed process (wattlens_process_energy_joules_total), in joules, zone=\"host\": wattlens attributes the host's energy (psys, or packages + dram) once, not each zone. The pseudo-processes comm=\"other\" (processes without a series of their own, exited ones) and comm=\"unattributed\" (busy CPU time no readable process holds) have type other and unattributed: with them the processes add up to the node's active energy exactly.",
			labelsKeplerProcess, SetKepler},
		keplerProcessWatts: {"kepler_process_cpu_watts", prometheus.GaugeValue,
			"Kepler compatibility: power attributed to one exposed process (and other, unattributed) over the last step, in watts; zone=\"host\".",
			labelsKeplerProcess, SetKepler},
		keplerProcessSeconds: {"kepler_process_cpu_seconds_total", prometheus.CounterValue,
			"Kepler compatibility: CPU time of one exposed process since the agent first saw it, in seconds.",
			labelsKeplerProcSecs, SetKepler},
		keplerContainerJoules: {"kepler_container_cpu_joules_total", prometheus.CounterValue,
			"Kepler compatibility: host energy attributed to one container (wattlens_container_energy_joules_total; with --containers), zone=\"host\".",
			labelsKeplerContainer, SetKepler},
		keplerContainerWatts: {"kepler_container_cpu_watts", prometheus.GaugeValue,
			"Kepler compatibility: power attributed to one container over the last step (with --containers), zone=\"host\".",
			labelsKeplerContainer, SetKepler},
		keplerVMJoules: {"kepler_vm_cpu_joules_total", prometheus.CounterValue,
			"Kepler compatibility: host energy attributed to one qemu/KVM guest (wattlens_vm_energy_joules_total); vm_id is its name, zone=\"host\".",
			labelsKeplerVM, SetKepler},
		keplerVMWatts: {"kepler_vm_cpu_watts", prometheus.GaugeValue,
			"Kepler compatibility: power attributed to one qemu/KVM guest over the last step, zone=\"host\".",
			labelsKeplerVM, SetKepler},
		keplerPodJoules: {"kepler_pod_cpu_joules_total", prometheus.CounterValue,
			"Kepler compatibility: host energy attributed to one Kubernetes pod (wattlens_pod_energy_joules_total; with --containers), zone=\"host\".",
			labelsKeplerPod, SetKepler},
		keplerPodWatts: {"kepler_pod_cpu_watts", prometheus.GaugeValue,
			"Kepler compatibility: power attributed to one Kubernetes pod over the last step (with --containers), zone=\"host\".",
			labelsKeplerPod, SetKepler},
		keplerBuildInfo: {"kepler_build_info", prometheus.GaugeValue,
			"Kepler compatibility: always 1; the labels say which wattlens build is running (branch is empty).",
			[]string{"arch", "branch", "revision", "version", "goversion"}, SetKepler},
	}
}

// descs are the descriptors, built once per collector from the table.
type descs [numMetrics]*prometheus.Desc

// newDescs builds the descriptors; with containers, the families that
// have container labels get them, before their last label (source).
func newDescs(containers bool) *descs {
	var d descs
	for id, f := range families() {
		d[id] = prometheus.NewDesc(f.name, f.help, labelNames(metricID(id), f.labels, containers), nil)
	}
	return &d
}

// labelNames are a family's labels, with its container labels or not.
func labelNames(id metricID, labels []string, containers bool) []string {
	extra := containerLabels(id)
	if !containers || len(extra) == 0 {
		return labels
	}
	n := len(labels) - 1
	out := make([]string, 0, len(labels)+len(extra))
	out = append(out, labels[:n]...)
	out = append(out, extra...)
	return append(out, labels[n:]...)
}

// Family describes one metric family for the documentation.
type Family struct {
	Name   string
	Type   string // counter or gauge
	Help   string
	Labels []string
	// ContainerLabels are the labels --containers adds (before source).
	ContainerLabels []string
	Set             string // SetNative, SetSelf, SetContainers, SetScaphandre or SetKepler
	// Native is, for a compatibility family, the wattlens series that
	// holds the same figure.
	Native string
}

// Families lists every metric family the collector can produce, in the
// order a scrape emits them.
func Families() []Family {
	var out []Family
	for id, f := range families() {
		typ := "gauge"
		if f.typ == prometheus.CounterValue {
			typ = "counter"
		}
		out = append(out, Family{
			Name: f.name, Type: typ, Help: f.help, Set: f.set, Native: compatNative[metricID(id)],
			Labels:          append([]string(nil), f.labels...),
			ContainerLabels: append([]string(nil), containerLabels(metricID(id))...),
		})
	}
	return out
}

// ScaphandreLintProblem reports whether a promlint problem (as `promtool
// check metrics` prints it: metric, then text) is one that Scaphandre's own
// names carry and --compat=scaphandre keeps on purpose, so that existing
// dashboards work: its energy counters are in microjoules and lack the
// _total suffix. Every other problem is a defect.
func ScaphandreLintProblem(metric, text string) bool {
	if !strings.HasPrefix(metric, "scaph_") || !strings.HasSuffix(metric, "_microjoules") {
		return false
	}
	switch text {
	case `counter metrics should have "_total" suffix`, `use base unit "joules" instead of "microjoules"`:
		return true
	}
	return false
}
