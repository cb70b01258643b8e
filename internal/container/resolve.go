package container

import (
	"strings"
	"sync"
)

// DefaultCacheSize is the number of cgroup paths a Resolver remembers
// unless told otherwise. A busy Kubernetes node has a few thousand.
const DefaultCacheSize = 16384

// Resolver maps cgroup paths to workloads and remembers the answer per
// path, so a path is parsed once however many processes share it. The
// cache is bounded: past its size an arbitrary entry is dropped for each
// new one. It is safe for concurrent use.
type Resolver struct {
	mu    sync.RWMutex
	cache map[string]*Workload
	max   int
}

// NewResolver returns a Resolver that caches up to maxEntries paths
// (DefaultCacheSize when maxEntries <= 0).
func NewResolver(maxEntries int) *Resolver {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheSize
	}
	return &Resolver{cache: make(map[string]*Workload), max: maxEntries}
}

// Resolve returns the workload of a cgroup path as /proc/<pid>/cgroup
// shows it (see procstat.CgroupPath), e.g.
// "/system.slice/docker-<id>.scope". It never returns nil: a process in no
// container and no service gets a Workload of KindNone. The result is
// shared between callers and must not be modified.
func (r *Resolver) Resolve(path string) *Workload {
	r.mu.RLock()
	w, ok := r.cache[path]
	r.mu.RUnlock()
	if ok {
		return w
	}
	w = resolvePath(path)
	r.mu.Lock()
	if _, ok := r.cache[path]; !ok && len(r.cache) >= r.max {
		for k := range r.cache { // map order is random: a random eviction
			delete(r.cache, k)
			break
		}
	}
	r.cache[path] = w
	r.mu.Unlock()
	return w
}

// Len returns the number of cached paths.
func (r *Resolver) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.cache)
}

// resolvers is the chain, in order; the first that answers wins, and the
// generic plain process comes last.
//
// Containers come first and look at the whole path, deepest segment
// first: a process of a container that runs systemd inside
// ("/system.slice/docker-<id>.scope/system.slice/nginx.service") belongs
// to the container, and a pod of a kind cluster seen from the host
// ("/system.slice/docker-<node>.scope/kubelet.slice/…/cri-containerd-<id>.scope")
// belongs to the innermost container, the pod's.
var resolvers = []struct {
	name    string
	resolve func(segs []string) *Workload
}{
	{"container", resolveContainer},
	{"systemd", resolveUnit},
	{"plain", func([]string) *Workload { return plain }},
}

// resolvePath runs the chain over a cgroup path.
func resolvePath(path string) *Workload {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range resolvers {
		if w := r.resolve(segs); w != nil {
			return w
		}
	}
	return plain
}

// resolveContainer tries the runtime matchers (runtimes.go) on each
// segment, deepest first, and returns the first match, with the pod found
// in the segments above it.
func resolveContainer(segs []string) *Workload {
	for i := len(segs) - 1; i >= 0; i-- {
		for _, m := range runtimes {
			id, ok := m.match(segs, i)
			if !ok {
				continue
			}
			w := &Workload{Kind: KindContainer, Runtime: m.runtime, ID: id}
			w.PodUID, w.QoS = podOf(segs[:i+1])
			return w
		}
	}
	return nil
}

// resolveUnit looks at the deepest systemd unit of the path (a segment
// named "*.service" or "*.scope"). A service is a workload of its own; a
// scope (a login session "session-2.scope", a desktop application
// "app-firefox-1234.scope", "init.scope", a container runtime's conmon
// scope) is a plain process. Sub-cgroups below a service
// ("/system.slice/foo.service/worker") belong to the service.
func resolveUnit(segs []string) *Workload {
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		switch {
		case strings.HasSuffix(s, ".service") && len(s) > len(".service"):
			return &Workload{Kind: KindService, Runtime: RuntimeSystemd, ID: s}
		case strings.HasSuffix(s, ".scope"):
			return plain
		}
	}
	return nil
}
