package otlp

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	collpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

func TestEndpointURL(t *testing.T) {
	for _, tc := range []struct {
		name, in, protocol, want string
		err                      bool
	}{
		{"host:port", "collector:4317", ProtocolGRPC, "", false},
		{"grpc URL kept", "http://collector:4317", ProtocolGRPC, "http://collector:4317", false},
		{"http URL gets the path", "http://collector:4318", ProtocolHTTP, "http://collector:4318/v1/metrics", false},
		{"http URL with a slash", "https://collector:4318/", ProtocolHTTP, "https://collector:4318/v1/metrics", false},
		{"http URL with a path kept", "http://gw/otlp/v1/metrics", ProtocolHTTP, "http://gw/otlp/v1/metrics", false},
		{"bad scheme", "ftp://collector", ProtocolHTTP, "", true},
		{"no host", "http://", ProtocolHTTP, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := endpointURL(tc.in, tc.protocol)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("endpointURL(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestMergeHeaders(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   string
		flags map[string]string
		want  map[string]string
	}{
		{"none", "", nil, nil},
		{"the variable alone", "a=1", nil, map[string]string{"a": "1"}},
		{"flags win, the rest kept", "a=1,b=two%20words, c = 3", map[string]string{"a": "flag"}, map[string]string{"a": "flag", "b": "two words", "c": "3"}},
		{"empty pairs skipped", ",x=1,,", map[string]string{"y": "2"}, map[string]string{"x": "1", "y": "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mergeHeaders(tc.env, "OTEL_EXPORTER_OTLP_HEADERS", tc.flags)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestHeaderErrors: a bad header, in the variable or a flag, is refused
// with a message that names where it came from and its key; a bad
// variable is refused even when the flags' headers are good.
func TestHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   string
		flags map[string]string
		want  []string
	}{
		{"space in a variable's key", "bad key=v,ok=1", map[string]string{"x": "y"}, []string{"OTEL_EXPORTER_OTLP_HEADERS", `"bad key"`}},
		{"space in a variable's key, no flag", "bad key=v", nil, []string{"OTEL_EXPORTER_OTLP_HEADERS", `"bad key"`}},
		{"no = in the variable", "junk,x=1", nil, []string{"OTEL_EXPORTER_OTLP_HEADERS", `"junk"`}},
		{"CR LF encoded in the variable", "a=1%0d%0aInjected: yes", nil, []string{"OTEL_EXPORTER_OTLP_HEADERS", `"a"`, "control characters"}},
		{"bad escape in the variable", "a=%zz", nil, []string{"OTEL_EXPORTER_OTLP_HEADERS", `"a"`, "URL-encoded"}},
		{"space in a flag's key", "", map[string]string{"bad key": "v"}, []string{"--otlp.header", `"bad key"`}},
		{"LF in a flag's value", "", map[string]string{"X-Tenant": "a\nInjected: yes"}, []string{"--otlp.header", `"X-Tenant"`, "control characters"}},
		{"CR in a flag's value", "", map[string]string{"X-Tenant": "a\rb"}, []string{"--otlp.header", `"X-Tenant"`}},
		{"empty flag key", "", map[string]string{"": "v"}, []string{"--otlp.header", "empty name"}},
		{"control character in a flag's key", "", map[string]string{"a\x00b": "v"}, []string{"--otlp.header", `a\x00b`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mergeHeaders(tc.env, "OTEL_EXPORTER_OTLP_HEADERS", tc.flags)
			if err == nil {
				t.Fatalf("accepted: %v", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %s", err, w)
				}
			}
			if strings.ContainsAny(err.Error(), "\r\n\x00") {
				t.Errorf("error %q passes control characters on", err)
			}
		})
	}
}

func TestNewClientChoices(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name string
		o    ClientOptions
		env  map[string]string
		want Resolved
		err  bool
	}{
		{"defaults", ClientOptions{}, nil, Resolved{ProtocolGRPC, "localhost:4317", DefaultTimeout}, false},
		{"http default port", ClientOptions{Protocol: "http"}, nil, Resolved{ProtocolHTTP, "localhost:4318", DefaultTimeout}, false},
		{"from the variables", ClientOptions{},
			map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"},
			Resolved{ProtocolHTTP, "http://c:4318", 2500 * time.Millisecond}, false},
		{"metrics variables first", ClientOptions{},
			map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"},
			Resolved{ProtocolGRPC, "localhost:4317", DefaultTimeout}, false},
		{"flags win", ClientOptions{Protocol: "grpc", Endpoint: "c:4317", Timeout: time.Second},
			map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:1", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"},
			Resolved{ProtocolGRPC, "c:4317", time.Second}, false},
		{"http/json refused", ClientOptions{Protocol: "http/json"}, nil, Resolved{}, true},
		{"half a key pair", ClientOptions{CertFile: "cert.pem"}, nil, Resolved{}, true},
		{"bad compression", ClientOptions{Compression: "zstd"}, nil, Resolved{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Getenv = env(tc.env)
			c, got, err := NewClient(context.Background(), tc.o)
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want one: %v", err, tc.err)
			}
			if err != nil {
				return
			}
			defer func() { _ = c.Shutdown(context.Background()) }()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestHTTPClientSends: over HTTP the client posts protobuf to /v1/metrics
// with the flags' headers over the variables', gzip-compressed when asked.
func TestHTTPClientSends(t *testing.T) {
	type request struct {
		Path, Auth, Tenant, Encoding string
		Metrics                      []string
	}
	var mu sync.Mutex
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		var req collpb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rq := request{Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Tenant: r.Header.Get("X-Tenant"), Encoding: r.Header.Get("Content-Encoding")}
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name == MetricHostEnergy {
						rq.Metrics = append(rq.Metrics, m.Name)
					}
				}
			}
		}
		mu.Lock()
		got = append(got, rq)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server on %s, not 127.0.0.1", srv.URL)
	}
	env := map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20env,X-Tenant=env", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}
	client, _, err := NewClient(context.Background(), ClientOptions{
		Protocol: "http", Endpoint: srv.URL, Headers: map[string]string{"X-Tenant": "flag"}, Compression: "gzip",
		Getenv: func(k string) string { return env[k] },
	})
	if err != nil {
		t.Fatal(err)
	}
	x := mustNew(t, Options{Client: client})
	rm := collect(t, x, fixedSnapshot())
	if err := client.Export(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	_ = client.Shutdown(context.Background())
	want := []request{{Path: "/v1/metrics", Auth: "Bearer env", Tenant: "flag", Encoding: "gzip", Metrics: []string{MetricHostEnergy}}}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
