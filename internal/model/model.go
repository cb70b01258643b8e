// Package model estimates a machine's power from its CPU utilisation, for
// machines without energy counters (virtual machines, cloud instances).
//
// The wall power of a machine at utilisation u (0..1) is modelled as
//
//	CPU(u)      = S · TDP · (i + (a − i) · f(u))
//	Memory(u)   = G · (m0 + (m1 − m0) · u)
//	Board       = B + b · S
//	Wall(u)     = (CPU(u) + Memory(u) + Board) / η
//	Platform(u) = Wall(u) − CPU(u) − Memory(u)
//
// where S is the number of sockets, TDP the per-socket thermal design power
// from the embedded CPU table, G the memory in GB, η the power-supply
// efficiency, and f the load-curve shape
//
//	f(u) = w · min(u/0.1, 1) + (1 − w) · u^γ
//
// (w: the part of the dynamic power that appears as soon as cores leave
// their idle states; γ: the curvature of the rest). The idle fraction i is
// per micro-architecture family, a, m0, m1, B and b are fitted to published
// SPECpower_ssj2008 results, w and γ per vendor to published full load
// curves; docs/estimation.md gives every value, its source and the model's
// measured error.
//
// Inside a virtual machine with v vCPUs the same model is applied to the
// VM's share of the host: the CPU term uses v × TDP per host thread, the
// memory term the VM's own memory, and the board term the VM's share
// v / (host threads) of a host with Params.HostSockets sockets.
//
// This package is the estimator the agent runs. The offline tooling that
// fits its coefficients (DefaultParams) and measures its error against the
// published data in testdata lives in cmd/modelerror.
package model

import (
	"fmt"
	"math"
)

// Machine describes what the estimate is for.
type Machine struct {
	// CPU is the model name, as in /proc/cpuinfo "model name".
	CPU string
	// Query refines the lookup with cpuinfo's vendor, family and model;
	// its Name is ignored in favour of CPU. Optional.
	Query Query
	// Sockets of a bare-metal machine (ignored for a VM).
	Sockets int
	// Threads is the number of logical CPUs (vCPUs in a VM).
	Threads int
	// Cores is the number of physical cores of all sockets, 0 when
	// unknown (then Threads and the generation's usual threads per core
	// tell). Used only for a CPU without a table row.
	Cores int
	// MemoryGB is the memory the machine (or VM) has.
	MemoryGB float64
	// VM is true for a virtual machine: the estimate is the VM's share
	// of its host.
	VM bool
}

// Breakdown is an estimate in watts. Wall = CPU + Memory + Platform, where
// Platform is everything else at the wall: board, fans, drives, network and
// the power supply's losses.
type Breakdown struct {
	CPU, Memory, Platform, Wall float64
}

// Model is the estimate for one machine. The zero value is not usable; use
// For or ForParams.
type Model struct {
	machine Machine
	match   Match
	params  Params
	sockets float64 // sockets whose CPU power is counted (fractional for a VM)
	tdp     float64 // TDP per socket
	tdpHow  string  // how tdp was found when the CPU has no table row
	board   float64 // board watts before the power supply
	mem     float64 // memory GB
}

// For returns the model of a machine with the fitted default coefficients.
func For(m Machine) Model { return ForParams(m, DefaultParams()) }

// ForParams returns the model of a machine with the given coefficients.
func ForParams(m Machine, p Params) Model {
	q := m.Query
	q.Name = m.CPU
	match := Lookup(q)
	md := Model{machine: m, match: match, params: p, mem: math.Max(m.MemoryGB, 0), tdp: match.CPU.TDP}
	threads := float64(max(m.Threads, 0))
	board := p.boardFor(match.Arch)
	if m.VM {
		host := float64(match.CPU.Threads * max(p.HostSockets, 1))
		md.sockets = threads / float64(max(match.CPU.Threads, 1))
		md.board = threads / math.Max(host, 1) * (board.Base + board.PerSocket*float64(max(p.HostSockets, 1)))
		return md
	}
	s := float64(max(m.Sockets, 1))
	md.sockets = s
	md.board = board.Base + board.PerSocket*s
	if !match.Exact {
		md.tdp, md.tdpHow = estimateTDP(m, match, p)
	}
	return md
}

