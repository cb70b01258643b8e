package container

import (
	"sync"
	"time"
)

// names is what a source knows about one container.
type names struct {
	Name, Pod, Namespace string
	Runtime              string // from the kubelet's containerID scheme; empty from Docker
}

type dockerEntry struct {
	names
	seen time.Time // when a list or an event last showed it
	src  string    // the Engine API source that listed it ("docker", "podman")
}

// store holds the names every source found, behind one lock. Sources
// write it; Lookup and Name read it.
type store struct {
	mu     sync.RWMutex
	kube   map[string]names       // container ID → names, from the kubelet or API server
	pods   map[string]names       // pod UID → Pod, Namespace, from the kubelet or API server
	docker map[string]dockerEntry // container ID → names, from the Docker Engine API (Docker's and podman's sockets)
	podOf  map[string]string      // container ID → pod UID, from resolved cgroup paths
}

func newStore() *store {
	return &store{
		kube:   map[string]names{},
		pods:   map[string]names{},
		docker: map[string]dockerEntry{},
		podOf:  map[string]string{},
	}
}

// get returns what is known about a container ID: the kubelet's view
// first (authoritative for pods), then Docker's, then the pod of its
// cgroup alone.
func (s *store) get(id string) (names, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if n, ok := s.kube[id]; ok {
		return n, true
	}
	pod, podOK := s.pods[s.podOf[id]]
	if e, ok := s.docker[id]; ok {
		n := e.names
		if n.Pod == "" && podOK {
			n.Pod, n.Namespace = pod.Pod, pod.Namespace
		}
		return n, true
	}
	if podOK {
		return names{Pod: pod.Pod, Namespace: pod.Namespace}, true
	}
	return names{}, false
}

// fill copies the known names into w and reports whether the container
// itself (not only its pod) is known.
func (s *store) fill(w *Workload) bool {
	n, ok := s.get(w.ID)
	if !ok {
		return false
	}
	w.Name, w.Pod, w.Namespace = n.Name, n.Pod, n.Namespace
	if w.Runtime == "" {
		w.Runtime = n.Runtime
	}
	return n.Name != ""
}

// notePod remembers the pod UID that a container's cgroup path gave.
func (s *store) notePod(id, uid string) {
	s.mu.RLock()
	known := s.podOf[id] == uid
	s.mu.RUnlock()
	if known {
		return
	}
	s.mu.Lock()
	if len(s.podOf) >= maxTracked {
		clear(s.podOf)
	}
	s.podOf[id] = uid
	s.mu.Unlock()
}

// replaceKube swaps in a full listing of this node's pods.
func (s *store) replaceKube(containers, pods map[string]names) {
	s.mu.Lock()
	s.kube, s.pods = containers, pods
	s.mu.Unlock()
}

// mergeDocker applies a full container listing of the source src that
// started at start: listed containers are added or updated, and a
// container of src not listed is dropped unless an event showed it after
// the listing began. The other source's containers stay.
func (s *store) mergeDocker(src string, list map[string]names, start time.Time) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range s.docker {
		if _, ok := list[id]; !ok && e.src == src && e.seen.Before(start) {
			delete(s.docker, id)
		}
	}
	for id, n := range list {
		s.docker[id] = dockerEntry{names: n, seen: now, src: src}
	}
}

// setDocker records one container from an event of the source src.
func (s *store) setDocker(src, id string, n names) {
	s.mu.Lock()
	s.docker[id] = dockerEntry{names: n, seen: time.Now(), src: src}
	s.mu.Unlock()
}

// deleteDocker forgets a destroyed container.
func (s *store) deleteDocker(id string) {
	s.mu.Lock()
	delete(s.docker, id)
	s.mu.Unlock()
}
