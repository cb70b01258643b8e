package perfrapl

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
)

// pmuDir is where the kernel's RAPL PMU appears below sysfs: a link to
// /sys/devices/power, registered by arch/x86/events/rapl.c under the
// name "power" (Documentation/ABI/testing/sysfs-bus-event_source-devices).
const pmuDir = "bus/event_source/devices/power"

// joules is the only unit rapl.c gives its events ("Joules").
const joules = "Joules"

// pmu is what sysfs says of the power PMU.
type pmu struct {
	dir     string
	typ     uint32  // <dir>/type: perf_event_attr.type, assigned at boot
	cpus    []int   // <dir>/cpumask: one CPU per package (or die)
	events  []event // <dir>/events/energy-*, sorted by name
	skipped []string
}

// event is one energy-* event of the PMU.
type event struct {
	name   string // "energy-pkg"
	config uint64 // perf_event_attr.config, from "event=0x02" and format/event
	scale  float64
	kind   string // power.Kind*
	zone   string // the powercap zone name of the same domain: package, dram, psys, core, uncore
	// platform events count the whole platform, not one package: read
	// once, on the first package's CPU (as the msr sensor reads psys).
	platform bool
}

// events maps rapl.c's event names to the zone kinds of the powercap
// sensor. rapl.c (arch/x86/events/rapl.c, "RAPL_EVENT_ATTR_STR") defines
// energy-cores (event=0x01, PP0), energy-pkg (0x02), energy-ram (0x03),
// energy-gpu (0x04, PP1: the client's graphics, powercap's "uncore") and
// energy-psys (0x05, Skylake and later). Newer kernels put AMD's per-core
// energy-core in a separate PMU, power_core, which is not read: one
// core's energy is not a socket figure (see the msr sensor).
var eventKinds = map[string]struct {
	kind, zone string
	platform   bool
}{
	"energy-pkg":   {power.KindPackage, "package", false},
	"energy-ram":   {power.KindDRAM, "dram", false},
	"energy-psys":  {power.KindPsys, "psys", true},
	"energy-cores": {power.KindCore, "core", false},
	"energy-gpu":   {power.KindUncore, "uncore", false},
}

