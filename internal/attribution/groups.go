package attribution

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Grouper is implemented by a process's Meta.Workload when the process
// belongs to groups whose energy is kept as one: a container, its pod, a
// systemd service (container.Workload implements it).
//
// Each interval, a process's share is booked to the process and, the same
// share, to each of its groups. A group keeps its total when its processes
// exit, so a container's energy never drops when one of its processes
// ends, which a sum over live processes would do.
type Grouper interface {
	// GroupKeys returns the process's groups as "<kind>:<id>"
	// ("container:<id>", "pod:<uid>", "service:nginx.service"). It is
	// called when the process is first seen, and again when it has exec'd
	// (its Meta is then a new one, which may name other groups).
	GroupKeys() []string
}

// DefaultGroupRetention is how long a group whose processes have all gone
// stays in the snapshot before it is forgotten: Prometheus's staleness
// period, so a container that restarts within it keeps one series.
const DefaultGroupRetention = 5 * time.Minute

// groupAccount is one group's account: what its processes' shares added
// up to, in the interval and since it was opened.
type groupAccount struct {
	kind, id string
	workload any // Meta.Workload of the process that joined last

	total, delta       units.Energy
	resTotal, resDelta snapshot.ResourceEnergy
	cpuDelta, cpuTotal uint64 // USER_HZ ticks
	live               int    // processes booked this tick
	lastLive           time.Time
}

// groupsOf returns the accounts of the groups a process seen for the first
// time belongs to, creating those that do not exist yet. It returns nil
// for a process in no group.
func (a *Attributor) groupsOf(m *procinfo.Meta, now time.Time) []*groupAccount {
	if m == nil {
		return nil
	}
	g, ok := m.Workload.(Grouper)
	if !ok {
		return nil
	}
	keys := g.GroupKeys()
	if len(keys) == 0 {
		return nil
	}
	out := make([]*groupAccount, 0, len(keys))
	for _, k := range keys {
		b := a.groups[k]
		if b == nil {
			kind, id, _ := strings.Cut(k, ":")
			b = &groupAccount{kind: kind, id: id, lastLive: now}
			a.groups[k] = b
		}
		if slices.Contains(out, b) {
			continue // a key given twice is booked once
		}
		b.workload = m.Workload
		out = append(out, b)
	}
	return out
}

// book adds one process's interval share and CPU time to its groups.
func bookGroups(groups []*groupAccount, share units.Energy, res snapshot.ResourceEnergy, cpu uint64) {
	for _, g := range groups {
		g.delta += share
		g.total += share
		for r := range res {
			g.resDelta[r] += res[r]
			g.resTotal[r] += res[r]
		}
		g.cpuDelta += cpu
		g.cpuTotal += cpu
		g.live++
	}
}

// closeGroups fills snap.Groups from the accounts of the tick that ends at
// now, sorted by kind then interval energy (highest first), clears the
// interval figures, and forgets the groups that have had no live process
// for the retention period. It leaves snap.Groups nil when there is no
// group left.
func (a *Attributor) closeGroups(snap *snapshot.Snapshot, now time.Time) {
	if len(a.groups) == 0 {
		return
	}
	retention := a.opts.GroupRetention
	if retention == 0 {
		retention = DefaultGroupRetention
	}
	snap.Groups = make([]snapshot.Group, 0, len(a.groups))
	for k, g := range a.groups {
		if g.live > 0 {
			g.lastLive = now
		} else if now.Sub(g.lastLive) >= retention {
			delete(a.groups, k)
			continue
		}
		snap.Groups = append(snap.Groups, snapshot.Group{
			Kind: g.kind, ID: g.id, Workload: g.workload,
			Energy:    a.energy(g.total, g.delta, snap.Interval, snap.Host.Source),
			CPUDelta:  procinfo.TicksToDuration(g.cpuDelta),
			CPUTotal:  procinfo.TicksToDuration(g.cpuTotal),
			Processes: g.live,
			Resources: snapshot.Resources{Delta: g.resDelta, Total: g.resTotal},
		})
		g.delta, g.cpuDelta, g.live = 0, 0, 0
		g.resDelta = snapshot.ResourceEnergy{}
	}
	if len(snap.Groups) == 0 {
		snap.Groups = nil // the last ones were just forgotten
		return
	}
	slices.SortFunc(snap.Groups, byGroup)
}

func byGroup(x, y snapshot.Group) int {
	if c := cmp.Compare(x.Kind, y.Kind); c != 0 {
		return c
	}
	if c := cmp.Compare(y.Delta, x.Delta); c != 0 {
		return c
	}
	if c := cmp.Compare(y.Total, x.Total); c != 0 {
		return c
	}
	return cmp.Compare(x.ID, y.ID)
}
