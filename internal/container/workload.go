// Package container tells, from a process's cgroup path, which container,
// pod or systemd service the process belongs to, and attaches the names
// that container runtimes and Kubernetes know for it.
//
// Two layers:
//
//   - Resolver (resolve.go, runtimes.go, kubepods.go): pure string work on
//     the cgroup path, cached per path. It finds the runtime, the full
//     container ID, the pod UID and QoS class, or the systemd service.
//   - Enricher (metadata.go, docker.go, kubelet.go): a Resolver plus
//     metadata sources — the Docker Engine API (Docker and podman) and the
//     kubelet or API server — that map container IDs to container, pod and
//     namespace names.
package container

// Kinds of workload.
const (
	KindContainer = "container" // a container; ID is its full 64-hex ID
	KindService   = "service"   // a systemd service; ID is the unit name
	KindNone      = ""          // a plain process: session, scope, root, unknown
)

// Runtimes, as they appear in Workload.Runtime.
const (
	RuntimeDocker     = "docker"
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "cri-o"
	RuntimePodman     = "podman"
	RuntimeSystemd    = "systemd"
)

// Kubernetes QoS classes, spelt as in the Pod API's status.qosClass.
const (
	QoSGuaranteed = "Guaranteed"
	QoSBurstable  = "Burstable"
	QoSBestEffort = "BestEffort"
)

// Workload is what a process belongs to.
//
// Values returned by this package are shared and must be treated as
// read-only: the Resolver hands the same pointer to every process of a
// cgroup, and the Enricher's Lookup returns a copy that it never touches
// again. Group processes by Kind and ID, not by pointer.
type Workload struct {
	Kind    string // KindContainer, KindService or KindNone
	Runtime string // Runtime* constant; empty when the path does not say (bare ID under kubepods) and no source told
	ID      string // full 64-hex container ID, or the systemd unit name ("nginx.service")
	PodUID  string // Kubernetes pod UID (with dashes), when the cgroup is under kubepods
	QoS     string // QoS* constant, when PodUID is set

	// Filled by metadata sources (Enricher), empty when unknown.
	Name      string // container name ("web", or the Kubernetes container name)
	Pod       string // Kubernetes pod name
	Namespace string // Kubernetes namespace
}

// WorkloadOf returns the *Workload that v holds, or nil when it holds none
// (nil, a nil *Workload, or a value of another type). v is a
// procinfo.Meta's or a snapshot.Group's Workload, typed any so that
// procstat and snapshot need not import this package: exporters read it
// through WorkloadOf rather than each asserting the type.
func WorkloadOf(v any) *Workload {
	w, _ := v.(*Workload)
	return w
}

// plain is the workload of every process that belongs to no container and
// no service. It is shared; nobody modifies it.
var plain = &Workload{}
