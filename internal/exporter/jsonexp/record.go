package jsonexp

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// Consumer kinds.
const (
	KindProcess = "process"
	KindVM      = "vm"
	KindOther   = "other"
	// KindUnattributed is the active energy of busy CPU time no readable
	// process holds (see snapshot.Snapshot.Unattributed).
	KindUnattributed = "unattributed"
)

// Record is one line of the JSON output: the schema, documented in
// docs/json.md. Energies are in joules and powers in watts, converted from
// the snapshot's microjoules and microwatts. In every record
//
//	Σ Consumers[].EnergyJoules + Idle.EnergyJoules = Host.EnergyJoules
//	Σ Consumers[].IntervalEnergyJoules + Idle.IntervalEnergyJoules = Host.IntervalEnergyJoules
//
// exactly in microjoules (each figure is a whole number of microjoules
// divided by 10⁶).
type Record struct {
	Timestamp       Timestamp `json:"timestamp"`
	Seq             uint64    `json:"seq"`
	IntervalSeconds float64   `json:"interval_seconds"`
	Sensor          string    `json:"sensor"`
	SensorUp        bool      `json:"sensor_up"`
	SensorError     string    `json:"sensor_error,omitempty"`
	Method          string    `json:"method,omitempty"`

	Host      Host       `json:"host"`
	Idle      Idle       `json:"idle"`
	Zones     []Zone     `json:"zones"`
	Consumers []Consumer `json:"consumers"`
	// Workloads is another cut of the same energy: containers, pods and
	// services (workloads.go); only with Options.Containers.
	Workloads []Workload `json:"workloads,omitzero"`

	// Attribution says how much of the interval's busy CPU time the
	// processes hold: the rest is the unattributed consumer's.
	Attribution Attribution `json:"attribution"`

	Utilisation float64 `json:"utilisation"`
	CPUs        int     `json:"cpus"`
	Processes   int     `json:"processes"`
	Skipped     int     `json:"skipped"`
	// Matched is the number of processes --process-regex kept; absent
	// without a regex.
	Matched *int `json:"matched,omitempty"`
	Wraps   int  `json:"wraps"`
	Resets  int  `json:"resets"`
}

// Host is the whole machine.
type Host struct {
	EnergyJoules         float64 `json:"energy_joules"`
	IntervalEnergyJoules float64 `json:"interval_energy_joules"`
	PowerWatts           float64 `json:"power_watts"`
	IdlePowerWatts       float64 `json:"idle_power_watts"`
	IdleOrigin           string  `json:"idle_origin"`
	Source               string  `json:"source"`
	// Resources splits the host's energy by what it was spent on.
	Resources Resources `json:"resources"`
	// NetworkBy says how network energy went to processes: "netns",
	// "cpu" or "" (none in the interval).
	NetworkBy string `json:"network_by,omitempty"`
}

// Idle is the idle pseudo-consumer.
type Idle struct {
	EnergyJoules         float64 `json:"energy_joules"`
	IntervalEnergyJoules float64 `json:"interval_energy_joules"`
	PowerWatts           float64 `json:"power_watts"`
	Policy               string  `json:"policy"`
	// Resources splits the idle energy by resource, in proportion to
	// each resource's part of the host in each interval.
	Resources Resources `json:"resources"`
}

// Attribution is the interval's CPU time: the machine's busy time (user +
// nice + system + irq + softirq from /proc/stat) and the processes'.
// Coverage is their ratio, at most 1; null when the busy time is unknown.
type Attribution struct {
	BusyCPUSeconds    float64  `json:"busy_cpu_seconds"`
	ProcessCPUSeconds float64  `json:"process_cpu_seconds"`
	Coverage          *float64 `json:"coverage"`
}

// Zone is one energy counter.
type Zone struct {
	Zone                 string  `json:"zone"` // kind: package, core, uncore, dram, psys, gpu, platform, wall
	Name                 string  `json:"name"`
	ID                   string  `json:"id"`
	Socket               int     `json:"socket"` // -1 when none
	EnergyJoules         float64 `json:"energy_joules"`
	IntervalEnergyJoules float64 `json:"interval_energy_joules"`
	PowerWatts           float64 `json:"power_watts"`
	Source               string  `json:"source"`
}

