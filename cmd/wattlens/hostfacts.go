package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/wattlens/wattlens/internal/exporter/promexp"
	facts "github.com/wattlens/wattlens/internal/machine"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// hostFacts reads, once per step in the sampler's goroutine, what
// Scaphandre's dashboards chart beside power (load average, disk space,
// the agent's own CPU and memory) with the machine reader, and hands it to
// the collector (promexp.Collector.SetHostFacts). It runs ahead of the
// collector in the loop, only with --compat=scaphandre; scrapes read no
// file.
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
