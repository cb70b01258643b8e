package push

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/wattlens/wattlens/internal/polltest"
)

// gateway is a fake Pushgateway that records pushes and can fail.
type gateway struct {
	mu     sync.Mutex
	pushes []pushed
	fail   atomic.Int32 // fail this many requests with 500
	delay  atomic.Int64 // ns to sleep before answering
}

type pushed struct {
	method, path, user, pass string
	families                 map[string]*dto.MetricFamily
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if d := time.Duration(g.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if g.fail.Load() > 0 {
		g.fail.Add(-1)
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	p := pushed{method: r.Method, path: r.URL.Path, families: map[string]*dto.MetricFamily{}}
	p.user, p.pass, _ = r.BasicAuth()
	dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(r.Header))
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err != nil {
			if !errors.Is(err, io.EOF) {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			break
		}
		p.families[mf.GetName()] = mf
	}
	g.mu.Lock()
	g.pushes = append(g.pushes, p)
	g.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (g *gateway) last() (pushed, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pushes) == 0 {
		return pushed{}, 0
	}
	return g.pushes[len(g.pushes)-1], len(g.pushes)
}

// counterSet is a registry with one counter the test moves.
func counterSet() (*prometheus.Registry, prometheus.Counter) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "wattlens_host_energy_joules_total", Help: "h"})
	reg.MustRegister(c)
	return reg, c
}