// readPMU reads <sysfs>/bus/event_source/devices/power.
func readPMU(sysfs string) (*pmu, error) {
	dir := filepath.Join(sysfs, pmuDir)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s: the kernel has no RAPL perf PMU (CONFIG_PERF_EVENTS_INTEL_RAPL), the CPU has no RAPL, or this is a VM",
			sensor.ErrUnavailable, dir)
	} else if err != nil {
		return nil, fmt.Errorf("%w: %w", sensor.ErrUnavailable, err)
	}
	p := &pmu{dir: dir}
	s, err := readString(filepath.Join(dir, "type"))
	if err != nil {
		return nil, err
	}
	t, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: want a PMU type number, got %q", sensor.ErrUnavailable, filepath.Join(dir, "type"), s)
	}
	p.typ = uint32(t)
	s, err = readString(filepath.Join(dir, "cpumask"))
	if err != nil {
		return nil, err
	}
	if p.cpus, err = parseCPUList(s); err != nil || len(p.cpus) == 0 {
		return nil, fmt.Errorf("%w: %s: want a CPU list, got %q", sensor.ErrUnavailable, filepath.Join(dir, "cpumask"), s)
	}
	format, err := readFormat(filepath.Join(dir, "format"))
	if err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "events", "energy-*"))
	if err != nil {
		return nil, err
	}
	for _, path := range names {
		name := filepath.Base(path)
		if strings.Contains(name, ".") { // energy-pkg.scale, energy-pkg.unit
			continue
		}
		ev, err := readEvent(path, format)
		if err != nil {
			p.skipped = append(p.skipped, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		p.events = append(p.events, ev)
	}
	if len(p.events) == 0 {
		why := ""
		if len(p.skipped) > 0 {
			why = " (" + strings.Join(p.skipped, "; ") + ")"
		}
		return nil, fmt.Errorf("%w: no usable energy event in %s/events%s", sensor.ErrUnavailable, dir, why)
	}
	slices.SortFunc(p.events, func(a, b event) int { return strings.Compare(a.name, b.name) })
	return p, nil
}

// readEvent reads one event, its .scale and its .unit.
func readEvent(path string, format map[string]bitField) (event, error) {
	name := filepath.Base(path)
	k, ok := eventKinds[name]
	if !ok {
		return event{}, errors.New("not a RAPL domain this sensor knows")
	}
	spec, err := readString(path)
	if err != nil {
		return event{}, err
	}
	config, err := parseEventSpec(spec, format)
	if err != nil {
		return event{}, fmt.Errorf("%s: %w", path, err)
	}
	unit, err := readString(path + ".unit")
	if err != nil {
		return event{}, err
	}
	if unit != joules {
		return event{}, fmt.Errorf("%s.unit: want %q, got %q", path, joules, unit)
	}
	s, err := readString(path + ".scale")
	if err != nil {
		return event{}, err
	}
	scale, err := strconv.ParseFloat(s, 64)
	if err != nil || !(scale > 0) || math.IsInf(scale, 0) {
		return event{}, fmt.Errorf("%s.scale: want a positive number, got %q", path, s)
	}
	return event{name: name, config: config, scale: scale, kind: k.kind, zone: k.zone, platform: k.platform}, nil
}

// bitField is where a format term goes in perf_event_attr.config: bits
// lo..hi (format/<term>, "config:0-7").
type bitField struct{ lo, hi uint }

// readFormat reads <pmu>/format/*. rapl.c has one term, event
// ("config:0-7"); a PMU without a format directory gets event → config.
func readFormat(dir string) (map[string]bitField, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bitField{"event": {0, 63}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sensor.ErrUnavailable, err)
	}
	out := map[string]bitField{}
	for _, e := range entries {
		s, err := readString(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		f, err := parseFormat(s)
		if err != nil {
			// config1/config2 terms, or several ranges: not RAPL's, and
			// an event that uses one is refused in parseEventSpec.
			continue
		}
		out[e.Name()] = f
	}
	return out, nil
}

// parseFormat parses "config:0-7" or "config:5".
func parseFormat(s string) (bitField, error) {
	bits, ok := strings.CutPrefix(s, "config:")
	if !ok || strings.Contains(bits, ",") {
		return bitField{}, fmt.Errorf("format %q: want config:<lo>-<hi>", s)
	}
	loS, hiS, isRange := strings.Cut(bits, "-")
	lo, err := strconv.ParseUint(loS, 10, 8)
	if err != nil {
		return bitField{}, fmt.Errorf("format %q: %w", s, err)
	}
	hi := lo
	if isRange {
		if hi, err = strconv.ParseUint(hiS, 10, 8); err != nil {
			return bitField{}, fmt.Errorf("format %q: %w", s, err)
		}
	}
	if hi < lo || hi > 63 {
		return bitField{}, fmt.Errorf("format %q: bits out of range", s)
	}
	return bitField{uint(lo), uint(hi)}, nil
}

// parseEventSpec turns an event's terms ("event=0x02", the form of
// perf_event_sysfs_show in kernel/events/core.c) into a config value.
func parseEventSpec(spec string, format map[string]bitField) (uint64, error) {
	var config uint64
	for term := range strings.SplitSeq(spec, ",") {
		name, val, hasVal := strings.Cut(strings.TrimSpace(term), "=")
		v := uint64(1)
		if hasVal {
			var err error
			if v, err = strconv.ParseUint(val, 0, 64); err != nil {
				return 0, fmt.Errorf("event term %q: %w", term, err)
			}
		}
		f, ok := format[name]
		if !ok {
			return 0, fmt.Errorf("event term %q: no config format for %q", term, name)
		}
		width := f.hi - f.lo + 1
		if width < 64 && v>>width != 0 {
			return 0, fmt.Errorf("event term %q: value wider than %d bits", term, width)
		}
		config |= v << f.lo
	}
	return config, nil
}

// maxCPUs bounds a CPU list (Linux's NR_CPUS is at most 8192 on x86).
const maxCPUs = 1 << 16

// parseCPUList parses a kernel CPU list ("0", "0,28", "0-1,4"): the form
// of cpumask files (lib/bitmap-str.c, bitmap_print_to_pagebuf).
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		loS, hiS, isRange := strings.Cut(part, "-")
		lo, err := strconv.Atoi(loS)
		if err != nil || lo < 0 {
			return nil, fmt.Errorf("cpu list %q", s)
		}
		hi := lo
		if isRange {
			if hi, err = strconv.Atoi(hiS); err != nil || hi < lo || hi-lo > 1<<16 {
				return nil, fmt.Errorf("cpu list %q", s)
			}
		}
		if len(cpus)+hi-lo >= maxCPUs {
			return nil, fmt.Errorf("cpu list %q: more than %d CPUs", s, maxCPUs)
		}
		for c := lo; c <= hi; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

// maxFile bounds what is read of a sysfs attribute (a page).
const maxFile = 4096

// readString reads a sysfs attribute: a regular file, opened without
// blocking (a FIFO put in a copied tree must not hang the sensor).
func readString(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("%w: %w", sensor.ErrUnavailable, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s: not a regular file", sensor.ErrUnavailable, path)
	}
	buf := make([]byte, maxFile)
	n, err := f.Read(buf)
	if err != nil && n == 0 {
		return "", fmt.Errorf("%w: %s: %w", sensor.ErrUnavailable, path, err)
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// topology gives the package and die of a CPU from
// <sysfs>/devices/system/cpu/cpu<n>/topology/{physical_package_id,die_id}
// (Documentation/ABI/stable/sysfs-devices-system-cpu); die is 0 where
// die_id is absent.
func topology(sysfs string, cpu int) (pkg, die int, err error) {
	dir := filepath.Join(sysfs, "devices", "system", "cpu", "cpu"+strconv.Itoa(cpu), "topology")
	s, err := readString(filepath.Join(dir, "physical_package_id"))
	if err != nil {
		return 0, 0, err
	}
	if pkg, err = strconv.Atoi(s); err != nil || pkg < 0 {
		return 0, 0, fmt.Errorf("%w: %s: want a package number, got %q", sensor.ErrUnavailable, filepath.Join(dir, "physical_package_id"), s)
	}
	if s, err := readString(filepath.Join(dir, "die_id")); err == nil {
		if d, err := strconv.Atoi(s); err == nil && d >= 0 {
			die = d
		}
	}
	return pkg, die, nil
}
