package container

import (
	"fmt"
	"strings"
	"testing"
)

// benchPaths returns n cgroup paths, as procstat would hand them (a fresh
// string per process), spread over containers of every runtime and driver.
func benchPaths(containers, n int) []string {
	formats := []func(id, uid string) string{
		func(id, _ string) string { return "/system.slice/docker-" + id + ".scope" },
		func(id, _ string) string { return "/docker/" + id },
		func(id, uid string) string {
			return "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/cri-containerd-" + id + ".scope"
		},
		func(id, uid string) string { return "/kubepods/besteffort/pod" + uid + "/" + id },
		func(id, uid string) string {
			return "/kubepods.slice/kubepods-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/crio-" + id + ".scope/container"
		},
		func(id, _ string) string {
			return "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope"
		},
	}
	base := make([]string, containers)
	for i := range base {
		id := fmt.Sprintf("%064x", i*7919+1)
		uid := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", i, i%0xffff, i%0xfff, i%0xfff, i)
		base[i] = formats[i%len(formats)](id, uid)
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = strings.Clone(base[i%containers])
	}
	return paths
}

// BenchmarkResolve: 10 000 process cgroup paths over 500 containers, the
// cache warm (the steady state: every tick's new processes land in known
// cgroups). ns/op is per Resolve.
func BenchmarkResolve(b *testing.B) {
	paths := benchPaths(500, 10000)
	r := NewResolver(0)
	for _, p := range paths {
		r.Resolve(p)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Resolve(paths[i])
		if i++; i == len(paths) {
			i = 0
		}
	}
}

// BenchmarkResolveParallel is BenchmarkResolve from every CPU at once.
func BenchmarkResolveParallel(b *testing.B) {
	paths := benchPaths(500, 10000)
	r := NewResolver(0)
	for _, p := range paths {
		r.Resolve(p)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Resolve(paths[i])
			if i++; i == len(paths) {
				i = 0
			}
		}
	})
}

// BenchmarkResolveUncached is the parse of one path, the cost of a miss.
func BenchmarkResolveUncached(b *testing.B) {
	paths := benchPaths(500, 500)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		resolvePath(paths[i])
		if i++; i == len(paths) {
			i = 0
		}
	}
}

// BenchmarkLookup is the Enricher's Lookup with every name known (no
// sources running: the store is filled by hand), and BenchmarkName its
// per-tick name query.
func BenchmarkLookup(b *testing.B) {
	e, _ := benchEnricher(b)
	paths := benchPaths(500, 10000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Lookup(paths[i])
		if i++; i == len(paths) {
			i = 0
		}
	}
}

func BenchmarkName(b *testing.B) {
	e, ids := benchEnricher(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Name(ids[i])
		if i++; i == len(ids) {
			i = 0
		}
	}
}

func benchEnricher(b *testing.B) (*Enricher, []string) {
	e := NewEnricher(b.Context(), Config{DockerSocket: "none", PodmanSocket: "none"}, nil)
	b.Cleanup(func() { _ = e.Close() })
	list := map[string]names{}
	var ids []string
	for _, p := range benchPaths(500, 500) {
		w := e.res.Resolve(p)
		ids = append(ids, w.ID)
		list[w.ID] = names{Name: "c-" + w.ID[:8], Pod: "p", Namespace: "ns"}
	}
	e.st.replaceKube(list, map[string]names{})
	return e, ids
}
