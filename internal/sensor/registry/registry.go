// Package registry is the table of sensors: their names, what they read,
// and how `auto` chooses among them.
package registry

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/estimate"
	"github.com/wattlens/wattlens/internal/sensor/gpu"
	"github.com/wattlens/wattlens/internal/sensor/hwmon"
	"github.com/wattlens/wattlens/internal/sensor/msr"
	"github.com/wattlens/wattlens/internal/sensor/perfrapl"
	"github.com/wattlens/wattlens/internal/sensor/powercap"
	"github.com/wattlens/wattlens/internal/sensor/redfish"
	"github.com/wattlens/wattlens/internal/sensor/vm"
)

// VM is the name of the guest sensor that --vm selects.
const VM = vm.Name

// Entry is one sensor.
type Entry struct {
	Name string
	Help string
	New  func(sensor.Options) (sensor.Sensor, error)
	// Auto says how auto uses it: "cpu" sensors are tried in table order
	// and the first that works is used; "add" sensors are added to it
	// when they work.
	Auto string
	// RAPL marks the sensors that read the same RAPL counters by different
	// kernel interfaces (powercap, perf, MSR): where auto uses one and a
	// later one works too, it checks that they agree (see Compare).
	RAPL bool
}

// Entries returns the table, in auto's order of trust.
func Entries() []Entry {
	return []Entry{
		{Name: powercap.Name, Help: "RAPL energy counters through the kernel's powercap sysfs", New: powercap.New, Auto: "cpu", RAPL: true},
		{Name: perfrapl.Name, Help: "RAPL energy counters through the kernel's power perf PMU (perf_event_open; CAP_PERFMON, no root)", New: perfrapl.New, Auto: "cpu", RAPL: true},
		{Name: msr.Name, Help: "RAPL energy counters read from /dev/cpu/N/msr", New: msr.New, Auto: "cpu", RAPL: true},
		{Name: hwmon.Name, Help: "hwmon energy counters and power meters", New: hwmon.New, Auto: "cpu"},
		{Name: estimate.Name, Help: "a power model driven by CPU utilisation, memory traffic and each disk's and NIC's activity (estimated figures)", New: estimate.New, Auto: "cpu"},
		{Name: gpu.Name, Help: "NVIDIA GPUs through NVML", New: gpu.New, Auto: "add"},
		{Name: redfish.Name, Help: "the server's power at the wall from its BMC over Redfish (--redfish.endpoint)", New: redfish.New, Auto: "add"},
		{Name: vm.Name, Help: "a guest's share written by the host's wattlens qemu exporter (--vm)", New: vm.New},
	}
}

// Names lists every sensor name.
func Names() []string {
	var names []string
	for _, e := range Entries() {
		names = append(names, e.Name)
	}
	return names
}

func lookup(name string) (Entry, bool) {
	for _, e := range Entries() {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Open opens the named sensors (or chooses with "auto") and combines them.
func Open(names []string, opts sensor.Options, log *slog.Logger) (sensor.Sensor, error) {
	if len(names) == 1 && names[0] == "auto" {
		return openAuto(opts, log)
	}
	var ss []sensor.Sensor
	for _, n := range names {
		e, ok := lookup(n)
		if !ok {
			return nil, fmt.Errorf("unknown sensor %q; valid sensors: auto, %s", n, strings.Join(Names(), ", "))
		}
		s, err := e.New(opts)
		if err != nil {
			closeAll(ss)
			return nil, fmt.Errorf("sensor %s: %w", n, err)
		}
		ss = append(ss, s)
	}
	return sensor.Combine(ss...), nil
}

// openAuto uses the first "cpu" sensor that works and adds every "add"
// sensor that works, logging why each other one was passed over.
func openAuto(opts sensor.Options, log *slog.Logger) (sensor.Sensor, error) {
	var chosen []sensor.Sensor
	var reasons []string
	for _, e := range Entries() {
		if e.Auto == "" || e.Auto == "cpu" && len(chosen) > 0 {
			continue
		}
		s, err := e.New(opts)
		if errors.Is(err, sensor.ErrPermission) {
			// Counters are there but unreadable: the fix is worth a warning.
			log.Warn("auto: sensor not used", "sensor", e.Name, "reason", err)
			reasons = append(reasons, e.Name+": "+err.Error())
			continue
		}
		if err != nil {
			log.Info("auto: sensor not used", "sensor", e.Name, "reason", err)
			reasons = append(reasons, e.Name+": "+err.Error())
			continue
		}
		if e.Auto == "cpu" {
			if _, err := s.Read(); err != nil {
				log.Info("auto: sensor not used", "sensor", e.Name, "reason", err)
				reasons = append(reasons, e.Name+": "+err.Error())
				closeAll([]sensor.Sensor{s})
				continue
			}
		}
		log.Info("auto: sensor used", "sensor", e.Name)
		chosen = append(chosen, s)
		if e.RAPL {
			crossCheck(e.Name, s, opts, log)
		}
	}
	if len(chosen) == 0 {
		return nil, fmt.Errorf("no sensor works here: %s", strings.Join(reasons, "; "))
	}
	return sensor.Combine(chosen...), nil
}

func closeAll(ss []sensor.Sensor) {
	for _, s := range ss {
		if c, ok := s.(sensor.Closer); ok {
			_ = c.Close()
		}
	}
}

// Status is what `info` says of one sensor.
type Status struct {
	Name  string
	Help  string
	Works bool
	// Opened is true when the sensor could be set up, even if its first
	// read then failed (a stale VM share): exporters start with it and
	// report it down until it reads.
	Opened bool
	// Reason says why not, when it does not work.
	Reason string
	// Permission is true when the counters exist but this user may not
	// read them.
	Permission bool
	Zones      []power.Zone
	Method     string
}

// Probe tries every sensor once and reports.
func Probe(opts sensor.Options) []Status {
	var out []Status
	for _, e := range Entries() {
		st := Status{Name: e.Name, Help: e.Help}
		s, err := e.New(opts)
		st.Opened = err == nil
		if err == nil {
			var r power.Reading
			r, err = s.Read()
			st.Zones = r.Zones
			if d, ok := s.(sensor.Describer); ok {
				st.Method = d.Method()
			}
			closeAll([]sensor.Sensor{s})
		}
		st.Works = err == nil
		if err != nil {
			st.Reason = err.Error()
			st.Permission = errors.Is(err, sensor.ErrPermission)
		}
		out = append(out, st)
	}
	return out
}
