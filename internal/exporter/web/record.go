package web

import (
	"strconv"
	"time"

	"github.com/wattlens/wattlens/internal/exporter/jsonexp"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// Record is what /api/snapshot serves and /api/stream pushes once per
// tick: the json exporter's record (docs/json.md: host, idle, zones,
// consumers with the unattributed energy, workloads, coverage), so that
// the page, a file and a push read one schema, plus what the page shows
// apart: the VMs whatever their rank, and the point the tick adds to the
// chart.
type Record struct {
	jsonexp.Record
	// VMs are the qemu/KVM guests seen, highest power first.
	VMs []VM `json:"vms"`
	// Point is this tick's point of the chart (/api/history).
	Point Point `json:"point"`
}

// VM is one virtual machine: its qemu process's figures.
type VM struct {
	Name         string  `json:"vm"`
	PID          int     `json:"pid"`
	EnergyJoules float64 `json:"energy_joules"`
	PowerWatts   float64 `json:"power_watts"`
	CPUSeconds   float64 `json:"cpu_seconds"`
}

// Point is one tick on the chart: the host's power, idle's, and the power
// of the processes that drew most in that tick.
type Point struct {
	Seq uint64 `json:"seq"`
	// Time is the end of the interval, in milliseconds since the epoch.
	Time int64 `json:"t"`
	// Up is false when the sensor was down: the chart leaves a gap.
	Up   bool    `json:"up"`
	Host float64 `json:"host"`
	Idle float64 `json:"idle"`
	Top  []Share `json:"top"`
}

// Share is one consumer's power in a Point. Key tells a process lifetime
// apart (pid and start time, so a reused PID is another line); Label is
// what the legend shows.
type Share struct {
	Key   string  `json:"key"`
	Label string  `json:"label"`
	Watts float64 `json:"w"`
}

// pointTop is the number of consumers a Point keeps.
const pointTop = 6

// newRecord builds the page's record of s.
func newRecord(s *snapshot.Snapshot, opts jsonexp.Options, maxVMs int) Record {
	up := s.SensorUp
	r := Record{Record: jsonexp.NewRecord(s, opts), VMs: []VM{}}
	r.Point = Point{Seq: s.Seq, Time: s.Time.UnixMilli(), Up: up, Top: []Share{}}
	if up {
		r.Point.Host, r.Point.Idle = s.Host.Power.Watts(), s.Idle.Power.Watts()
	}
	for _, p := range s.Processes {
		if up && len(r.Point.Top) < pointTop && p.Delta > 0 {
			r.Point.Top = append(r.Point.Top, Share{Key: processKey(p), Label: label(p), Watts: p.Power.Watts()})
		}
		if p.Meta != nil && p.VM != "" && len(r.VMs) < maxVMs {
			// A tick with the sensor down measured nothing: only the
			// cumulative figure stands (as in the json exporter).
			vm := VM{Name: p.VM, PID: p.PID, EnergyJoules: p.Total.Joules()}
			if up {
				vm.PowerWatts, vm.CPUSeconds = p.Power.Watts(), p.CPUDelta.Seconds()
			}
			r.VMs = append(r.VMs, vm)
		}
	}
	return r
}

func processKey(p snapshot.Process) string {
	return strconv.Itoa(p.PID) + "-" + strconv.FormatUint(p.StartTime, 10)
}

// label names a process for the chart's legend: a VM by its name, else
// its command name and PID.
func label(p snapshot.Process) string {
	name := ""
	if p.Meta != nil {
		if p.VM != "" {
			return "VM " + p.VM
		}
		name = p.Comm
		if name == "" {
			name = p.Exe
		}
	}
	if name == "" {
		name = "process"
	}
	return name + " (" + strconv.Itoa(p.PID) + ")"
}

// pointAge is how old p is at now.
func pointAge(p Point, now int64) time.Duration {
	return time.Duration(now-p.Time) * time.Millisecond
}
