package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/wattlens/wattlens/internal/exporter/promexp"
)

// TestBasicAuthFromWebConfig: mounted at "/" of the Prometheus handler and
// served by the exporter toolkit, the page, its API and its stream are
// behind --web.config.file's basic auth, like /metrics.
func TestBasicAuthFromWebConfig(t *testing.T) {
	// bcrypt of "secret", cost 4.
	cfg := "basic_auth_users:\n  prom: $2a$04$KmKDkK6R1o3JkgDl9mwyX.KLGdmKuu93wTIeIbfm1Pjpqg2fg7Keu\n"
	path := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	hub := New(Options{MetricsPath: "/metrics"})
	export(t, hub, tick(1))
	page, err := hub.Handler()
	if err != nil {
		t.Fatal(err)
	}
	h, err := promexp.NewHandler(prometheus.NewRegistry(), promexp.HandlerOptions{Root: page})
	if err != nil {
		t.Fatal(err)
	}
	flags := &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: new(bool), WebConfigFile: &path}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- promexp.Serve(ctx, h, flags, promexp.ServeOptions{}, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		hub.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	get := func(path, user, pass string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		var resp *http.Response
		var err error
		for range 100 {
			if resp, err = http.DefaultClient.Do(req); err == nil {
				return resp
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal(err)
		return nil
	}
	for _, path := range []string{"/", "/app.js", "/api/snapshot", "/api/history", "/api/stream", "/metrics"} {
		t.Run(path, func(t *testing.T) {
			for _, tc := range []struct {
				user, pass string
				want       int
			}{
				{"", "", http.StatusUnauthorized},
				{"prom", "wrong", http.StatusUnauthorized},
				{"prom", "secret", http.StatusOK},
			} {
				resp := get(path, tc.user, tc.pass)
				_ = resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("user %q password %q: %s, want %d", tc.user, tc.pass, resp.Status, tc.want)
				}
			}
		})
	}
}
