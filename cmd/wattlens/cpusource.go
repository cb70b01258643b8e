package main

import (
	"fmt"

	"github.com/wattlens/wattlens/internal/config"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/procstat/bpfcpu"
	"github.com/wattlens/wattlens/internal/sampler"
)

// procReader opens the per-process CPU-time source --cpu-source asks for,
// with hook run on every process's Meta (nil: none). auto tries the eBPF
// source and falls back to procfs with one log line saying why; ebpf
// fails when the program cannot be loaded or the procfs root does not name
// processes as the kernel does (a fixture tree, another PID namespace). The eBPF program is unloaded
// when the command ends (env.close); the kernel also drops it if wattlens
// dies, since nothing is pinned.
func (e *env) procReader(hook procinfo.MetaHook) (sampler.ProcReader, error) {
	procfs := func() sampler.ProcReader {
		var opts []procstat.Option
		if hook != nil {
			opts = append(opts, procstat.WithMetaHook(hook))
		}
		return procstat.NewReader(e.cfg.ProcFS, opts...)
	}
	if e.cfg.CPUSource == config.CPUSourceProcfs {
		return procfs(), nil
	}
	opts := []bpfcpu.Option{bpfcpu.WithLogger(e.log)}
	if hook != nil {
		opts = append(opts, bpfcpu.WithMetaHook(hook))
	}
	r, err := bpfcpu.New(e.cfg.ProcFS, e.cfg.SysFS, opts...)
	if err != nil {
		if e.cfg.CPUSource == config.CPUSourceEBPF {
			return nil, fmt.Errorf("--cpu-source ebpf: cannot use the eBPF source: %w", err)
		}
		e.log.Info("per-process cpu time from procfs: the ebpf source cannot be used here", "reason", err.Error())
		return procfs(), nil
	}
	e.log.Info("per-process cpu time from ebpf (sched_switch)")
	e.closers = append(e.closers, func() {
		if err := r.Close(); err != nil {
			e.log.Warn("unloading the ebpf program", "err", err)
		}
	})
	return r, nil
}

// cpuSourceInfo is what info says of the CPU-time source.
type cpuSourceInfo struct {
	// Use is "ebpf" or "procfs"; Why says why.
	Use string `json:"use"`
	Why string `json:"why"`
}

// cpuSource says which CPU-time source the other commands would use, by
// loading the eBPF program and unloading it at once (unless --cpu-source
// procfs).
func (e *env) cpuSource() cpuSourceInfo {
	switch e.cfg.CPUSource {
	case config.CPUSourceProcfs:
		return cpuSourceInfo{Use: config.CPUSourceProcfs, Why: "--cpu-source procfs"}
	}
	err := bpfcpu.Probe(e.cfg.ProcFS)
	switch {
	case err == nil:
		return cpuSourceInfo{Use: config.CPUSourceEBPF, Why: "--cpu-source " + e.cfg.CPUSource + ": the eBPF program loads here and " + e.cfg.ProcFS + " names processes as it sees them"}
	case e.cfg.CPUSource == config.CPUSourceEBPF:
		return cpuSourceInfo{Use: config.CPUSourceEBPF, Why: "--cpu-source ebpf, but the eBPF source cannot be used here, so the exporters will not start: " + err.Error()}
	default:
		return cpuSourceInfo{Use: config.CPUSourceProcfs, Why: "auto: the eBPF source cannot be used here: " + err.Error()}
	}
}
