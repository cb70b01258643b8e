package container

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzResolve: any cgroup path resolves to a workload or to none, the same
// way twice, and a workload's IDs hold no path separator.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"/system.slice/docker-4c1f0a0c8e3b1d9b5f2a7e6d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09.scope",
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/cri-containerd-4c1f0a0c8e3b1d9b5f2a7e6d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09.scope",
		"/kubepods/besteffort/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/4c1f0a0c8e3b1d9b5f2a7e6d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09",
		"/system.slice/nginx.service",
		"/user.slice/user-1000.slice/session-2.scope",
		"/machine.slice/libpod-4c1f0a0c8e3b1d9b5f2a7e6d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09.scope/container",
		"/",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		a, b := resolvePath(path), resolvePath(path)
		if (a == nil) != (b == nil) || a != nil && *a != *b {
			t.Fatalf("resolvePath(%q) not deterministic", path)
		}
		if a == nil {
			return
		}
		if strings.Contains(a.ID, "/") || strings.Contains(a.PodUID, "/") {
			t.Errorf("resolvePath(%q) = %+v: an ID with a '/'", path, a)
		}
	})
}

// FuzzKubeletPods: any /pods response body decodes or fails; indexed
// containers have an ID and no runtime scheme left in it.
func FuzzKubeletPods(f *testing.F) {
	f.Add([]byte(`{"items":[{"metadata":{"name":"web","namespace":"default","uid":"u1"},"status":{"containerStatuses":[{"name":"nginx","containerID":"containerd://abc"}]}}]}`))
	f.Add([]byte(`{"items":[{"status":{"initContainerStatuses":[{"name":"x","containerID":"://"}]}}]}`))
	f.Add([]byte(`{"items":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var list podList
		if json.Unmarshal(b, &list) != nil {
			return
		}
		containers, _ := indexPods(&list)
		for id := range containers {
			if id == "" || strings.Contains(id, "://") {
				t.Errorf("container ID %q from %s", id, b)
			}
		}
	})
}

// FuzzDockerList: any /containers/json or event body decodes or fails;
// names carry no leading '/'.
func FuzzDockerList(f *testing.F) {
	f.Add([]byte(`[{"Id":"4c1f","Names":["/web"],"Labels":{"io.kubernetes.container.name":"c","io.kubernetes.pod.name":"p"}}]`))
	f.Add([]byte(`[{"Id":"","Names":[],"Labels":null}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var cs []dockerContainer
		if json.Unmarshal(b, &cs) == nil {
			for _, c := range cs {
				name := ""
				if len(c.Names) > 0 {
					name = c.Names[0]
				}
				n := dockerNames(name, c.Labels)
				if c.Labels[labelK8sContainer] == "" && strings.HasPrefix(n.Name, "/") && !strings.HasPrefix(name, "//") {
					t.Errorf("name %q keeps its '/'", n.Name)
				}
			}
		}
		var ev dockerEvent
		if json.Unmarshal(b, &ev) == nil {
			d := &dockerSource{st: newStore()}
			d.apply(ev)
		}
	})
}
