package prometheus

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"
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
	reg := prom.NewRegistry()
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

// BenchmarkExport measures the per-tick cost of booking a snapshot (the
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
