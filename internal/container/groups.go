package container

// Kinds of group, the part before ':' of a key that GroupKeys returns.
const (
	GroupContainer = KindContainer // "container:<id>"
	GroupPod       = "pod"         // "pod:<uid>"
	GroupService   = KindService   // "service:<unit>"
)

// GroupKeys returns the groups whose energy the process's share also
// counts to (it implements attribution.Grouper): "container:<id>" for a
// container, and "pod:<uid>" too when the container is a pod's;
// "service:<unit>" for a systemd service; nothing for a plain process.
//
// A container is keyed by its ID alone: IDs are unique across runtimes,
// and the same container seen with and without a known runtime (a bare ID
// under kubepods, named later by the kubelet) is one group.
func (w *Workload) GroupKeys() []string {
	if w == nil || w.ID == "" {
		return nil
	}
	switch w.Kind {
	case KindContainer:
		if w.PodUID != "" {
			return []string{GroupContainer + ":" + w.ID, GroupPod + ":" + w.PodUID}
		}
		return []string{GroupContainer + ":" + w.ID}
	case KindService:
		return []string{GroupService + ":" + w.ID}
	}
	return nil
}

// NameFunc is Enricher.Name: a container ID's names as known now. The
// exporters' Names options have this type.
type NameFunc func(id string) (name, pod, namespace string, ok bool)

// CurrentNames returns the container, pod and namespace names of a
// container workload as lookup (an Enricher's Name) knows them now, each
// falling back to what was known when w was looked up: names often arrive
// after a container's first process was seen. lookup may be nil.
func (w *Workload) CurrentNames(lookup NameFunc) (name, pod, namespace string) {
	name, pod, namespace = w.Name, w.Pod, w.Namespace
	if lookup == nil || w.Kind != KindContainer {
		return name, pod, namespace
	}
	if n, p, ns, ok := lookup(w.ID); ok {
		if n != "" {
			name = n
		}
		if p != "" {
			pod, namespace = p, ns
		}
	}
	return name, pod, namespace
}
