package main

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/wattlens/wattlens/internal/exporter/promexp"
	facts "github.com/wattlens/wattlens/internal/machine"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// hostFacts reads, once per step in the sampler's goroutine, what
// Scaphandre's dashboards chart beside power (load average, disk space,
// the agent's own CPU and memory, and the memory of the exposed processes
// whose process reader did not read it) with the machine reader, and
// hands it to the collector (promexp.Collector.SetHostFacts). It runs
// right after the collector in the loop, so that it knows this step's
// exposed processes; only with --compat=scaphandre; scrapes read no file.
type hostFacts struct {
	r   facts.Reader
	col *promexp.Collector
	log *slog.Logger

	// The agent's CPU seconds at the previous read and when.
	lastCPU float64
	lastAt  time.Time
	warned  map[string]bool
}

func newHostFacts(procfs, sysfs string, col *promexp.Collector, log *slog.Logger) *hostFacts {
	return &hostFacts{r: facts.New(procfs, sysfs), col: col, log: log.With("exporter", "prometheus"), warned: map[string]bool{}}
}

// Export reads the facts; a figure that cannot be read is left out, with
// one log line the first time.
func (h *hostFacts) Export(_ context.Context, s *snapshot.Snapshot) error {
	f := &promexp.HostFacts{}
	if l, err := h.r.LoadAvg(); err == nil {
		f.Load = &[3]float64{l.One, l.Five, l.Fifteen}
	} else {
		h.warnOnce("load average", err)
	}
	if ds, err := h.r.Disks(nil); err == nil {
		for _, d := range ds {
			f.Disks = append(f.Disks, promexp.DiskFacts{
				FileSystem: d.FileSystem, MountPoint: d.MountPoint, Type: d.Type, Name: d.Name,
				Removable: d.Removable, Total: d.Total, Available: d.Available,
			})
		}
	} else {
		h.warnOnce("disks", err)
	}
	if me, err := h.r.Self(); err == nil {
		now := time.Now()
		cpus := max(s.CPUs, 1)
		if !h.lastAt.IsZero() && me.CPUSeconds >= h.lastCPU {
			if dt := now.Sub(h.lastAt).Seconds(); dt > 0 {
				f.SelfCPUPercent = (me.CPUSeconds - h.lastCPU) / (dt * float64(cpus)) * 100
				f.SelfCPUKnown = true
			}
		}
		h.lastCPU, h.lastAt = me.CPUSeconds, now
		f.SelfVirtual = me.Virtual
	} else {
		h.warnOnce("own stat", err)
	}
	if want := h.col.MemoryWanted(); len(want) > 0 {
		f.Memory = make(map[procinfo.Key]procinfo.Memory, len(want))
		for _, k := range want {
			if rss, vsz, ok := h.r.ProcessMemory(k.PID, k.StartTime); ok {
				f.Memory[k] = procinfo.Memory{Resident: rss, Virtual: vsz, Known: true}
			}
		}
	}
	h.col.SetHostFacts(f)
	return nil
}

func (h *hostFacts) warnOnce(what string, err error) {
	if h.warned[what] {
		return
	}
	h.warned[what] = true
	h.log.Warn("cannot read a figure scaph_* metrics show; its series are left out", "figure", what, "err", err)
}

// keplerFacts are what --compat=kepler labels its series with: the node
// name and the logical CPUs, read once at start.
type keplerFacts struct {
	node string
	cpus []promexp.KeplerCPU
}

// keplerInfo reads the keplerFacts when compat asks for Kepler's series:
// node_name is $NODE_NAME (the Helm chart sets it from the pod's
// spec.nodeName, as Kepler's DaemonSet does) or the host name; the CPUs
// come from <procfs>/cpuinfo (an unreadable one leaves
// kepler_node_cpu_info out, with a log line).
func keplerInfo(compat []string, e *env) keplerFacts {
	if !slices.Contains(compat, promexp.CompatKepler) {
		return keplerFacts{}
	}
	k := keplerFacts{node: os.Getenv("NODE_NAME")}
	if k.node == "" {
		k.node, _ = os.Hostname()
	}
	ci, err := facts.New(e.cfg.ProcFS, e.cfg.SysFS).CPUInfo()
	if err != nil {
		e.log.Warn("cannot read cpuinfo; kepler_node_cpu_info is left out", "exporter", "prometheus", "err", err)
		return k
	}
	for _, p := range ci.Processors {
		get := func(key string) string { v, _ := p.Get(key); return v }
		k.cpus = append(k.cpus, promexp.KeplerCPU{
			Processor: get("processor"), VendorID: get("vendor_id"), ModelName: get("model name"),
			PhysicalID: get("physical id"), CoreID: get("core id"),
		})
	}
	return k
}