// Consumer is one listed process (kind "process" or "vm"), the energy no
// readable process holds (kind "unattributed", always next to last), or
// the sum of the other processes, listed or exited (kind "other", always
// the last entry).
type Consumer struct {
	Kind string `json:"kind"`
	PID  int    `json:"pid,omitempty"`
	// StartTime is the process's start in clock ticks since boot
	// (/proc/<pid>/stat field 22): with PID, it tells a reused PID apart.
	StartTime uint64 `json:"start_time,omitempty"`
	VM        string `json:"vm,omitempty"`
	Exe       string `json:"exe,omitempty"`
	Comm      string `json:"comm,omitempty"`
	Cmdline   string `json:"cmdline,omitempty"`
	// The process's container, for a process in one (workloads.go).
	ContainerID   string `json:"container_id,omitempty"`
	ContainerName string `json:"container_name,omitempty"`
	Runtime       string `json:"runtime,omitempty"`
	Pod           string `json:"pod,omitempty"`
	Namespace     string `json:"namespace,omitempty"`
	// Count is, for "other", the number of running processes it sums
	// (exited processes come on top).
	Count *int `json:"count,omitempty"`

	EnergyJoules         float64 `json:"energy_joules"`
	IntervalEnergyJoules float64 `json:"interval_energy_joules"`
	PowerWatts           float64 `json:"power_watts"`
	CPUSeconds           float64 `json:"cpu_seconds"`
	CPUSecondsTotal      float64 `json:"cpu_seconds_total"`
	// Resources splits the consumer's energy by resource.
	Resources Resources `json:"resources"`
	// StorageBytes is, for a process, the bytes it read from and wrote
	// to storage in the interval (/proc/<pid>/io), by which storage
	// energy went to it.
	StorageBytes uint64 `json:"storage_bytes,omitempty"`

	// ResourcesUsage is a process's CPU and memory use, with
	// Options.Resources (json --resources, Scaphandre's resources_usage).
	ResourcesUsage *ResourcesUsage `json:"resources_usage,omitempty"`
}

// ResourcesUsage is what Scaphandre's json --resources adds to a consumer,
// with its field names: CPU use over the interval as a percentage of all
// CPUs, resident and virtual memory in bytes at its end. The memory
// fields are absent where the process reader does not read memory
// (--cpu-source=ebpf).
type ResourcesUsage struct {
	CPUUsage           float64 `json:"cpu_usage"`
	CPUUsageUnit       string  `json:"cpu_usage_unit"`
	MemoryUsage        *uint64 `json:"memory_usage,omitempty"`
	MemoryUsageUnit    string  `json:"memory_usage_unit,omitempty"`
	MemoryVirtualUsage *uint64 `json:"memory_virtual_usage,omitempty"`
}

// resourcesUsageOf is p's ResourcesUsage over s's interval.
func resourcesUsageOf(s *snapshot.Snapshot, p *snapshot.Process, up bool) *ResourcesUsage {
	r := &ResourcesUsage{CPUUsageUnit: "%"}
	if capacity := float64(s.Interval) * float64(s.CPUs); up && capacity > 0 {
		r.CPUUsage = float64(p.CPUDelta) / capacity * 100
	}
	if p.Memory.Known {
		rss, vsz := p.Memory.Resident, p.Memory.Virtual
		r.MemoryUsage, r.MemoryVirtualUsage, r.MemoryUsageUnit = &rss, &vsz, "Bytes"
	}
	return r
}

// Options choose which consumers a record lists.
type Options struct {
	// MaxConsumers is the number of processes listed before the rest is
	// summed into the "other" entry; 0 or less lists every process.
	MaxConsumers int
	// Filter, when set, lists only the processes it keeps; the others go
	// into "other" too.
	Filter *exporter.Filter
	// Containers adds the workloads array, and container fields to the
	// processes that are in one (their Meta.Workload is a
	// *container.Workload).
	Containers bool
	// Names, when set, gives the names of a container ID as known now
	// (container.Enricher.Name): names often arrive after a process was
	// first seen. Without it, or when it knows nothing, the names known
	// when the process was first seen are used.
	Names container.NameFunc
	// ResourcesUsage adds each process's CPU and memory use
	// (Consumer.ResourcesUsage; json --resources).
	ResourcesUsage bool
}

// NewRecord builds the record of s. When the sensor is down the snapshot
// holds the figures of the last good tick: the record keeps their
// cumulative figures, and its interval figures and powers are 0 (nothing
// was measured; the next good line covers the gap).
func NewRecord(s *snapshot.Snapshot, opts Options) Record {
	var r Record
	fillRecord(&r, s, opts)
	return r
}

