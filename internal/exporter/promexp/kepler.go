package promexp

import (
	"cmp"
	"math/bits"
	"runtime"
	"slices"
	"strings"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// CompatKepler is the --compat value that adds Kepler 0.11's metrics.
const CompatKepler = "kepler"

// KeplerCPU is one logical CPU of /proc/cpuinfo, for kepler_node_cpu_info
// (Options.CPUs; the command reads it once at start).
type KeplerCPU struct {
	Processor, VendorID, ModelName, PhysicalID, CoreID string
}

// keplerZoneKinds are the zones Kepler's node_cpu series have.
var keplerZoneKinds = []string{power.KindPackage, power.KindCore, power.KindUncore, power.KindDRAM, power.KindPsys}

// keplerZones keeps, across steps, each zone's idle energy: Kepler splits
// a zone into active and idle; wattlens's idle is its idle baseline
// (snapshot.Idle), so each step's zone energy is split by the host's idle
// share of that step, and active = the zone's total − its idle total,
// exactly.
type keplerZones struct {
	idle map[string]units.Energy // by zone kind
}

// keplerZone is one node_cpu zone at one step.
type keplerZone struct {
	zone, path       string
	total, idle      units.Energy
	power, idlePower units.Power
}

// observe sums s's zones per kind (over sockets) and books their idle
// part of this step.
func (k *keplerZones) observe(s *snapshot.Snapshot) []keplerZone {
	if k.idle == nil {
		k.idle = map[string]units.Energy{}
	}
	byKind := map[string]*keplerZone{}
	var ids = map[string][]string{}
	var deltas = map[string]units.Energy{}
	for _, z := range s.Zones {
		if !slices.Contains(keplerZoneKinds, z.Kind) {
			continue
		}
		kz, ok := byKind[z.Kind]
		if !ok {
			kz = &keplerZone{zone: z.Kind}
			byKind[z.Kind] = kz
		}
		kz.total += z.Total
		kz.power += z.Power
		deltas[z.Kind] += z.Delta
		ids[z.Kind] = append(ids[z.Kind], z.ID)
	}
	out := make([]keplerZone, 0, len(byKind))
	for kind, kz := range byKind {
		if len(ids[kind]) == 1 {
			kz.path = sanitize(ids[kind][0], maxLabelBytes)
		} else {
			kz.path = "aggregated-" + kind
		}
		k.idle[kind] += share(deltas[kind], s.Idle.Delta, s.Host.Delta)
		kz.idle = min(k.idle[kind], kz.total)
		if s.Host.Delta > 0 {
			kz.idlePower = units.Power(float64(kz.power) * float64(s.Idle.Delta) / float64(s.Host.Delta))
		}
		out = append(out, *kz)
	}
	slices.SortFunc(out, func(a, b keplerZone) int { return cmp.Compare(a.zone, b.zone) })
	return out
}

// share is e × num / den in whole microjoules (0 when den is 0), without
// overflow.
func share(e, num, den units.Energy) units.Energy {
	if den == 0 || num == 0 {
		return 0
	}
	num = min(num, den)
	hi, lo := bits.Mul64(uint64(e), uint64(num))
	q, _ := bits.Div64(hi, lo, uint64(den))
	return units.Energy(q)
}

// keplerView is what --compat=kepler adds to a view.
type keplerView struct {
	zones []keplerZone
}

// keplerType is Kepler's process type label.
func keplerType(p *procSeries) (typ, containerID, vmID string) {
	if p.vm != "" {
		return "vm", "", p.vm
	}
	if p.ctr != nil {
		return "container", p.ctr.id, ""
	}
	return "regular", "", ""
}

// collectKepler sends Kepler 0.11's series.
func (c *Collector) collectKepler(e *emitter, v *view) {
	s, kv, up, node := v.snap, v.kepler, v.snap.SensorUp, c.nodeName
	if kv == nil {
		return
	}
	for _, z := range kv.zones {
		e.energy(keplerNodeJoules, z.total, z.zone, z.path, node)
		e.energy(keplerNodeActiveJoules, z.total-z.idle, z.zone, z.path, node)
		e.energy(keplerNodeIdleJoules, z.idle, z.zone, z.path, node)
		if up {
			e.power(keplerNodeWatts, z.power, z.zone, z.path, node)
			e.power(keplerNodeActiveWatts, z.power-z.idlePower, z.zone, z.path, node)
			e.power(keplerNodeIdleWatts, z.idlePower, z.zone, z.path, node)
		}
	}
	if up {
		e.emit(keplerNodeUsage, s.Utilisation, node)
	}
	for _, cpu := range c.opts.CPUs {
		e.emit(keplerNodeInfo, 1, cpu.Processor, cpu.VendorID, cpu.ModelName, cpu.PhysicalID, cpu.CoreID)
	}
	const zone, running = "host", "running"
	for i := range v.procs {
		p := &v.procs[i]
		l := p.labels
		typ, ctr, vm := keplerType(p)
		e.energy(keplerProcessJoules, p.energy, l.pid, l.comm, l.exe, typ, running, ctr, vm, zone, node)
		if up {
			e.power(keplerProcessWatts, p.power, l.pid, l.comm, l.exe, typ, running, ctr, vm, zone, node)
		}
		e.emit(keplerProcessSeconds, p.cpuTotal, l.pid, l.comm, l.exe, typ, ctr, vm, node)
	}
	for _, pseudo := range []struct {
		name string
		en   snapshot.Energy
	}{{"other", v.other}, {"unattributed", s.Unattributed}} {
		e.energy(keplerProcessJoules, pseudo.en.Total, "", pseudo.name, "", pseudo.name, running, "", "", zone, node)
		if up {
			e.power(keplerProcessWatts, pseudo.en.Power, "", pseudo.name, "", pseudo.name, running, "", "", zone, node)
		}
	}
	for i := range v.containers {
		g := &v.containers[i]
		// labels: container_id, container_name, runtime, pod, namespace, source
		l := g.labels
		e.energy(keplerContainerJoules, g.energy.Sum(), l[0], l[1], l[2], running, zone, g.podUID, node)
		if up {
			e.power(keplerContainerWatts, sumPower(g.power), l[0], l[1], l[2], running, zone, g.podUID, node)
		}
	}
	for i := range v.pods {
		g := &v.pods[i]
		// labels: pod_uid, pod, namespace, source
		l := g.labels
		e.energy(keplerPodJoules, g.energy.Sum(), l[0], l[1], l[2], running, zone, node)
		if up {
			e.power(keplerPodWatts, sumPower(g.power), l[0], l[1], l[2], running, zone, node)
		}
	}
	for _, m := range v.vms {
		e.energy(keplerVMJoules, m.energy.Sum(), m.vm, m.vm, "kvm", running, zone, node)
		if up {
			e.power(keplerVMWatts, sumPower(m.resPower), m.vm, m.vm, "kvm", running, zone, node)
		}
	}
}

// sumPower is the power of every resource together: Kepler's workload
// series are not split by resource.
func sumPower(p [power.NumResources]units.Power) units.Power {
	var s units.Power
	for _, v := range p {
		s += v
	}
	return s
}

// keplerBuild is kepler_build_info's label values.
func keplerBuild(version, revision string) [5]string {
	return [5]string{runtime.GOARCH, "", revision, version, runtime.Version()}
}

// podUIDOf is the pod UID of a container group's workload, "" when none.
func podUIDOf(g *snapshot.Group) string {
	if w := container.WorkloadOf(g.Workload); w != nil {
		return sanitize(strings.TrimSpace(w.PodUID), maxLabelBytes)
	}
	return ""
}
