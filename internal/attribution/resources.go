package attribution

import (
	"cmp"
	"math/bits"
	"slices"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Resource indices, for the per-resource arrays.
var (
	resCPU      = power.ResourceCPU.Index()
	resMemory   = power.ResourceMemory.Index()
	resStorage  = power.ResourceStorage.Index()
	resNetwork  = power.ResourceNetwork.Index()
	resGPU      = power.ResourceGPU.Index()
	resPlatform = power.ResourcePlatform.Index()
)

// How network energy went to processes (snapshot.NetworkBy).
const (
	NetworkByNetNS = "netns"
	NetworkByCPU   = "cpu"
)

// hostResources splits the host's delta by resource. Zones that add into
// the host give their delta to their resource (power.ResourceOf). A zone
// that holds others (psys, a wall meter) is split into the zones inside it
// that were read — packages (cpu), DRAM (memory), disks, NICs, GPUs, the
// platform — and its remainder, which is the platform's; when the parts
// read more than the zone that holds them (two meters that disagree),
// they are scaled down to it. The parts always add up to host exactly.
func hostResources(zones []power.Zone, deltas []units.Energy, v hostView) snapshot.ResourceEnergy {
	out, _, _ := hostSplit(zones, deltas, v)
	return out
}

// hostSplit is hostResources, and also the remainder of the zone that
// holds the others (a wall meter's, psys's energy beyond the zones read
// inside it, in the platform's part), ok when there is such a zone and
// the parts inside it did not read more than it.
func hostSplit(zones []power.Zone, deltas []units.Energy, v hostView) (snapshot.ResourceEnergy, units.Energy, bool) {
	var out, inner snapshot.ResourceEnergy
	var container units.Energy
	for i, z := range zones {
		d := deltas[i]
		switch {
		case countsInHost(z.Kind, v) && (z.Kind == power.KindPsys || z.Kind == power.KindWall):
			container += d
		case countsInHost(z.Kind, v):
			out[power.ResourceOf(z.Kind).Index()] += d
		case z.Kind == power.KindCore || z.Kind == power.KindUncore || z.Kind == power.KindPsys:
			// inside a package, or a psys inside a wall meter: its
			// parts are read on their own
		default:
			inner[power.ResourceOf(z.Kind).Index()] += d
		}
	}
	if container == 0 {
		return out, 0, false
	}
	var rest units.Energy
	ok := false
	if sum := inner.Sum(); sum <= container {
		rest, ok = container-sum, true
		inner[resPlatform] += rest
	} else {
		inner = splitResources(container, inner)
	}
	for r := range out {
		out[r] += inner[r]
	}
	return out, rest, ok
}

// splitResources divides total among resources in proportion to weights,
// in whole microjoules that add up to total.
func splitResources(total units.Energy, weights snapshot.ResourceEnergy) snapshot.ResourceEnergy {
	var w, o [power.NumResources]uint64
	for i, x := range weights {
		w[i] = uint64(x)
	}
	split(uint64(total), w[:], o[:], nil)
	var out snapshot.ResourceEnergy
	for i, x := range o {
		out[i] = units.Energy(x)
	}
	return out
}

// splitByCPU adds to out (len n) pool split by the CPU weights a.weights
// (len n+1, the last one the busy time no process holds).
func (a *Attributor) splitByCPU(pool units.Energy, out []uint64) {
	if pool == 0 {
		return
	}
	a.tmp = slices.Grow(a.tmp[:0], len(a.weights))[:len(a.weights)]
	a.rem = split(uint64(pool), a.weights, a.tmp, a.rem)
	for i := range out {
		out[i] += a.tmp[i]
	}
}

// splitStorage adds to out pool split by the processes' storage bytes in
// the interval (a.io); with no bytes, nothing.
func (a *Attributor) splitStorage(pool units.Energy, out []uint64) {
	if pool == 0 {
		return
	}
	a.tmp = slices.Grow(a.tmp[:0], len(out))[:len(out)]
	a.rem = split(uint64(pool), a.io[:len(out)], a.tmp, a.rem)
	for i := range out {
		out[i] += a.tmp[i]
	}
}

// netDeltas returns each network namespace's bytes since the last tick
// (none for a namespace first seen, or whose counter went back) and keeps
// cur for the next.
func (a *Attributor) netDeltas(cur map[uint64]uint64) map[uint64]uint64 {
	d := make(map[uint64]uint64, len(cur))
	for ns, b := range cur {
		if last, ok := a.lastNet[ns]; ok && b > last {
			d[ns] = b - last
		}
	}
	clear(a.lastNet)
	for ns, b := range cur {
		a.lastNet[ns] = b
	}
	return d
}

// splitNetwork adds to out pool split first among network namespaces by
// their bytes in the interval, then within each among its processes by CPU
// time. A namespace with bytes but no process that used CPU time keeps its
// part out (unattributed). When no namespace's bytes are known, the pool
// goes by CPU time alone. It returns how it split (NetworkBy*), "" when
// there was nothing to split.
func (a *Attributor) splitNetwork(procs []procinfo.Proc, deltas map[uint64]uint64, pool units.Energy, out []uint64) string {
	if pool == 0 {
		return ""
	}
	members := make(map[uint64][]int)
	for i, p := range procs {
		if deltas[p.NetNS] > 0 {
			members[p.NetNS] = append(members[p.NetNS], i)
		}
	}
	if len(members) == 0 {
		a.splitByCPU(pool, out)
		return NetworkByCPU
	}
	ns := make([]uint64, 0, len(members))
	for k := range members {
		ns = append(ns, k)
	}
	slices.Sort(ns)
	w := make([]uint64, len(ns))
	for i, k := range ns {
		w[i] = deltas[k]
	}
	parts := make([]uint64, len(ns))
	a.rem = split(uint64(pool), w, parts, a.rem)
	for j, k := range ns {
		idx := members[k]
		cw := make([]uint64, len(idx))
		for m, i := range idx {
			cw[m] = a.weights[i]
		}
		got := make([]uint64, len(idx))
		a.rem = split(parts[j], cw, got, a.rem)
		for m, i := range idx {
			out[i] += got[m]
		}
	}
	return NetworkByNetNS
}

// gpuParts returns each GPU zone's part of pool, in proportion to its
// delta among all GPU zones' deltas, for the zones whose processes are
// known (shares); the rest of pool is the caller's to split by CPU time.
func gpuParts(devices map[string]units.Energy, shares map[string]power.Shares, pool units.Energy) []devicePart {
	var sum units.Energy
	for _, d := range devices {
		sum += d
	}
	if sum == 0 || pool == 0 || len(shares) == 0 {
		return nil
	}
	var parts []devicePart
	for id, d := range devices {
		sh := shares[id]
		if len(sh) == 0 {
			continue
		}
		hi, lo := bits.Mul64(uint64(d), uint64(pool))
		q, _ := bits.Div64(hi, lo, uint64(sum)) // d ≤ sum, so no overflow
		parts = append(parts, devicePart{id: id, energy: units.Energy(q), shares: sh})
	}
	slices.SortFunc(parts, func(x, y devicePart) int {
		if c := cmp.Compare(x.energy, y.energy); c != 0 {
			return c
		}
		return cmp.Compare(x.id, y.id)
	})
	return parts
}
