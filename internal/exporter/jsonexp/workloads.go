package jsonexp

import (
	"strings"
	"unicode/utf8"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// Workload kinds, as snapshot groups name them.
const (
	KindContainer = container.GroupContainer
	KindPod       = container.GroupPod
	KindService   = container.GroupService
)

// maxName bounds the names that container runtimes and Kubernetes give
// (Kubernetes names are at most 253 bytes; Docker labels are not bounded).
const maxName = 256

// Workload is one container, pod or service: the sum of its processes,
// those that have exited included (snapshot.Group). Workloads are a
// different cut of the energy that consumers already hold, not more of
// it: for one kind, Σ workloads ≤ host − idle.
type Workload struct {
	Kind string `json:"kind"` // container, pod or service
	// ID is the container's full ID, the pod's UID or the unit's name.
	ID string `json:"id"`

	// For containers (pod and namespace also for pods).
	ContainerID   string `json:"container_id,omitempty"`
	ContainerName string `json:"container_name,omitempty"`
	Runtime       string `json:"runtime,omitempty"`
	Pod           string `json:"pod,omitempty"`
	PodUID        string `json:"pod_uid,omitempty"`
	Namespace     string `json:"namespace,omitempty"`

	// Processes is the number of its processes alive at this tick.
	Processes            int     `json:"processes"`
	EnergyJoules         float64 `json:"energy_joules"`
	IntervalEnergyJoules float64 `json:"interval_energy_joules"`
	PowerWatts           float64 `json:"power_watts"`
	CPUSeconds           float64 `json:"cpu_seconds"`
	CPUSecondsTotal      float64 `json:"cpu_seconds_total"`
	// Resources splits the workload's energy by resource.
	Resources Resources `json:"resources"`
}

// containerNames returns a container's names as known now, made safe.
func containerNames(w *container.Workload, names container.NameFunc) (name, pod, namespace string) {
	name, pod, namespace = w.CurrentNames(names)
	return cleanName(name), cleanName(pod), cleanName(namespace)
}

// setContainer fills the container fields of a process in a container.
func setContainer(c *Consumer, workload any, names container.NameFunc) {
	w := container.WorkloadOf(workload)
	if w == nil || w.Kind != container.KindContainer {
		return
	}
	c.ContainerID, c.Runtime = w.ID, w.Runtime
	c.ContainerName, c.Pod, c.Namespace = containerNames(w, names)
}

// appendWorkloads appends one row per group of s to dst[:0]: containers,
// then pods, then services, each highest interval energy first. It
// returns an empty, non-nil slice when there is none, so the array is
// there ([]) with --containers.
func appendWorkloads(dst []Workload, s *snapshot.Snapshot, names container.NameFunc, up bool) []Workload {
	if dst == nil {
		dst = make([]Workload, 0, len(s.Groups))
	}
	for _, g := range s.Groups {
		row := Workload{Kind: g.Kind, ID: g.ID, Processes: g.Processes, CPUSecondsTotal: g.CPUTotal.Seconds()}
		if w := container.WorkloadOf(g.Workload); w != nil {
			switch g.Kind {
			case KindContainer:
				row.ContainerID, row.Runtime, row.PodUID = w.ID, w.Runtime, w.PodUID
				row.ContainerName, row.Pod, row.Namespace = containerNames(w, names)
			case KindPod:
				// A pod's names are those of any of its containers.
				row.PodUID = w.PodUID
				_, row.Pod, row.Namespace = containerNames(w, names)
			}
		}
		row.EnergyJoules, row.IntervalEnergyJoules, row.PowerWatts = figures(g.Energy, up)
		row.Resources = resourcesOf(g.Resources, s, up)
		if up {
			row.CPUSeconds = g.CPUDelta.Seconds()
		}
		dst = append(dst, row)
	}
	return dst
}

// cleanName makes a name that a runtime or the kubelet gave valid UTF-8
// of at most maxName bytes (JSON escaping does the rest).
func cleanName(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= maxName {
		return s
	}
	i := maxName
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
