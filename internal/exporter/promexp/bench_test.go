package promexp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// BenchmarkScrape measures one scrape of /metrics, Prometheus text format,
// from the latest snapshot: latency, allocations and bytes on the wire
// (text+gzip: what Prometheus, which asks for gzip, receives).
// docs/performance.md § Prometheus scrape records the figures.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		for _, top := range []int{DefaultTopN, 0} {
			for _, format := range []string{"text", "openmetrics", "text+gzip"} {
				b.Run(fmt.Sprintf("procs=%d/top=%d/%s", n, top, format), func(b *testing.B) {
					benchScrape(b, n, top, format)
				})
			}
		}
	}
}

func benchScrape(b *testing.B, n, top int, format string) {
	c := mustNew(b, Options{TopN: top})
	exportAll(b, c, manyProcs(n))
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h, err := NewHandler(reg, HandlerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	switch format {
	case "openmetrics":
		req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	case "text+gzip":
		req.Header.Set("Accept-Encoding", "gzip")
	}
	var bytes int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		bytes = rec.Body.Len()
	}
	b.ReportMetric(float64(bytes), "bytes/scrape")
	b.ReportMetric(float64(2*len(c.view.Load().procs)), "process-series")
}

// BenchmarkExport measures the per-tick cost of recording a snapshot (the
// sampler pays it whether or not anyone scrapes).
func BenchmarkExport(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		for _, top := range []int{DefaultTopN, 0} {
			b.Run(fmt.Sprintf("procs=%d/top=%d", n, top), func(b *testing.B) {
				c := mustNew(b, Options{TopN: top})
				s := manyProcs(n)
				b.ReportAllocs()
				for b.Loop() {
					s2 := *s
					s2.Seq++
					exportAll(b, c, &s2)
				}
			})
		}
	}
}

// BenchmarkContainers measures what --containers adds to recording a tick
// and to a scrape: 10 000 processes in 500 containers (250 Docker, 250 in
// 125 pods), names asked of a lookup at every tick.
func BenchmarkContainers(b *testing.B) {
	const n, containers = 10_000, 500
	for _, on := range []bool{false, true} {
		s := manyContainers(manyProcs(n), containers)
		opts := Options{TopN: DefaultTopN, Containers: on, Names: func(id string) (string, string, string, bool) {
			return "name-" + id[:8], "", "", true
		}}
		b.Run(fmt.Sprintf("export/containers=%v", on), func(b *testing.B) {
			c := mustNew(b, opts)
			b.ReportAllocs()
			for b.Loop() {
				s2 := *s
				s2.Seq++
				exportAll(b, c, &s2)
			}
		})
		b.Run(fmt.Sprintf("scrape/containers=%v", on), func(b *testing.B) {
			c := mustNew(b, opts)
			exportAll(b, c, s)
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			h, err := NewHandler(reg, HandlerOptions{})
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// manyContainers spreads s's processes over k containers, every other
// one a pod's (two containers a pod), and adds their groups.
func manyContainers(s *snapshot.Snapshot, k int) *snapshot.Snapshot {
	wls := make([]*container.Workload, k)
	for i := range wls {
		wls[i] = &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeDocker, ID: fmt.Sprintf("%064x", i)}
		if i%2 == 1 {
			wls[i].Runtime, wls[i].PodUID = container.RuntimeContainerd, fmt.Sprintf("%08x-0000-4000-8000-000000000000", i/4)
		}
	}
	groups := map[string]*snapshot.Group{}
	var order []string
	add := func(kind, id string, w *container.Workload, p *snapshot.Process) {
		key := kind + ":" + id
		g := groups[key]
		if g == nil {
			g = &snapshot.Group{Kind: kind, ID: id, Workload: w, Energy: snapshot.Energy{Source: p.Source}}
			groups[key] = g
			order = append(order, key)
		}
		g.Total += p.Total
		g.Delta += p.Delta
		g.Power += p.Power
		g.Processes++
	}
	procs := make([]snapshot.Process, len(s.Processes))
	for i, p := range s.Processes {
		m := *p.Meta
		w := wls[i%k]
		m.Workload = w
		p.Meta = &m
		procs[i] = p
		add("container", w.ID, w, &procs[i])
		if w.PodUID != "" {
			add("pod", w.PodUID, w, &procs[i])
		}
	}
	out := *s
	out.Processes = procs
	for _, key := range order {
		out.Groups = append(out.Groups, *groups[key])
	}
	return &out
}
