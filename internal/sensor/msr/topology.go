package msr

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

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
// arch/x86/kernel/cpu/proc.c). It is written here rather than taken from
// prometheus/procfs because procfs picks its cpuinfo parser by GOARCH, so
// an x86 fixture would not parse on an arm64 test machine.
func parseCPUInfo(r io.Reader) (cpuID, error) {
	var id cpuID
	seen := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if seen > 0 {
				break // end of the first processor block
			}
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		var err error
		switch key {
		case "vendor_id":
			id.vendor = val
			seen++
		case "cpu family":
			id.family, err = strconv.Atoi(val)
			seen++
		case "model":
			id.model, err = strconv.Atoi(val)
			seen++
		}
		if err != nil {
			return cpuID{}, fmt.Errorf("cpuinfo %q: %w", key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return cpuID{}, err
	}
	if id.vendor == "" {
		return cpuID{}, errors.New("cpuinfo: no vendor_id")
	}
	return id, nil
}

func readCPUInfo(procfs string) (cpuID, error) {
	b, err := os.ReadFile(filepath.Join(procfs, "cpuinfo"))
	if err != nil {
		return cpuID{}, err
	}
	return parseCPUInfo(bytes.NewReader(b))
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