// estimateTDP is the fallback for a bare-metal CPU without a table row:
// the TDP per socket from its generation, cores per socket, base frequency
// and low-power mark (Params.TDP), never from thread counts of other CPUs.
func estimateTDP(m Machine, match Match, p Params) (float64, string) {
	s := max(m.Sockets, 1)
	cores, coresFrom := float64(m.Cores)/float64(s), "cores"
	if m.Cores <= 0 {
		tpc := threadsPerCore(match.Arch.ID)
		cores, coresFrom = float64(m.Threads)/float64(s*tpc), fmt.Sprintf("threads ÷ %d per core", tpc)
	}
	if cores <= 0 {
		cores, coresFrom = float64(match.CPU.Threads)/float64(threadsPerCore(match.Arch.ID)), "median of the table rows"
	}
	ghz := fmt.Sprintf("%.2f GHz", match.GHz)
	if match.GHz <= 0 {
		ghz = "frequency unknown (group mean)"
	}
	low := ""
	if match.LowPower {
		low = ", low-power part"
	}
	tdp := p.TDP.Estimate(TDPGroup(match.Arch), cores, match.GHz, match.LowPower)
	how := fmt.Sprintf("CPU not in table, generation from %s; fallback TDP %.0f W/socket estimated from generation group %q, %.3g cores/socket (%s), %s%s "+
		"(ln TDP fitted to %d published TDPs)", match.Hint, tdp, TDPGroup(match.Arch), round3(cores), coresFrom, ghz, low, p.TDP.N)
	return tdp, how
}

// Power returns the estimate at utilisation u, clamped to 0..1, with the
// memory's active part driven by the same utilisation.
func (md Model) Power(u float64) Breakdown { return md.PowerMem(u, u) }

// PowerMem returns the estimate at CPU utilisation u with the memory's
// active part at m instead (both clamped to 0..1): m is the memory
// traffic's fraction of PeakMemoryBandwidth where it is counted.
func (md Model) PowerMem(u, m float64) Breakdown {
	u, m = clamp01(u), clamp01(m)
	p := md.params
	i := p.idleFrac(md.match.Arch.Idle)
	tdp := md.sockets * md.tdp
	a := p.fullFrac(md.match.Arch.Idle)
	cpu := tdp * (i + (a-i)*p.shape(md.match.Arch.Shape).At(u))
	mc := p.MemoryFor(MemGroup(md.match.Arch))
	mem := md.mem * (mc.IdleW + (mc.FullW-mc.IdleW)*m)
	wall := (cpu + mem + md.board) / p.PSUEfficiency
	return Breakdown{CPU: cpu, Memory: mem, Platform: wall - cpu - mem, Wall: wall}
}

// Idle returns the estimate at zero utilisation.
func (md Model) Idle() Breakdown { return md.Power(0) }

// Match returns the CPU table row the model uses.
func (md Model) Match() Match { return md.match }

// TDP returns the TDP per socket the model uses: the table row's, or the
// fallback's estimate for a CPU without one.
func (md Model) TDP() float64 { return md.tdp }

// Method describes in one line which row matched and the formula with its
// coefficients, for display next to the figures it produces.
func (md Model) Method() string {
	p, m, a := md.params, md.match, md.match.Arch
	sh := p.shape(a.Shape)
	mc := p.MemoryFor(MemGroup(a))
	who := fmt.Sprintf("%s × %g sockets", m.CPU.Name, round3(md.sockets))
	if md.machine.VM {
		who = fmt.Sprintf("VM share: %d vCPUs of %s (%d threads/socket, host assumed %d sockets)",
			md.machine.Threads, m.CPU.Name, m.CPU.Threads, p.HostSockets)
	}
	how := m.How
	if md.tdpHow != "" {
		how = md.tdpHow
		who = fmt.Sprintf("%s × %g sockets", a.Name, round3(md.sockets))
	}
	return fmt.Sprintf("estimated: %s; CPU %s, TDP %.0f W/socket [%s]; "+
		"CPU = TDP×(%.3f + %.3f×f(u)), f(u) = %.2f·min(u/0.1,1) + %.2f·u^%.2f; "+
		"memory %.0f GB × (%.3f + %.3f·u) W/GB; board %.1f W; wall = (CPU+memory+board)/%.2f PSU; "+
		"coefficients fitted to SPECpower_ssj2008 (docs/estimation.md)",
		who, a.Name, md.tdp, how, p.idleFrac(a.Idle), p.fullFrac(a.Idle)-p.idleFrac(a.Idle),
		sh.Wake, 1-sh.Wake, sh.Exp, md.mem, mc.IdleW, mc.FullW-mc.IdleW, md.board, p.PSUEfficiency)
}

// At is the load-curve shape f at utilisation u, with f(0)=0 and f(1)=1.
func (s Shape) At(u float64) float64 {
	return s.Wake*math.Min(u/0.1, 1) + (1-s.Wake)*math.Pow(u, s.Exp)
}

func clamp01(u float64) float64 {
	if math.IsNaN(u) || u < 0 {
		return 0
	}
	return math.Min(u, 1)
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
