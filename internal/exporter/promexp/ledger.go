package promexp

import (
	"cmp"
	"slices"
	"strings"

	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// ledger keeps what the exposition needs across ticks so that every
// _joules_total series is monotonic while the set of exposed processes
// changes, and so that, at every tick,
//
//	Σ exposed process counters + other + unattributed + idle = host
//
// holds exactly, in microjoules. The processes' part is the
// exporter.Ledger ("closed into other"; docs/exporters.md has the proof
// and what it means for rate()), with Prometheus label values.
//
// VMs are summed over every process with a VM name, in or out of the top
// N; the totals of a VM's processes that are gone are kept so the VM's
// counter survives a restart of its qemu process.
//
// Containers, pods and services (with Options.Containers) are the
// snapshot's groups, whose accounts attribution keeps (containers.go).
//
// ledger is owned by one goroutine (the sampler's, through Export).
type ledger struct {
	topN int
	// in adds the processes --process.include-regex names; nil without.
	in *includer

	procs *exporter.Ledger[procLabels]

	vmLive   map[procinfo.Key]vmProc
	vmClosed map[string]snapshot.ResourceEnergy

	// ctr is nil without Options.Containers.
	ctr *containerSeries

	// kepler keeps the zones' idle parts for --compat=kepler.
	kepler keplerZones
}

type vmProc struct {
	vm    string
	total snapshot.ResourceEnergy
}

func newLedger(topN, cmdlineMax int, ctr *containerSeries, in *includer) *ledger {
	b := &ledger{
		ctr:  ctr,
		topN: topN,
		in:   in,
		procs: exporter.NewLedger(func(p *snapshot.Process) procLabels {
			return newProcLabels(p.Key, p.Meta, cmdlineMax)
		}),
		vmLive:   make(map[procinfo.Key]vmProc),
		vmClosed: make(map[string]snapshot.ResourceEnergy),
	}
	if in != nil {
		b.procs.Keep = in.keep
	}
	return b
}

// view is what a scrape reads: immutable once built.
type view struct {
	snap *snapshot.Snapshot
	// measured is false for a snapshot with no measured interval (the sensor failed
	// before the first interval was measured).
	measured bool

	source string // the host's source label
	// resources are the indices (power.Resource.Index) of the resources
	// the host has drawn energy for since start: the resource label's
	// values. A resource once there stays.
	resources []int
	procs     []procSeries
	other     snapshot.Energy // Total is the monotonic counter; Power is TopN's rest
	vms       []vmSeries
	zones     []zoneSeries

	// With Options.Containers.
	containers, pods, services []groupSeries

	// Scaphandre compatibility, filled when asked for.
	scaph *scaphView
	// Kepler compatibility, filled when asked for.
	kepler *keplerView
}

type procSeries struct {
	labels *procLabels
	// ctr are its container's labels, with Options.Containers; nil for a
	// process in no container.
	ctr    *ctrLabels
	energy units.Energy
	power  units.Power
	// res is energy by resource (adding up to energy), resPower the
	// interval's power by resource.
	res      snapshot.ResourceEnergy
	resPower [power.NumResources]units.Power
	// cpuPercent is the CPU time used over the interval as a percentage
	// of all CPUs (Scaphandre's scaph_process_cpu_usage_percentage).
	cpuPercent float64
	// memory is its memory at the end of the step (Known false where the
	// process reader does not read it).
	memory procinfo.Memory
	// cpuTotal is its CPU time since first seen, in seconds; vm its VM's
	// name, "" for none (--compat=kepler).
	cpuTotal float64
	vm       string
	key      procinfo.Key
}

type vmSeries struct {
	vm       string
	energy   snapshot.ResourceEnergy
	delta    snapshot.ResourceEnergy
	resPower [power.NumResources]units.Power
}

type zoneSeries struct {
	labels []string // zone, name, socket, source
	energy units.Energy
	power  units.Power
}

// observe records snapshot s in the ledger and returns its view.
func (b *ledger) observe(s *snapshot.Snapshot, scaph, kepler bool) *view {
	v := &view{snap: s}
	if s.Seq == 0 {
		return v
	}
	v.measured = true
	v.source = sourceLabel(s.Host.Source)
	for r, t := range s.Resources.Host.Total {
		if t > 0 || r == power.ResourceCPU.Index() {
			v.resources = append(v.resources, r)
		}
	}

	if b.ctr != nil {
		// First: the processes' container labels come from this tick's.
		v.containers, v.pods, v.services = b.ctr.groups(s)
	}
	head, rest := selectHead(s, b.topN, b.in)
	v.procs, v.other = b.processes(s, head, rest)
	v.vms = b.vmsOf(s)
	v.zones = zonesOf(s)
	if scaph {
		v.scaph = scaphOf(s)
	}
	if kepler {
		v.kepler = &keplerView{zones: b.kepler.observe(s)}
	}
	return v
}

// processes records the top N of s, head, in the exposed set
// (exporter.Ledger) and returns its series and the other counter: Total
// monotonic, Delta and Power TopN's rest.
func (b *ledger) processes(s *snapshot.Snapshot, head []snapshot.Process, rest snapshot.Energy) ([]procSeries, snapshot.Energy) {
	listed, otherTotal := b.procs.Record(s, head)
	series := make([]procSeries, len(listed))
	cpuCapacity := float64(s.Interval) * float64(s.CPUs)
	for i, l := range listed {
		p := l.Process
		series[i] = procSeries{labels: l.Labels, energy: l.Energy, power: p.Power, res: l.Resources,
			resPower: resourcePower(p.Resources.Delta, s), memory: p.Memory, cpuTotal: p.CPUTotal.Seconds(), key: p.Key}
		if p.Meta != nil && p.VM != "" {
			series[i].vm = sanitize(p.VM, maxLabelBytes)
		}
		if b.ctr != nil {
			series[i].ctr = b.ctr.process(p.Meta)
		}
		if cpuCapacity > 0 {
			series[i].cpuPercent = float64(p.CPUDelta) / cpuCapacity * 100
		}
	}
	other := rest
	other.Total = otherTotal
	return series, other
}

// vmsOf sums the processes of each VM and keeps the totals of the VM
// processes that are gone.
func (b *ledger) vmsOf(s *snapshot.Snapshot) []vmSeries {
	live := make(map[procinfo.Key]vmProc, len(b.vmLive))
	var out []vmSeries
	idx := map[string]int{}
	for i := range s.Processes {
		p := &s.Processes[i]
		if p.Meta == nil || p.VM == "" {
			continue
		}
		name := sanitize(p.VM, maxLabelBytes)
		live[p.Key] = vmProc{vm: name, total: p.Resources.Total}
		j, ok := idx[name]
		if !ok {
			j = len(out)
			idx[name] = j
			out = append(out, vmSeries{vm: name})
		}
		for r := range out[j].energy {
			out[j].energy[r] += p.Resources.Total[r]
			out[j].delta[r] += p.Resources.Delta[r]
		}
	}
	for k, old := range b.vmLive {
		if _, ok := live[k]; !ok {
			c := b.vmClosed[old.vm]
			for r := range c {
				c[r] += old.total[r]
			}
			b.vmClosed[old.vm] = c
		}
	}
	b.vmLive = live
	for i := range out {
		c := b.vmClosed[out[i].vm]
		for r := range c {
			out[i].energy[r] += c[r]
		}
		out[i].resPower = resourcePower(out[i].delta, s)
	}
	slices.SortFunc(out, func(x, y vmSeries) int { return cmp.Compare(x.vm, y.vm) })
	return out
}

// zonesOf labels the zones. Label sets must be unique in an exposition;
// a zone whose kind, name and socket repeat another's is named by its ID.
func zonesOf(s *snapshot.Snapshot) []zoneSeries {
	out := make([]zoneSeries, 0, len(s.Zones))
	seen := make(map[string]bool, len(s.Zones))
	for _, z := range s.Zones {
		name := z.Name
		if name == "" {
			name = z.ID
		}
		labels := []string{sanitize(z.Kind, maxLabelBytes), sanitize(name, maxLabelBytes), socketLabel(z.Socket), sourceLabel(z.Source)}
		key := strings.Join(labels, "\x00")
		if seen[key] {
			labels[1] = sanitize(z.ID, maxLabelBytes)
			if key = strings.Join(labels, "\x00"); seen[key] {
				continue
			}
		}
		seen[key] = true
		out = append(out, zoneSeries{labels: labels, energy: z.Total, power: z.Power})
	}
	return out
}

// scaphView is what --compat=scaphandre adds beyond the process series.
type scaphView struct {
	valueSource string
	sockets     []scaphZone
	domains     []scaphZone
}

type scaphZone struct {
	labels []string
	energy units.Energy
	power  units.Power
}

// scaphOf maps zones to Scaphandre's sockets (packages, summed per
// socket, as several dies may share one) and domains (core, uncore, dram).
func scaphOf(s *snapshot.Snapshot) *scaphView {
	sv := &scaphView{valueSource: s.Sensor + "_pkg"}
	sockets := map[int]int{}
	seen := map[string]bool{}
	for _, z := range s.Zones {
		switch {
		case z.Kind == power.KindPsys:
			sv.valueSource = s.Sensor + "_psys"
		case z.Socket < 0:
		case z.Kind == power.KindPackage:
			j, ok := sockets[z.Socket]
			if !ok {
				j = len(sv.sockets)
				sockets[z.Socket] = j
				sv.sockets = append(sv.sockets, scaphZone{labels: []string{socketLabel(z.Socket)}})
			}
			sv.sockets[j].energy += z.Total
			sv.sockets[j].power += z.Power
		case z.Kind == power.KindCore || z.Kind == power.KindUncore || z.Kind == power.KindDRAM:
			name := z.Name
			if name == "" {
				name = z.Kind
			}
			labels := []string{sanitize(name, maxLabelBytes), domainID(z.ID), socketLabel(z.Socket)}
			key := strings.Join(labels, "\x00")
			if seen[key] {
				continue
			}
			seen[key] = true
			sv.domains = append(sv.domains, scaphZone{labels: labels, energy: z.Total, power: z.Power})
		}
	}
	return sv
}

// domainID is the last ':'-separated part of a zone ID (intel-rapl:0:1 →
// 1), Scaphandre's domain_id.
func domainID(id string) string {
	if i := strings.LastIndexByte(id, ':'); i >= 0 {
		return sanitize(id[i+1:], maxLabelBytes)
	}
	return sanitize(id, maxLabelBytes)
}

// resourcePower is the interval's power of each resource's energy.
func resourcePower(d snapshot.ResourceEnergy, s *snapshot.Snapshot) [power.NumResources]units.Power {
	var out [power.NumResources]units.Power
	if s.Interval <= 0 {
		return out
	}
	for r, e := range d {
		out[r] = units.PowerOf(e, s.Interval)
	}
	return out
}
