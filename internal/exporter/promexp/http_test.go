package promexp

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/wattlens/wattlens/internal/porttest"
)

func newServer(t testing.TB, c *Collector, path string) *httptest.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h, err := NewHandler(reg, HandlerOptions{MetricsPath: path})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t testing.TB, url, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestHandlerFormats(t *testing.T) {
	c := mustNew(t, Options{})
	exportAll(t, c, fixedSnapshot())
	srv := newServer(t, c, "/metrics")

	tests := []struct {
		name, accept, wantType, wantEnd string
	}{
		{"no accept header", "", "text/plain; version=0.0.4", "\n"},
		{"prometheus text", "text/plain;version=0.0.4", "text/plain; version=0.0.4", "\n"},
		{"openmetrics", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5", "application/openmetrics-text; version=1.0.0", "# EOF\n"},
		{"prometheus 3 default", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
			"application/openmetrics-text; version=1.0.0", "# EOF\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+"/metrics", tc.accept)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("Content-Type %q, want %q…", ct, tc.wantType)
			}
			if !strings.HasSuffix(body, tc.wantEnd) {
				t.Errorf("body does not end with %q", tc.wantEnd)
			}
			if !strings.Contains(body, `wattlens_host_energy_joules_total{source="measured"} 100`) {
				t.Errorf("no host energy in:\n%s", body)
			}
		})
	}
}

func TestHandlerLandingPage(t *testing.T) {
	srv := newServer(t, mustNew(t, Options{}), "/power")
	resp, body := get(t, srv.URL+"/", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("landing page: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(body, `href="/power"`) || !strings.Contains(body, "wattlens") {
		t.Errorf("landing page does not link to the metrics:\n%s", body)
	}
	if resp, _ := get(t, srv.URL+"/nothing", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/nothing: status %d, want 404", resp.StatusCode)
	}
	resp, body = get(t, srv.URL+"/power", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "wattlens_build_info") {
		t.Errorf("/power: status %d:\n%s", resp.StatusCode, body)
	}
}

// TestHandlerRoot: a Root handler takes "/" and every other path in place
// of the landing page; the metrics path stays the metrics'.
func TestHandlerRoot(t *testing.T) {
	c := mustNew(t, Options{})
	exportAll(t, c, fixedSnapshot())
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "root saw "+r.URL.Path)
	})
	h, err := NewHandler(reg, HandlerOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, want := range map[string]string{
		"/":            "root saw /",
		"/api/stream":  "root saw /api/stream",
		"/metrics":     `wattlens_host_energy_joules_total{source="measured"} 100`,
		"/metrics/sub": "root saw /metrics/sub",
	} {
		resp, body := get(t, srv.URL+path, "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("%s: status %d, no %q in:\n%.300s", path, resp.StatusCode, want, body)
		}
	}
}

func TestNewHandlerRejectsRelativePath(t *testing.T) {
	if _, err := NewHandler(prometheus.NewRegistry(), HandlerOptions{MetricsPath: "metrics"}); err == nil {
		t.Error("a metrics path without a leading / was accepted")
	}
}

// TestConcurrentScrapes scrapes from many goroutines while the sampler
// publishes snapshots; run with -race. Every scrape must succeed and show a
// consistent snapshot: Σ process + other + idle = host.
func TestConcurrentScrapes(t *testing.T) {
	c := mustNew(t, Options{TopN: 5, Compat: []string{CompatScaphandre}})
	w := newWorld(7, 40)
	for c.view.Load() == nil || !c.view.Load().measured {
		exportAll(t, c, w.Step())
	}
	srv := newServer(t, c, "/metrics")

	ctx, cancel := context.WithCancel(context.Background())
	var producer sync.WaitGroup
	producer.Go(func() {
		for ctx.Err() == nil {
			if s := w.Step(); s != nil {
				_ = c.Export(ctx, s)
			}
			time.Sleep(time.Millisecond)
		}
	})

	const scrapers, scrapes = 32, 10
	var wg sync.WaitGroup
	errs := make(chan string, scrapers*scrapes)
	for i := range scrapers {
		wg.Go(func() {
			accept := ""
			if i%2 == 0 {
				accept = "application/openmetrics-text;version=1.0.0"
			}
			for range scrapes {
				if msg := scrapeAndCheck(srv.URL+"/metrics", accept); msg != "" {
					errs <- msg
					return
				}
			}
		})
	}
	wg.Wait()
	cancel()
	producer.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

// scrapeAndCheck returns "" when a scrape is good, else what is wrong.
func scrapeAndCheck(url, accept string) string {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return resp.Status
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	sums := sampleSums(string(body))
	host := sums["wattlens_host_energy_joules_total"]
	parts := sums["wattlens_process_energy_joules_total"] + sums["wattlens_other_energy_joules_total"] + sums["wattlens_unattributed_energy_joules_total"] + sums["wattlens_idle_energy_joules_total"]
	if host == 0 || math.Abs(parts-host) > 1e-9*host {
		return fmt.Sprintf("inconsistent scrape: parts %v, host %v", parts, host)
	}
	if accept != "" && !strings.HasSuffix(string(body), "# EOF\n") {
		return "OpenMetrics exposition without # EOF"
	}
	return ""
}

// sampleSums sums the samples of an exposition (text or OpenMetrics) by
// metric name. Label values may hold spaces, braces and escaped quotes.
func sampleSums(body string) map[string]float64 {
	sums := map[string]float64{}
	for line := range strings.SplitSeq(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			rest = rest[labelsEnd(rest):]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			sums["parse error: "+line] = 1
			continue
		}
		sums[name] += v
	}
	return sums
}

