// Package dockertest serves the Docker Engine API endpoints that the
// container package's Docker source uses (GET /_ping, the container list
// and the event stream), on a unix socket, in the shapes Docker 24–29
// send. Unit tests of the source and end-to-end tests of --containers
// share it.
//
// It is a test helper: import it from _test.go files (and other test
// helpers) only.
package dockertest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// DefaultImage is the image of a Container that names none.
const DefaultImage = "nginx:1.27"

// Container is a running container as the fake daemon lists it and
// announces it.
type Container struct {
	ID, Name string
	// Image defaults to DefaultImage.
	Image string
	// Labels are sent as given: nil is JSON null.
	Labels map[string]string
}

func (c Container) image() string {
	if c.Image == "" {
		return DefaultImage
	}
	return c.Image
}

// Server is a fake Docker daemon. Its methods are safe for concurrent use.
type Server struct {
	socket     string
	mu         sync.Mutex
	apiVersion string           // what /_ping says and the only version served
	list       []map[string]any // GET /containers/json
	events     chan string      // lines pushed to GET /events
	drop       chan struct{}    // ends the current GET /events
	lists      atomic.Int32     // number of GET /containers/json
	conns      atomic.Int32     // number of GET /events
}

// New starts a daemon that serves API version apiVersion ("1.41", "1.52")
// and only that: a request under another version gets Docker 29's 400
// answer, so the client must negotiate. It stops when t ends.
func New(t testing.TB, apiVersion string) *Server {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 90 { // sun_path holds 108 bytes
		var err error
		if dir, err = os.MkdirTemp("", "wl"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	s := &Server{socket: filepath.Join(dir, "docker.sock"), apiVersion: apiVersion, events: make(chan string, 16), drop: make(chan struct{})}
	ln, err := net.Listen("unix", s.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s.mux())
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

func (s *Server) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", s.version())
		w.Header().Set("Docker-Experimental", "false")
		w.Header().Set("Ostype", "linux")
		_, _ = w.Write([]byte("OK"))
	})
	// Docker ≥ 29 refuses clients older than its minimum API version.
	versioned := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if v, want := r.PathValue("version"), s.version(); v != "v"+want {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = fmt.Fprintf(w, `{"message":"client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version"}`, strings.TrimPrefix(v, "v"), want)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /{version}/containers/json", versioned(func(w http.ResponseWriter, r *http.Request) {
		s.lists.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.list)
	}))
	mux.HandleFunc("GET /{version}/events", versioned(func(w http.ResponseWriter, r *http.Request) {
		if got, want := r.URL.Query().Get("filters"), `{"type":["container"]}`; got != want {
			http.Error(w, "bad filters "+got, http.StatusBadRequest)
			return
		}
		s.conns.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-s.drop:
				return
			case line := <-s.events:
				_, _ = fmt.Fprintln(w, line)
				w.(http.Flusher).Flush()
			}
		}
	}))
	return mux
}

// Socket is the path of the daemon's unix socket.
func (s *Server) Socket() string { return s.socket }

func (s *Server) version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiVersion
}

// SetVersion makes the daemon serve API version v from now on, as after an
// upgrade.
func (s *Server) SetVersion(v string) {
	s.mu.Lock()
	s.apiVersion = v
	s.mu.Unlock()
}

// Add puts a running container in the listing.
func (s *Server) Add(c Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, map[string]any{
		"Id":      c.ID,
		"Names":   []string{"/" + c.Name},
		"Image":   c.image(),
		"ImageID": "sha256:fffffe2fd2a7fb4b0bd0a4e08c6b97a0d7ba0d0bf1ae69a5e1bd6e5ab2c3b31c",
		"Command": "/docker-entrypoint.sh nginx -g 'daemon off;'",
		"Created": 1718000000,
		"Ports":   []map[string]any{{"PrivatePort": 80, "Type": "tcp"}},
		"Labels":  c.Labels,
		"State":   "running",
		"Status":  "Up 2 hours",
		"HostConfig": map[string]any{
			"NetworkMode": "bridge",
		},
		"NetworkSettings": map[string]any{"Networks": map[string]any{}},
		"Mounts":          []any{},
	})
}

// SendStart pushes c's start event to the event stream, as Docker writes
// it (its labels among the actor's attributes, with name and image). It
// does not list c: Start does both.
func (s *Server) SendStart(c Container) {
	attrs := map[string]string{"image": c.image(), "name": c.Name}
	for k, v := range c.Labels {
		attrs[k] = v
	}
	ev := map[string]any{
		"status": "start", "id": c.ID, "from": c.image(),
		"Type": "container", "Action": "start",
		"Actor": map[string]any{"ID": c.ID, "Attributes": attrs},
		"scope": "local", "time": 1718000100, "timeNano": 1718000100123456789,
	}
	b, _ := json.Marshal(ev) // a map of strings and numbers always encodes
	s.events <- string(b)
}

// Start lists c and sends its start event, as Docker does when a
// container starts.
func (s *Server) Start(c Container) {
	s.Add(c)
	s.SendStart(c)
}

// DropEvents ends the current event stream connection, as a daemon
// restart does; the client must reconnect.
func (s *Server) DropEvents() { s.drop <- struct{}{} }

// Lists is the number of container listings served so far.
func (s *Server) Lists() int { return int(s.lists.Load()) }

// Conns is the number of event stream connections accepted so far.
func (s *Server) Conns() int { return int(s.conns.Load()) }
