package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wattlens/wattlens/internal/machine"
)

// CPUInfo is what the power model needs from /proc/cpuinfo, which the
// machine reader (internal/machine) reads; CPUInfoOf makes it.
type CPUInfo struct {
	ModelName string // "model name" of the first processor; synthesised for Arm
	VendorID  string // "vendor_id": GenuineIntel, AuthenticAMD; "" on Arm
	Family    int    // "cpu family"
	Model     int    // "model"
	Stepping  int    // "stepping"
	ARMPart   string // "CPU part" on Arm, e.g. "0xd0c"
	// Sockets is the number of distinct "physical id" values (1 when the
	// field is absent, as on Arm and in some guests).
	Sockets int
	// Cores is the number of distinct (physical id, core id) pairs, or
	// Threads when core ids are absent.
	Cores int
	// Threads is the number of "processor" entries: logical CPUs, or
	// vCPUs in a virtual machine.
	Threads int
	// Hypervisor is true when the "flags" line has "hypervisor": the
	// kernel runs as a guest (x86 CPUID leaf 1, ECX bit 31).
	Hypervisor bool
}

// Query returns the CPU lookup query for this machine.
func (ci CPUInfo) Query() Query {
	return Query{Name: ci.ModelName, VendorID: ci.VendorID, Family: ci.Family, Model: ci.Model, Stepping: ci.Stepping, ARMPart: ci.ARMPart}
}

// CPUInfoOf summarises /proc/cpuinfo, as the machine reader split it, for
// the model: the fields whose first occurrence describes the whole
// machine, the counts, and the hypervisor flag, with the rules above.
func CPUInfoOf(m machine.CPUInfo) (CPUInfo, error) {
	var ci CPUInfo
	sockets := map[string]bool{}
	cores := map[string]bool{}
	phys := ""
	for _, p := range m.Processors {
		for _, f := range p.Fields {
			key, val := f.Key, f.Value
			switch key {
			case "processor":
				ci.Threads++
			case "physical id":
				phys = val
				sockets[val] = true
			case "core id":
				cores[phys+"/"+val] = true
			case "flags":
				ci.Hypervisor = ci.Hypervisor || slices.Contains(strings.Fields(val), "hypervisor")
			default:
				ci.first(key, val)
			}
		}
	}
	if ci.Threads == 0 {
		return CPUInfo{}, fmt.Errorf("cpuinfo: no processor entries")
	}
	ci.Sockets = max(len(sockets), 1)
	ci.Cores = len(cores)
	if ci.Cores == 0 {
		ci.Cores = ci.Threads
	}
	if ci.ModelName == "" && ci.ARMPart != "" {
		ci.ModelName = armName(ci.ARMPart)
	}
	return ci, nil
}

// first records fields whose first occurrence describes the whole machine.
func (ci *CPUInfo) first(key, val string) {
	switch key {
	case "model name":
		if ci.ModelName == "" {
			ci.ModelName = val
		}
	case "vendor_id":
		if ci.VendorID == "" {
			ci.VendorID = val
		}
	case "cpu family":
		setInt(&ci.Family, val)
	case "model":
		setInt(&ci.Model, val)
	case "stepping":
		setInt(&ci.Stepping, val)
	case "CPU part":
		if ci.ARMPart == "" {
			ci.ARMPart = strings.ToLower(val)
		}
	}
}

func setInt(dst *int, val string) {
	if *dst != 0 {
		return
	}
	if n, err := strconv.ParseInt(val, 0, 64); err == nil {
		*dst = int(n)
	}
}

// armName names an Arm CPU from its part number, for the lookup's
// architecture hints.
func armName(part string) string {
	if id, ok := armParts[part]; ok {
		return "ARM " + id
	}
	return "ARM CPU part " + part
}