// labelsEnd returns the index just past the '}' that closes the label set
// s starts with.
func labelsEnd(s string) int {
	inQuote, escaped := false, false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case inQuote && c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case c == '}' && !inQuote:
			return i + 1
		}
	}
	return len(s)
}

// TestServeStopsAndReportsListenErrors: Serve returns when ctx is done,
// and at once when it cannot listen.
func TestServeStopsAndReportsListenErrors(t *testing.T) {
	ln := httptest.NewServer(http.NotFoundHandler())
	defer ln.Close()
	taken := strings.TrimPrefix(ln.URL, "http://")
	flags := &web.FlagConfig{WebListenAddresses: &[]string{taken}, WebSystemdSocket: new(bool), WebConfigFile: new(string)}
	if err := Serve(context.Background(), http.NotFoundHandler(), flags, ServeOptions{}, discardLogger()); err == nil {
		t.Error("Serve on a taken address returned no error")
	}

	ctx, cancel := context.WithCancel(context.Background())
	free := &web.FlagConfig{WebListenAddresses: &[]string{"127.0.0.1:0"}, WebSystemdSocket: new(bool), WebConfigFile: new(string)}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, http.NotFoundHandler(), free, ServeOptions{}, discardLogger()) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

// TestServeBasicAuth: --web.config.file's basic auth guards the metrics.
func TestServeBasicAuth(t *testing.T) {
	dir := t.TempDir()
	// bcrypt of "secret", cost 4.
	cfg := "basic_auth_users:\n  prom: $2a$04$KmKDkK6R1o3JkgDl9mwyX.KLGdmKuu93wTIeIbfm1Pjpqg2fg7Keu\n"
	path := dir + "/web.yml"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := porttest.Free(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	flags := &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: new(bool), WebConfigFile: &path}
	c := mustNew(t, Options{})
	exportAll(t, c, fixedSnapshot())
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h, err := NewHandler(reg, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, h, flags, ServeOptions{}, discardLogger()) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	url := "http://" + addr + "/metrics"
	var resp *http.Response
	for range 100 {
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %s, want 401", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth("prom", "secret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with credentials: %s, want 200", resp.Status)
	}
}

// gate is a collector whose Collect blocks until released, counting the
// collections in progress.
type gate struct {
	desc           *prometheus.Desc
	release        chan struct{}
	mu             sync.Mutex
	inFlight, peak int
}

func (g *gate) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }
func (g *gate) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	g.inFlight++
	g.peak = max(g.peak, g.inFlight)
	g.mu.Unlock()
	<-g.release
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, 1)
}

// TestMaxRequestsQueues: scrapes beyond MaxRequests wait for their turn
// and are answered; none is collected beyond the bound at once; one that
// waits longer than MaxWait gets 503.
func TestMaxRequestsQueues(t *testing.T) {
	for _, tc := range []struct {
		name     string
		wait     time.Duration
		hold     time.Duration // how long the first collections block
		want503  bool
		scrapers int
	}{
		{name: "the excess waits and is answered", wait: 10 * time.Second, hold: 200 * time.Millisecond, scrapers: 6},
		{name: "the excess gives up after MaxWait", wait: 50 * time.Millisecond, hold: time.Second, scrapers: 3, want503: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gate{desc: prometheus.NewDesc("gate", "test", nil, nil), release: make(chan struct{})}
			reg := prometheus.NewRegistry()
			reg.MustRegister(g)
			h, err := NewHandler(reg, HandlerOptions{MaxRequests: 2, MaxWait: tc.wait, NoExporterMetrics: true})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			codes := make(chan int, tc.scrapers)
			for range tc.scrapers {
				go func() {
					resp, err := http.Get(srv.URL + "/metrics")
					if err != nil {
						codes <- 0
						return
					}
					_ = resp.Body.Close()
					codes <- resp.StatusCode
				}()
			}
			time.Sleep(tc.hold)
			close(g.release)
			count := map[int]int{}
			for range tc.scrapers {
				count[<-codes]++
			}
			if g.peak > 2 {
				t.Errorf("%d collections at once, want at most 2", g.peak)
			}
			if tc.want503 {
				if count[http.StatusServiceUnavailable] != tc.scrapers-2 || count[http.StatusOK] != 2 {
					t.Errorf("status codes %v, want 2×200 and the rest 503", count)
				}
				return
			}
			if count[http.StatusOK] != tc.scrapers {
				t.Errorf("status codes %v, want all 200", count)
			}
		})
	}
}
