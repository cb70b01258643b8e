package promexp

import (
	"strings"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// With Options.Containers the exposition gains the series of containers,
// pods and systemd services (snapshot.Group), and process series gain
// their container's labels.
//
// The group series need nothing across ticks here: attribution keeps each
// group's total, exited processes included, so a group's counter is
// monotonic for as long as the group is listed; a group that has had no
// process for the retention period is no longer listed and its series
// ends. Names are asked again at every tick (Options.Names), because they
// often arrive after a container's first process was seen: the series of
// a container named late moves from the empty name to its name once.

// ctrLabels are a container's label values as its processes' series carry
// them: container_id, container_name, pod, namespace.
type ctrLabels struct {
	id, name, pod, namespace string
}

// noContainer are the container labels of a process in no container.
var noContainer ctrLabels

// groupSeries is one container's, pod's or service's series.
type groupSeries struct {
	labels []string // the family's label values but resource, source last
	energy snapshot.ResourceEnergy
	power  [power.NumResources]units.Power
	// podUID is a container's pod UID, for --compat=kepler's pod_id.
	podUID string
}

// containerSeries turns a snapshot's groups into series and gives
// processes their container's labels. Owned by the ledger.
type containerSeries struct {
	names container.NameFunc
	// byID are this tick's container labels by container ID, so that a
	// container's series and its processes' agree on its names within an
	// exposition. Rebuilt every tick.
	byID map[string]*ctrLabels
}

func newContainerSeries(names container.NameFunc) *containerSeries {
	return &containerSeries{names: names, byID: make(map[string]*ctrLabels)}
}

// labels returns the labels of w's container as known now, made safe.
func (cb *containerSeries) labels(w *container.Workload) *ctrLabels {
	if l, ok := cb.byID[w.ID]; ok {
		return l
	}
	name, pod, namespace := w.CurrentNames(cb.names)
	l := &ctrLabels{
		id:        sanitize(w.ID, maxLabelBytes),
		name:      sanitize(name, maxLabelBytes),
		pod:       sanitize(pod, maxLabelBytes),
		namespace: sanitize(namespace, maxLabelBytes),
	}
	cb.byID[w.ID] = l
	return l
}

// process returns the container labels of a process: its container's,
// or nil for a process in no container (a plain process or a service's).
func (cb *containerSeries) process(m *procinfo.Meta) *ctrLabels {
	if m == nil {
		return nil
	}
	w := container.WorkloadOf(m.Workload)
	if w == nil || w.Kind != container.KindContainer || w.ID == "" {
		return nil
	}
	return cb.labels(w)
}

// groups starts a tick: it returns the series of s's containers, pods
// and services.
func (cb *containerSeries) groups(s *snapshot.Snapshot) (containers, pods, services []groupSeries) {
	clear(cb.byID)
	if len(s.Groups) == 0 {
		return nil, nil, nil
	}
	seen := make(map[string]bool, len(s.Groups))
	for i := range s.Groups {
		g := &s.Groups[i]
		labels := cb.groupLabels(g)
		if labels == nil {
			continue
		}
		// Label sets must be unique in an exposition; IDs are, but two
		// could become one once cut to maxLabelBytes.
		key := g.Kind + "\x00" + strings.Join(labels, "\x00")
		if seen[key] {
			continue
		}
		seen[key] = true
		gs := groupSeries{labels: labels, energy: g.Resources.Total, power: resourcePower(g.Resources.Delta, s)}
		if g.Kind == container.GroupContainer {
			gs.podUID = podUIDOf(g)
		}
		switch g.Kind {
		case container.GroupContainer:
			containers = append(containers, gs)
		case container.GroupPod:
			pods = append(pods, gs)
		case container.GroupService:
			services = append(services, gs)
		}
	}
	return containers, pods, services
}

// groupLabels returns a group's label values in its family's order, or
// nil for a kind of group the exposition does not know.
func (cb *containerSeries) groupLabels(g *snapshot.Group) []string {
	w := container.WorkloadOf(g.Workload)
	src := sourceLabel(g.Source)
	switch g.Kind {
	case container.GroupContainer:
		if w == nil || w.Kind != container.KindContainer || w.ID != g.ID {
			w = &container.Workload{Kind: container.KindContainer, ID: g.ID}
		}
		l := cb.labels(w)
		return []string{l.id, l.name, sanitize(w.Runtime, maxLabelBytes), l.pod, l.namespace, src}
	case container.GroupPod:
		// A pod's names are those of any of its containers: the one
		// whose process joined last.
		var pod, namespace string
		if w != nil && w.Kind == container.KindContainer && w.ID != "" {
			l := cb.labels(w)
			pod, namespace = l.pod, l.namespace
		}
		return []string{sanitize(g.ID, maxLabelBytes), pod, namespace, src}
	case container.GroupService:
		return []string{sanitize(g.ID, maxLabelBytes), src}
	}
	return nil
}
