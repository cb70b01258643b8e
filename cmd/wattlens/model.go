package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/model"
)

func setupModel(cmd *kingpin.CmdClause) action {
	cpu := cmd.Flag("cpu", `CPU model name, as /proc/cpuinfo or a vendor page writes it ("Intel Xeon Gold 6248").`).Required().String()
	sockets := intFlag(cmd.Flag("sockets", "Sockets (bare metal).").Default("1"))
	threads := intFlag(cmd.Flag("threads", "Logical CPUs in all (vCPUs for a VM); 0 takes the CPU's own count × sockets.").Default("0"))
	cores := intFlag(cmd.Flag("cores", "Physical cores in all; 0 derives them from --threads. Used only for a CPU not in the table.").Default("0"))
	memory := floatFlag(cmd.Flag("memory-gb", "Memory in GB.").Default("16"))
	vcpus := intFlag(cmd.Flag("vcpus", "Estimate a virtual machine with this many vCPUs: its share of a host with --cpu.").Default("0"))
	asJSON := cmd.Flag("json", `Print {"loads":[…],"wall_watts":[…],"cpu_watts":[…],"memory_watts":[…]}.`).Bool()

	return func(_ context.Context, e *env) error {
		switch {
		case *sockets < 1 || *sockets > 64:
			return usageError{errors.New("--sockets must be between 1 and 64")}
		case *threads < 0 || *threads > 1<<16:
			return usageError{errors.New("--threads must be between 0 and 65536")}
		case *cores < 0 || *cores > 1<<16:
			return usageError{errors.New("--cores must be between 0 and 65536")}
		case *memory < 0 || *memory > 1<<24:
			return usageError{errors.New("--memory-gb must be between 0 and 16777216")}
		case *vcpus < 0 || *vcpus > 1<<16:
			return usageError{errors.New("--vcpus must be between 0 and 65536")}
		}
		mc := model.Machine{CPU: *cpu, Sockets: *sockets, Cores: *cores, Threads: *threads, MemoryGB: *memory}
		if *vcpus > 0 {
			mc.VM, mc.Threads = true, *vcpus
		}
		m := model.For(mc)
		c := m.Curve(model.StandardLoads())
		if *asJSON {
			return model.WriteJSON(e.stdout, c)
		}
		return model.PrintTable(e.stdout, c)
	}
}
