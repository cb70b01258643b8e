package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// fallbackAPIVersion is the Engine API version used when the daemon's
// /_ping does not say its own: 1.41 is served by Docker 20.10 to 28 and by
// podman's compatible API. Docker 29 refuses anything below 1.44, hence
// the negotiation (see apiBase).
const fallbackAPIVersion = "1.41"

// Kubernetes labels that dockershim and cri-dockerd put on containers.
const (
	labelK8sContainer = "io.kubernetes.container.name"
	labelK8sPod       = "io.kubernetes.pod.name"
	labelK8sNamespace = "io.kubernetes.pod.namespace"
)

// Timeouts of the Docker Engine API client.
const (
	dockerDialTimeout    = 2 * time.Second
	dockerRequestTimeout = 10 * time.Second
	dockerMaxBackoff     = 30 * time.Second
)

// dockerSource reads container names from the Docker Engine API
// (https://docs.docker.com/reference/api/engine/) over its unix socket:
// GET /_ping to learn the API version, GET /containers/json (running containers: Id, Names, Labels) at start,
// every refresh period and on cache misses, and
// GET /events?filters={"type":["container"]} streamed to learn of
// containers as they start.
type dockerSource struct {
	name   string // "docker", or "podman" for podman's own socket
	podman bool   // names podman's containers too: Docker's socket while no podman source runs
	socket string
	client *http.Client // requests with a deadline
	stream *http.Client // the event stream: no overall deadline
	period time.Duration
	st     *store
	log    *slog.Logger
	health *health

	mu      sync.Mutex
	version string // negotiated API version; "" until a /_ping answers
}

// newDockerSource returns nil, having said why once, when the socket is
// disabled or absent. name is "docker" for Config.DockerSocket, "podman"
// for Config.PodmanSocket: the same Engine API, podman's compatible one.
func newDockerSource(name, socket string, cfg Config, st *store, log *slog.Logger) *dockerSource {
	if socket == "none" {
		return nil
	}
	if _, err := os.Stat(socket); err != nil {
		log.Info(name+" socket not found, "+name+" container names disabled", "socket", socket, "err", err)
		return nil
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: dockerDialTimeout}
			return d.DialContext(ctx, "unix", socket)
		},
		Proxy:                 nil,
		ResponseHeaderTimeout: dockerRequestTimeout,
		MaxIdleConns:          2,
		IdleConnTimeout:       time.Minute,
	}
	return &dockerSource{
		name:   name,
		socket: socket,
		client: &http.Client{Transport: tr, Timeout: dockerRequestTimeout},
		stream: &http.Client{Transport: tr},
		period: cfg.Refresh,
		st:     st,
		log:    log,
		health: &health{log: log},
	}
}

// wants: containers of its runtime, podman's too for Docker's socket when
// no podman source runs (the socket given may be podman's), and
// containers whose runtime the path does not say.
func (d *dockerSource) wants(w *Workload) bool {
	switch w.Runtime {
	case "", d.name:
		return true
	case RuntimePodman:
		return d.podman
	}
	return false
}

func (d *dockerSource) run(ctx context.Context, kick <-chan struct{}) {
	// A reconnected event stream asks for a full listing, to catch what
	// started while it was down; that goes through the same rate limit.
	resync := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.watch(ctx, resync)
	}()
	refreshLoop(ctx, d.period, missGap, kick, resync, d.refresh)
	<-done
}

// refresh lists running containers and merges them into the store.
func (d *dockerSource) refresh(ctx context.Context, _ bool) {
	start := time.Now()
	list, err := d.list(ctx)
	if errors.As(err, new(badRequestError)) {
		list, err = d.list(ctx) // negotiated again
	}
	if err != nil {
		if ctx.Err() == nil {
			d.health.fail(d.name+" api unavailable, will retry", err, "socket", d.socket)
		}
		return
	}
	d.health.ok(d.name + " api available again")
	d.st.mergeDocker(d.name, list, start)
}

type dockerContainer struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	Labels map[string]string `json:"Labels"`
}

func (d *dockerSource) list(ctx context.Context) (map[string]names, error) {
	base, err := d.apiBase(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/containers/json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, d.statusError("list containers", resp)
	}
	var cs []dockerContainer
	if err := json.NewDecoder(resp.Body).Decode(&cs); err != nil {
		return nil, fmt.Errorf("list containers: decode: %w", err)
	}
	out := make(map[string]names, len(cs))
	for _, c := range cs {
		name := ""
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		out[c.ID] = dockerNames(name, c.Labels)
	}
	return out, nil
}

