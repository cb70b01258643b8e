package promexp

// compatNative names, for each compatibility family, the wattlens series
// (or expression over them) that holds the same figure, for the metric
// reference: docs/metrics.md shows it beside the compatibility name, and
// the family's help says how the meaning differs.
var compatNative = map[metricID]string{
	scaphHostPower:            "wattlens_host_power_watts × 1e6",
	scaphHostEnergy:           "wattlens_host_energy_joules_total × 1e6",
	scaphSocketPower:          "sum by (socket) (wattlens_zone_power_watts{zone=\"package\"}) × 1e6",
	scaphSocketEnergy:         "sum by (socket) (wattlens_zone_energy_joules_total{zone=\"package\"}) × 1e6",
	scaphDomainPower:          "wattlens_zone_power_watts{zone=~\"core|uncore|dram\"} × 1e6",
	scaphDomainEnergy:         "wattlens_zone_energy_joules_total{zone=~\"core|uncore|dram\"} × 1e6",
	scaphProcessPower:         "wattlens_process_power_watts × 1e6",
	scaphProcessCPU:           "— (CPU time over the step / (step × CPUs) × 100)",
	scaphSelfVersion:          "wattlens_build_info{version}",
	scaphSelfProcs:            "wattlens_processes",
	scaphSelfMemory:           "go_memstats_sys_bytes − go_memstats_heap_released_bytes",
	scaphProcessMemory:        "—",
	scaphProcessMemoryVirtual: "—",
	scaphLoadOne:              "— (node_load1)",
	scaphLoadFive:             "— (node_load5)",
	scaphLoadFifteen:          "— (node_load15)",
	scaphDiskTotal:            "— (node_filesystem_size_bytes)",
	scaphDiskAvailable:        "— (node_filesystem_avail_bytes)",
	scaphSelfCPU:              "— (rate of the agent's own wattlens_process CPU)",
	scaphSelfMemoryVirtual:    "—",

	keplerNodeJoules:       "sum by (zone) (wattlens_zone_energy_joules_total)",
	keplerNodeWatts:        "sum by (zone) (wattlens_zone_power_watts)",
	keplerNodeActiveJoules: "zone energy × (1 − idle share) per step",
	keplerNodeActiveWatts:  "zone power × (1 − wattlens_idle_power_watts / wattlens_host_power_watts)",
	keplerNodeIdleJoules:   "zone energy × idle share per step",
	keplerNodeIdleWatts:    "zone power × wattlens_idle_power_watts / wattlens_host_power_watts",
	keplerNodeUsage:        "wattlens_cpu_utilisation_ratio",
	keplerNodeInfo:         "— (/proc/cpuinfo)",
	keplerProcessJoules:    "wattlens_process_energy_joules_total; other and unattributed as pseudo-processes",
	keplerProcessWatts:     "wattlens_process_power_watts; other and unattributed as pseudo-processes",
	keplerProcessSeconds:   "—",
	keplerContainerJoules:  "wattlens_container_energy_joules_total",
	keplerContainerWatts:   "wattlens_container_power_watts",
	keplerVMJoules:         "wattlens_vm_energy_joules_total",
	keplerVMWatts:          "wattlens_vm_power_watts",
	keplerPodJoules:        "wattlens_pod_energy_joules_total",
	keplerPodWatts:         "wattlens_pod_power_watts",
	keplerBuildInfo:        "wattlens_build_info",
}
