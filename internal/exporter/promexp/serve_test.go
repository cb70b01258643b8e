package promexp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/wattlens/wattlens/internal/polltest"
	"github.com/wattlens/wattlens/internal/porttest"
)

func TestDefaultMaxConnections(t *testing.T) {
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{{0, 8}, {256, 8}, {1024, 384}, {1100, 422}, {4096, 1024}, {1 << 20, 1024}} {
		if got := DefaultMaxConnections(tc.nofile); got != tc.want {
			t.Errorf("DefaultMaxConnections(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
}

// serveOn starts Serve with o on a free 127.0.0.1 port and returns the
// address.
func serveOn(t *testing.T, h http.Handler, o ServeOptions) string {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(porttest.Free(t))
	flags := &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: new(bool), WebConfigFile: new(string)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, h, flags, o, discardLogger()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	polltest.Until(t, "the server to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	return addr
}

// connGet sends one keep-alive GET on conn and reads the answer's status.
func connGet(t *testing.T, conn net.Conn, r *bufio.Reader, path string) int {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestConnectionLimit: beyond MaxConnections busy connections a new one
// is answered 503 and closed; once they end, connections are served
// again.
func TestConnectionLimit(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	})
	addr := serveOn(t, h, ServeOptions{MaxConnections: 4})
	// Four connections held busy in the handler. The start-up probe's
	// connection may still hold a slot for a moment (the server counts
	// it out when it reads its end): a busy one refused for it is
	// opened again.
	var busy []net.Conn
	for len(busy) < 4 {
		var held bool
		for try := 0; try < 20 && !held; try++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = fmt.Fprintf(c, "GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
			select {
			case <-entered:
				busy, held = append(busy, c), true
			case <-time.After(2 * time.Second):
				_ = c.Close()
			}
		}
		if !held {
			t.Fatalf("only %d of 4 slow requests reached the handler", len(busy))
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := connGet(t, c, bufio.NewReader(c), "/"); got != http.StatusServiceUnavailable {
		t.Errorf("a fifth connection got %d, want 503", got)
	}
	_ = c.Close()
	close(release)
	for _, b := range busy {
		_ = b.Close()
	}
	polltest.Until(t, "a connection served after the busy ones closed", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer func() { _ = c.Close() }()
		return connGet(t, c, bufio.NewReader(c), "/") == http.StatusOK
	})
}

// TestIdleConnectionsShed: idle keep-alive connections that fill the
// limit are closed, so a new client is served.
func TestIdleConnectionsShed(t *testing.T) {
	addr := serveOn(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ServeOptions{MaxConnections: 8})
	for i := range 8 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if got := connGet(t, c, bufio.NewReader(c), "/"); got != http.StatusOK && i < 6 {
			t.Fatalf("connection %d: %d", i, got)
		}
	}
	polltest.Until(t, "a new client served while idle clients hold the limit", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer func() { _ = c.Close() }()
		return connGet(t, c, bufio.NewReader(c), "/") == http.StatusOK
	})
}

// TestHostCheck: the page answers under IP addresses, localhost, this
// host's name, the listen addresses' names and the allowed names, and
// 421 under any other; the metrics path answers under any.
func TestHostCheck(t *testing.T) {
	hc := NewHostCheck([]string{"agent.example.org", "Dash.Example.org:8080"}, []string{":29288", "box.lan:29288"}, "myhost")
	h := hc.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }), "/metrics")
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"127.0.0.1:29288", "/api/snapshot", 200},
		{"[::1]:29288", "/", 200},
		{"192.0.2.7", "/", 200},
		{"localhost:29288", "/api/snapshot", 200},
		{"app.localhost", "/", 200},
		{"myhost:29288", "/", 200},
		{"MYHOST.", "/", 200},
		{"box.lan:29288", "/api/history", 200},
		{"agent.example.org:29288", "/api/snapshot", 200},
		{"dash.example.org", "/", 200},
		{"attacker.example:29288", "/api/snapshot", http.StatusMisdirectedRequest},
		{"attacker.example", "/", http.StatusMisdirectedRequest},
		{"myhost.attacker.example", "/api/stream", http.StatusMisdirectedRequest},
		{"localhost.attacker.example", "/", http.StatusMisdirectedRequest},
		{"attacker.example", "/metrics", 200},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		r.Host = tc.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Host %q %s: %d, want %d", tc.host, tc.path, w.Code, tc.want)
		}
		if w.Code == http.StatusMisdirectedRequest && !strings.Contains(w.Body.String(), "--web.allowed-hosts") {
			t.Errorf("Host %q: the answer %q does not name the flag", tc.host, w.Body.String())
		}
	}
	any := NewHostCheck([]string{"*"}, nil, "")
	if !any.Allows("attacker.example") {
		t.Error("* does not allow any host")
	}
}

// TestRefusedConnectionsClosed: behind basic auth, a keep-alive
// connection whose request was answered 401 is closed at once instead of
// idling for IdleTimeout; one whose request got through stays open.
func TestRefusedConnectionsClosed(t *testing.T) {
	path := t.TempDir() + "/web.yml"
	// bcrypt of "secret", cost 4.
	cfg := "basic_auth_users:\n  prom: $2a$04$KmKDkK6R1o3JkgDl9mwyX.KLGdmKuu93wTIeIbfm1Pjpqg2fg7Keu\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(porttest.Free(t))
	flags := &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: new(bool), WebConfigFile: &path}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }), flags, ServeOptions{}, discardLogger())
	}()
	t.Cleanup(func() { cancel(); <-done })
	var conn net.Conn
	polltest.Until(t, "the server to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	for _, tc := range []struct {
		name, auth string
		status     int
		closed     bool
	}{
		{"refused", "", http.StatusUnauthorized, true},
		{"served", "Authorization: Basic cHJvbTpzZWNyZXQ=\r\n", http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if conn, err = net.Dial("tcp", addr); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			_, _ = fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", tc.auth)
			r := bufio.NewReader(conn)
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			wait := 5 * time.Second // well under IdleTimeout
			if !tc.closed {
				wait = 300 * time.Millisecond
			}
			_ = conn.SetReadDeadline(time.Now().Add(wait))
			_, err = r.ReadByte()
			var ne net.Error
			timedOut := errors.As(err, &ne) && ne.Timeout()
			if tc.closed && timedOut {
				t.Errorf("the connection refused with %d still open after %v", tc.status, wait)
			}
			if !tc.closed && !timedOut {
				t.Errorf("the served connection closed: %v", err)
			}
		})
	}
}