func TestPushReplacesWithGroupingAndAuth(t *testing.T) {
	g := &gateway{}
	srv := httptest.NewServer(g)
	defer srv.Close()
	reg, c := counterSet()
	c.Add(42)
	p, err := New(reg, Options{
		URL: srv.URL + "/", Job: "wattlens", Grouping: map[string]string{"instance": "host-1", "rack": "b/2"},
		Username: "u", Password: "p w", Timeout: time.Second, Budget: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Push(context.Background()); r.Err != nil || r.Attempts != 1 {
		t.Fatalf("push: %+v", r)
	}
	got, _ := g.last()
	if got.method != http.MethodPut {
		t.Errorf("method %s, want PUT (replace)", got.method)
	}
	// The slash in b/2 is base64-encoded by the client, as the
	// Pushgateway's API wants.
	if want := "/metrics/job/wattlens/instance/host-1/rack@base64/Yi8y"; got.path != want {
		t.Errorf("path %s, want %s", got.path, want)
	}
	if got.user != "u" || got.pass != "p w" {
		t.Errorf("basic auth %q:%q", got.user, got.pass)
	}
	if v := got.families["wattlens_host_energy_joules_total"].GetMetric()[0].GetCounter().GetValue(); v != 42 {
		t.Errorf("pushed %v, want 42", v)
	}
}

func TestPushRetriesThenSucceeds(t *testing.T) {
	g := &gateway{}
	g.fail.Store(2)
	srv := httptest.NewServer(g)
	defer srv.Close()
	reg, _ := counterSet()
	p, err := New(reg, Options{URL: srv.URL, Timeout: time.Second, Budget: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Delivered(); n != 0 {
		t.Errorf("%d delivered before any push", n)
	}
	r := p.Push(context.Background())
	if r.Err != nil || r.Attempts != 3 {
		t.Errorf("push after two failures: %+v, want success at the third attempt", r)
	}
	if n := p.Delivered(); n != 1 {
		t.Errorf("%d delivered after one accepted push (and two refused), want 1", n)
	}
}

// TestPushGivesUpWithinBudget: a gateway that is down or hangs costs at
// most the budget, never more.
func TestPushGivesUpWithinBudget(t *testing.T) {
	hanging := &gateway{}
	hanging.delay.Store(int64(time.Minute))
	hang := httptest.NewServer(hanging)
	defer hang.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	for name, url := range map[string]string{"down": downURL, "hanging": hang.URL} {
		t.Run(name, func(t *testing.T) {
			reg, _ := counterSet()
			p, err := New(reg, Options{URL: url, Timeout: 200 * time.Millisecond, Budget: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			r := p.Push(ctx)
			if r.Err == nil {
				t.Fatal("push to a dead gateway succeeded")
			}
			if n := p.Delivered(); n != 0 {
				t.Errorf("%d delivered to a dead gateway", n)
			}
			if r.Attempts < 2 {
				t.Errorf("%d attempts within a second, want retries", r.Attempts)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("push took %v with a 1 s budget", d)
			}
		})
	}
}

// logRecords is a slog handler that keeps messages.
type logRecords struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message)
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }
func (l *logRecords) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

// TestRunRecoversAndPushesLatest: while the gateway fails, Run warns once
// and keeps going; when it is back, the next push carries the counter's
// value of that moment; on shutdown a last push is made.
func TestRunRecoversAndPushesLatest(t *testing.T) {
	g := &gateway{}
	srv := httptest.NewServer(g)
	defer srv.Close()
	reg, c := counterSet()
	logs := &logRecords{}
	p, err := New(reg, Options{URL: srv.URL, Timeout: 100 * time.Millisecond, Budget: 300 * time.Millisecond, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()

	g.fail.Store(1 << 20) // down
	for i := range 3 {
		c.Add(1)
		_ = p.Export(ctx, nil)
		time.Sleep(400 * time.Millisecond)
		if _, n := g.last(); n != 0 {
			t.Fatalf("step %d: a push got through a failing gateway", i)
		}
	}
	g.fail.Store(0) // back
	c.Add(10)
	_ = p.Export(ctx, nil)
	polltest.Until(t, "the first push", func() bool { _, n := g.last(); return n == 1 })
	got, _ := g.last()
	if v := got.families["wattlens_host_energy_joules_total"].GetMetric()[0].GetCounter().GetValue(); v != 13 {
		t.Errorf("push after recovery carried %v, want the latest 13", v)
	}
	c.Add(1)
	cancel()
	<-done
	got, n := g.last()
	if n != 2 || got.families["wattlens_host_energy_joules_total"].GetMetric()[0].GetCounter().GetValue() != 14 {
		t.Errorf("no last push with 14 on shutdown: %d pushes", n)
	}
	var warns, infos int
	for _, m := range logs.all() {
		switch {
		case strings.HasPrefix(m, "WARN push failed"):
			warns++
		case strings.HasPrefix(m, "INFO push works again"):
			infos++
		}
	}
	if warns != 1 || infos != 1 {
		t.Errorf("logs: %q; want one warning for the failing streak and one recovery", logs.all())
	}
}

func TestExportNeverBlocks(t *testing.T) {
	reg, _ := counterSet()
	p, err := New(reg, Options{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for range 1000 {
			_ = p.Export(context.Background(), nil)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Export blocked with no Run")
	}
}

func TestNewRejects(t *testing.T) {
	reg, _ := counterSet()
	for name, o := range map[string]Options{
		"no scheme":      {URL: "gateway:9091"},
		"ftp":            {URL: "ftp://gateway"},
		"no host":        {URL: "http://"},
		"job as group":   {URL: "http://g:9091", Grouping: map[string]string{"job": "x"}},
		"empty grouping": {URL: "http://g:9091", Grouping: map[string]string{"instance": ""}},
	} {
		if _, err := New(reg, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTLSOptions(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := (TLSOptions{}).Config(); cfg != nil || err != nil {
		t.Errorf("no options: %v, %v; want nil, nil", cfg, err)
	}
	if cfg, err := (TLSOptions{InsecureSkipVerify: true}).Config(); err != nil || !cfg.InsecureSkipVerify {
		t.Errorf("insecure: %v, %v", cfg, err)
	}
	for name, o := range map[string]TLSOptions{
		"missing CA":     {CAFile: filepath.Join(dir, "nope.pem")},
		"CA not PEM":     {CAFile: bad},
		"cert no key":    {CertFile: bad},
		"bad cert files": {CertFile: bad, KeyFile: bad},
	} {
		if _, err := o.Config(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestPushOverTLS pushes to an HTTPS gateway trusted through a CA file.
func TestPushOverTLS(t *testing.T) {
	g := &gateway{}
	srv := httptest.NewTLSServer(g)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	var pemBuf bytes.Buffer
	pemBuf.WriteString("-----BEGIN CERTIFICATE-----\n")
	pemBuf.WriteString(base64Lines(srv.Certificate().Raw))
	pemBuf.WriteString("-----END CERTIFICATE-----\n")
	if err := os.WriteFile(ca, pemBuf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := TLSOptions{CAFile: ca}.Config()
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := counterSet()
	p, err := New(reg, Options{URL: srv.URL, TLS: cfg, Timeout: time.Second, Budget: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Push(context.Background()); r.Err != nil {
		t.Fatalf("push over TLS with the CA: %v", r.Err)
	}
	// Without the CA the same push fails.
	p2, _ := New(reg, Options{URL: srv.URL, Timeout: time.Second, Budget: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if r := p2.Push(ctx); r.Err == nil {
		t.Error("push to an untrusted certificate succeeded")
	}
	if diff := cmp.Diff(1, len(g.pushes)); diff != "" {
		t.Errorf("pushes (-want +got):\n%s", diff)
	}
}
