package msr

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	// facts, not machine: the tests name their fake machine so.
	facts "github.com/wattlens/wattlens/internal/machine"
	"github.com/wattlens/wattlens/internal/sensor"
)

// cpuID is what /proc/cpuinfo says about the first processor.
type cpuID struct {
	vendor string // vendor_id: GenuineIntel, AuthenticAMD, HygonGenuine, …
	family int    // "cpu family"
	model  int    // "model"
}

// parseCPUInfo reads vendor_id, cpu family and model of the first
// processor block of /proc/cpuinfo (x86 layout, fs/proc and
// arch/x86/kernel/cpu/proc.c), split into blocks by the machine reader (internal/machine).
func parseCPUInfo(r io.Reader) (cpuID, error) {
	ci, err := facts.ParseCPUInfo(r)
	if err != nil {
		return cpuID{}, err
	}
	return cpuIDOf(ci)
}

// cpuIDOf takes vendor_id, cpu family and model from the first block that
// has any of them.
func cpuIDOf(ci facts.CPUInfo) (cpuID, error) {
	var id cpuID
	for _, p := range ci.Processors {
		seen := 0
		for _, f := range p.Fields {
			var err error
			switch f.Key {
			case "vendor_id":
				id.vendor = f.Value
				seen++
			case "cpu family":
				id.family, err = strconv.Atoi(f.Value)
				seen++
			case "model":
				id.model, err = strconv.Atoi(f.Value)
				seen++
			}
			if err != nil {
				return cpuID{}, fmt.Errorf("cpuinfo %q: %w", f.Key, err)
			}
		}
		if seen > 0 {
			break // the first processor block
		}
	}
	if id.vendor == "" {
		return cpuID{}, errors.New("cpuinfo: no vendor_id")
	}
	return id, nil
}

// readCPUInfo reads <procfs>/cpuinfo with the machine reader.
func readCPUInfo(procfs string) (cpuID, error) {
	ci, err := facts.New(procfs, "").CPUInfo()
	if err != nil {
		return cpuID{}, err
	}
	return cpuIDOf(ci)
}

// msrCPUs lists the CPUs that have a <devfs>/cpu/<n>/msr device (the msr
// driver creates one per online CPU), in ascending order.
func msrCPUs(devfs string) ([]int, error) {
	dir := filepath.Join(devfs, "cpu")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s: load the msr module: modprobe msr", sensor.ErrUnavailable, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sensor.ErrUnavailable, err)
	}
	var cpus []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "msr")); err != nil {
			continue
		}
		cpus = append(cpus, n)
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("%w: no %s/*/msr: load the msr module: modprobe msr", sensor.ErrUnavailable, dir)
	}
	slices.Sort(cpus)
	return cpus, nil
}

// packageCPUs maps each physical package to the lowest-numbered CPU in it
// that has an msr device. The package of CPU n is
// <sysfs>/devices/system/cpu/cpu<n>/topology/physical_package_id
// (Documentation/ABI/stable/sysfs-devices-system-cpu).
func packageCPUs(sysfs string, cpus []int) (map[int]int, error) {
	pkgs := map[int]int{}
	for _, cpu := range cpus { // ascending: the first seen is the lowest
		p := filepath.Join(sysfs, "devices", "system", "cpu", "cpu"+strconv.Itoa(cpu), "topology", "physical_package_id")
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: cpu topology: %w", sensor.ErrUnavailable, err)
		}
		pkg, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", sensor.ErrUnavailable, p, err)
		}
		if _, ok := pkgs[pkg]; !ok {
			pkgs[pkg] = cpu
		}
	}
	return pkgs, nil
}