// fillRecord builds the record of s into r, reusing r's slices.
func fillRecord(r *Record, s *snapshot.Snapshot, opts Options) {
	up := s.SensorUp
	workloads := r.Workloads[:0]
	*r = Record{
		Timestamp:       Timestamp(s.Time),
		Seq:             s.Seq,
		IntervalSeconds: s.Interval.Seconds(),
		Sensor:          s.Sensor,
		SensorUp:        up,
		SensorError:     s.SensorError,
		Method:          s.Method,
		Host: Host{
			IdlePowerWatts: s.IdlePower.Watts(),
			IdleOrigin:     s.IdleOrigin,
			Source:         string(s.Host.Source),
		},
		Idle:        Idle{Policy: s.IdlePolicy},
		Zones:       r.Zones[:0],
		Consumers:   r.Consumers[:0],
		Utilisation: s.Utilisation,
		CPUs:        s.CPUs,
		Processes:   s.Stats.Processes,
		Skipped:     s.Stats.Skipped,
		Wraps:       s.Stats.Wraps,
		Resets:      s.Stats.Resets,
	}
	if r.Zones == nil {
		r.Zones = make([]Zone, 0, len(s.Zones)) // [] rather than null
	}
	if !up {
		r.IntervalSeconds, r.Utilisation = 0, 0
	}
	r.Host.EnergyJoules, r.Host.IntervalEnergyJoules, r.Host.PowerWatts = figures(s.Host, up)
	r.Idle.EnergyJoules, r.Idle.IntervalEnergyJoules, r.Idle.PowerWatts = figures(s.Idle, up)
	r.Host.Resources = resourcesOf(s.Resources.Host, s, up)
	r.Idle.Resources = resourcesOf(s.Resources.Idle, s, up)
	if up {
		r.Host.NetworkBy = s.NetworkBy
	}
	for _, z := range s.Zones {
		rz := Zone{Zone: z.Kind, Name: z.Name, ID: z.ID, Socket: z.Socket, Source: string(z.Source)}
		rz.EnergyJoules, rz.IntervalEnergyJoules, rz.PowerWatts = figures(z.Energy, up)
		r.Zones = append(r.Zones, rz)
	}

	sel := exporter.Select(s, opts.MaxConsumers, opts.Filter)
	if opts.Filter != nil {
		m := sel.Matched
		r.Matched = &m
	}
	for _, p := range sel.Head {
		c := Consumer{
			Kind:            KindProcess,
			PID:             p.PID,
			StartTime:       p.StartTime,
			CPUSecondsTotal: p.CPUTotal.Seconds(),
		}
		if m := p.Meta; m != nil {
			c.Exe, c.Comm, c.Cmdline, c.VM = Sanitize(m.Exe), Sanitize(m.Comm), Sanitize(m.Cmdline), Sanitize(m.VM)
			if m.VM != "" {
				c.Kind = KindVM
			}
			if opts.Containers {
				setContainer(&c, m.Workload, opts.Names)
			}
		}
		c.EnergyJoules, c.IntervalEnergyJoules, c.PowerWatts = figures(p.Energy, up)
		c.Resources = resourcesOf(p.Resources, s, up)
		if up {
			c.CPUSeconds = p.CPUDelta.Seconds()
			c.StorageBytes = p.IODelta
		}
		if opts.ResourcesUsage {
			c.ResourcesUsage = resourcesUsageOf(s, &p, up)
		}
		r.Consumers = append(r.Consumers, c)
	}
	un := Consumer{Kind: KindUnattributed}
	un.EnergyJoules, un.IntervalEnergyJoules, un.PowerWatts = figures(s.Unattributed, up)
	un.Resources = resourcesOf(s.Resources.Unattributed, s, up)
	r.Consumers = append(r.Consumers, un)
	if up {
		r.Attribution = Attribution{BusyCPUSeconds: s.CPU.Busy.Seconds(), ProcessCPUSeconds: s.CPU.Processes.Seconds()}
		if c, ok := s.CPU.Coverage(); ok {
			r.Attribution.Coverage = &c
		}
	}
	count := sel.RestCount
	other := Consumer{Kind: KindOther, Count: &count, CPUSecondsTotal: sel.RestCPUTotal.Seconds()}
	other.EnergyJoules, other.IntervalEnergyJoules, other.PowerWatts = figures(sel.Rest, up)
	other.Resources = resourcesOf(exporter.RestResources(s, sel.Head), s, up)
	if up {
		other.CPUSeconds = sel.RestCPU.Seconds()
	}
	r.Consumers = append(r.Consumers, other)
	if opts.Containers {
		r.Workloads = appendWorkloads(workloads, s, opts.Names, up)
	}
}

// figures converts one Energy; a tick with the sensor down measured
// nothing, so only the cumulative figure stands.
func figures(e snapshot.Energy, up bool) (total, interval, power float64) {
	if !up {
		return e.Total.Joules(), 0, 0
	}
	return e.Total.Joules(), e.Delta.Joules(), e.Power.Watts()
}

// TimestampLayout is RFC 3339 with microseconds, in UTC.
const TimestampLayout = "2006-01-02T15:04:05.000000Z07:00"

// Timestamp is a time that encodes as RFC 3339 with a fixed six-digit
// fraction, so that every line has sub-second precision and the same
// length of timestamp.
type Timestamp time.Time

// Time returns t as a time.Time.
func (t Timestamp) Time() time.Time { return time.Time(t) }

// Equal reports whether t and u are the same instant.
func (t Timestamp) Equal(u Timestamp) bool { return time.Time(t).Equal(time.Time(u)) }

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	tt := time.Time(t).UTC()
	if y := tt.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("timestamp year %d outside [0,9999]", y)
	}
	b := make([]byte, 0, len(TimestampLayout)+2)
	b = append(b, '"')
	b = tt.AppendFormat(b, TimestampLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler; it accepts any RFC 3339 time.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	tt, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	*t = Timestamp(tt)
	return nil
}