// dockerNames turns Docker's name ("/web") and labels into names; a
// container that Kubernetes made carries its pod in labels.
func dockerNames(name string, labels map[string]string) names {
	if c := labels[labelK8sContainer]; c != "" {
		return names{Name: c, Pod: labels[labelK8sPod], Namespace: labels[labelK8sNamespace]}
	}
	return names{Name: strings.TrimPrefix(name, "/")}
}

// dockerEvent is one message of GET /events. Actor.Attributes holds the
// container's labels plus "name" and "image".
type dockerEvent struct {
	Type   string `json:"Type"`
	Action string `json:"Action"`
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
}

// watch follows the event stream until ctx ends, reconnecting with
// backoff; after a reconnection it kicks resync.
func (d *dockerSource) watch(ctx context.Context, resync chan<- struct{}) {
	backoff := time.Second
	first := true
	for ctx.Err() == nil {
		connected, err := d.follow(ctx, func() {
			if !first {
				select {
				case resync <- struct{}{}:
				default:
				}
			}
			first = false
		})
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = time.Second
		}
		d.log.Debug(d.name+" event stream ended, reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, dockerMaxBackoff)
	}
}

// follow reads one connection of the event stream, calling onConnect once
// the daemon has accepted it.
func (d *dockerSource) follow(ctx context.Context, onConnect func()) (connected bool, err error) {
	base, err := d.apiBase(ctx)
	if err != nil {
		return false, err
	}
	q := url.Values{"filters": {`{"type":["container"]}`}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events?"+q.Encode(), nil)
	if err != nil {
		return false, err
	}
	resp, err := d.stream.Do(req)
	if err != nil {
		return false, fmt.Errorf("events: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return false, d.statusError("events", resp)
	}
	onConnect()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev dockerEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return true, err
		}
		d.apply(ev)
	}
}

// apply updates the store from one event.
func (d *dockerSource) apply(ev dockerEvent) {
	if ev.Type != "container" || !isHex64(ev.Actor.ID) {
		return
	}
	switch ev.Action {
	case "create", "start", "rename":
		d.st.setDocker(d.name, ev.Actor.ID, dockerNames(ev.Actor.Attributes["name"], ev.Actor.Attributes))
	case "destroy":
		d.st.deleteDocker(ev.Actor.ID)
	}
}

// apiBase returns the URL prefix of the Engine API, "http://docker/v1.47"
// (the host is ignored: the transport dials the socket). The version is
// the daemon's own, from the API-Version header of GET /_ping, as the
// Docker CLI negotiates it; fallbackAPIVersion when the header is missing.
func (d *dockerSource) apiBase(ctx context.Context) (string, error) {
	d.mu.Lock()
	v := d.version
	d.mu.Unlock()
	if v == "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
		if err != nil {
			return "", err
		}
		resp, err := d.client.Do(req)
		if err != nil {
			return "", fmt.Errorf("ping: %w", err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1024))
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("ping: %s", resp.Status)
		}
		v = resp.Header.Get("Api-Version")
		if !isAPIVersion(v) {
			v = fallbackAPIVersion
		}
		d.mu.Lock()
		d.version = v
		d.mu.Unlock()
	}
	return "http://docker/v" + v, nil
}

// statusError turns a failed answer into an error with the daemon's
// message; a 400 (an API version the daemon, upgraded meanwhile, no longer
// serves) makes the next request negotiate again.
func (d *dockerSource) statusError(what string, resp *http.Response) error {
	var msg struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&msg) // best effort: only for the message
	err := fmt.Errorf("%s: %s", what, resp.Status)
	if msg.Message != "" {
		err = fmt.Errorf("%w: %s", err, msg.Message)
	}
	if resp.StatusCode == http.StatusBadRequest {
		d.mu.Lock()
		d.version = ""
		d.mu.Unlock()
		return badRequestError{err}
	}
	return err
}

// badRequestError is a 400 answer, which may mean that the daemon no
// longer serves the negotiated API version.
type badRequestError struct{ error }

func (e badRequestError) Unwrap() error { return e.error }

// isAPIVersion reports whether v looks like "1.44".
func isAPIVersion(v string) bool {
	major, minor, ok := strings.Cut(v, ".")
	return ok && major != "" && minor != "" && strings.Trim(major, "0123456789") == "" && strings.Trim(minor, "0123456789") == ""
}
