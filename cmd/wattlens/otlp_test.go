package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	collpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

func TestOTLPUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"otlp", "--otlp.protocol", "http/json"},
		{"otlp", "--otlp.endpoint", "ftp://collector"},
		{"otlp", "--otlp.cert-file", "cert.pem"},
		{"otlp", "--otlp.compression", "zstd"},
		{"otlp", "--process.top", "-1"},
		{"otlp", "--process.cmdline-length", "0"},
		{"otlp", "--step", "0"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, stderr := runWattlens(t, append([]string{"--path.sysfs", t.TempDir()}, args...)...)
			if code != 2 || !strings.Contains(stderr, "wattlens: error:") {
				t.Errorf("exit %d, want 2; stdout %q stderr %q", code, out, stderr)
			}
		})
	}
}

// TestOTLPCommand: the command wires flags, sensor and exporter: over HTTP
// to a receiver on 127.0.0.1 it sends, with the flag's header, the host
// as resource and the host energy, and a last export when it stops.
func TestOTLPCommand(t *testing.T) {
	var mu sync.Mutex
	var posts int
	var hostName, tenant string
	var metrics = map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req collpb.ExportMetricsServiceRequest
		if r.URL.Path != "/v1/metrics" || proto.Unmarshal(b, &req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		posts++
		tenant = r.Header.Get("X-Tenant")
		for _, rm := range req.ResourceMetrics {
			for _, kv := range rm.Resource.Attributes {
				if kv.Key == "host.name" {
					hostName = kv.Value.GetStringValue()
				}
			}
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					metrics[m.Name] = true
				}
			}
		}
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // the flag wins

	code, _, stderr := runWattlens(t, "-s", "powercap_rapl", "--path.sysfs", fakeRAPL(t), "otlp",
		"--otlp.protocol", "http", "--otlp.endpoint", srv.URL, "--otlp.header", "X-Tenant=lab",
		"--step", "200ms", "--timeout", "5s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	host, _ := os.Hostname()
	mu.Lock()
	defer mu.Unlock()
	if posts < 2 {
		t.Errorf("%d exports in 5 s at a 200 ms step; stderr:\n%s", posts, stderr)
	}
	if hostName != host || tenant != "lab" {
		t.Errorf("host.name %q (want %q), X-Tenant %q", hostName, host, tenant)
	}
	for _, m := range []string{"hw.host.energy", "hw.energy", "wattlens.consumer.energy", "wattlens.sensor.up"} {
		if !metrics[m] {
			t.Errorf("%s never sent", m)
		}
	}
	if strings.Contains(stderr, "otlp export failed") {
		t.Errorf("failures logged:\n%s", stderr)
	}
}

// TestOTLPHeaderErrors: a bad header, given as a flag or in
// OTEL_EXPORTER_OTLP_HEADERS (even beside good flag headers), stops the
// command at start with exit 2 and names the header.
func TestOTLPHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, env, flag string
		want            []string
	}{
		{"space in a flag's key", "", "bad key=v", []string{"--otlp.header", `"bad key"`}},
		{"LF in a flag's value", "", "X-Tenant=a\nInjected: yes", []string{"--otlp.header", `"X-Tenant"`}},
		{"CR in a flag's value", "", "X-Tenant=a\rb", []string{"--otlp.header", `"X-Tenant"`}},
		{"bad variable beside a good flag", "bad key=v,ok=1", "x=y", []string{"OTEL_EXPORTER_OTLP_HEADERS", `"bad key"`}},
		{"bad variable alone", "a=1%0d%0aInjected: yes", "", []string{"OTEL_EXPORTER_OTLP_HEADERS", `"a"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", tc.env)
			args := []string{"--path.sysfs", t.TempDir(), "otlp", "--otlp.endpoint", "http://127.0.0.1:1", "--timeout", "1s"}
			if tc.flag != "" {
				args = append(args, "--otlp.header", tc.flag)
			}
			code, out, stderr := runWattlens(t, args...)
			if code != 2 || !strings.Contains(stderr, "wattlens: error:") {
				t.Fatalf("exit %d, want 2; stdout %q stderr %q", code, out, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not name %s", stderr, w)
				}
			}
		})
	}
}
