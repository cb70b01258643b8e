package promexp

import (
	"strconv"

	"github.com/wattlens/wattlens/internal/procinfo"
)

// HostFacts are figures about the machine and the agent that Scaphandre's
// dashboards chart beside power: load average, disk space, the agent's
// own CPU and memory. A reader the command wires (machine.Reader, once per
// step, in the sampler's goroutine) gives them to SetHostFacts; a scrape
// only reads the latest. A nil field or an unknown figure is left out of
// the exposition.
type HostFacts struct {
	// Load is the 1, 5 and 15 minute load average; nil when unread.
	Load *[3]float64
	// Disks are the mounted block-device file systems.
	Disks []DiskFacts
	// SelfCPUPercent is the agent's CPU time over the last step as a
	// percentage of all CPUs; SelfCPUKnown is false before two reads.
	SelfCPUPercent float64
	SelfCPUKnown   bool
	// SelfVirtual is the agent's virtual memory size in bytes; 0 when
	// unread.
	SelfVirtual uint64
	// Memory is the memory of exposed processes whose process reader did
	// not read it (the eBPF CPU source reads no stat line per tick), read
	// for the processes MemoryWanted names.
	Memory map[procinfo.Key]procinfo.Memory
}

// MemoryWanted lists the exposed processes of the latest snapshot whose
// memory the process reader did not read: those a HostFacts reader should
// read for scaph_process_memory_*. Call it after Export.
func (c *Collector) MemoryWanted() []procinfo.Key {
	v := c.view.Load()
	if v == nil {
		return nil
	}
	var out []procinfo.Key
	for i := range v.procs {
		if p := &v.procs[i]; !p.memory.Known {
			out = append(out, p.key)
		}
	}
	return out
}

// DiskFacts is one file system, with Scaphandre's disk labels.
type DiskFacts struct {
	FileSystem, MountPoint, Type, Name string
	Removable                          bool
	Total, Available                   uint64
}

// SetHostFacts makes f the figures scrapes show from now on. Safe to call
// while scrapes run.
func (c *Collector) SetHostFacts(f *HostFacts) { c.facts.Store(f) }

// collectHostFacts sends the latest HostFacts' Scaphandre series.
func (c *Collector) collectHostFacts(e *emitter) {
	f := c.facts.Load()
	if f == nil {
		return
	}
	if f.Load != nil {
		e.emit(scaphLoadOne, f.Load[0])
		e.emit(scaphLoadFive, f.Load[1])
		e.emit(scaphLoadFifteen, f.Load[2])
	}
	for _, d := range f.Disks {
		labels := []string{sanitize(d.FileSystem, maxLabelBytes), sanitize(d.MountPoint, maxLabelBytes),
			sanitize(d.Type, maxLabelBytes), strconv.FormatBool(d.Removable), sanitize(d.Name, maxLabelBytes)}
		e.emit(scaphDiskTotal, float64(d.Total), labels...)
		e.emit(scaphDiskAvailable, float64(d.Available), labels...)
	}
	if f.SelfCPUKnown {
		e.emit(scaphSelfCPU, f.SelfCPUPercent)
	}
	if f.SelfVirtual > 0 {
		e.emit(scaphSelfMemoryVirtual, float64(f.SelfVirtual))
	}
}
