package container

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultDockerSocket = "/var/run/docker.sock"
	DefaultPodmanSocket = "/run/podman/podman.sock"
	DefaultTokenFile    = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	DefaultInClusterCA  = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
	DefaultRefresh      = 30 * time.Second
	DefaultKubeletPort  = "10250"
)

// missGap is the shortest time between two refreshes of one source that
// cache misses trigger: at most one per second.
const missGap = time.Second

// Config says where container metadata comes from.
type Config struct {
	// DockerSocket is the Docker Engine API unix socket (podman's
	// compatible socket works too, e.g. /run/podman/podman.sock);
	// DefaultDockerSocket when empty, "none" to disable. A socket that does
	// not exist disables the source with one log line.
	DockerSocket string
	// PodmanSocket is podman's Docker-compatible API socket (rootful
	// podman.socket, or podman system service), read as DockerSocket is,
	// for podman's containers: both runtimes are named on one host.
	// DefaultPodmanSocket when empty, "none" to disable; skipped when it
	// does not exist or is DockerSocket itself.
	PodmanSocket string

	// Kubelet reads pods from the kubelet's /pods endpoint.
	Kubelet bool
	// KubeletURL is the kubelet's base URL ("https://10.0.0.5:10250") or
	// its full /pods URL; "https://<NodeName>:10250" when empty
	// ("https://localhost:10250" without a node name).
	KubeletURL string
	// APIServer reads this node's pods from the API server instead
	// (GET /api/v1/pods?fieldSelector=spec.nodeName=<NodeName>; never the
	// whole cluster). Ignored when Kubelet is set.
	APIServer bool
	// APIServerURL is the API server's base URL; from the in-cluster
	// environment (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT) when
	// empty.
	APIServerURL string
	// NodeName is this node's Kubernetes name; env NODE_NAME (set by the
	// downward API) when empty.
	NodeName string
	// TokenFile holds the bearer token, read again at each request (bound
	// service-account tokens rotate); DefaultTokenFile when empty, "none"
	// to send no token.
	TokenFile string
	// CAFile is the PEM bundle that verifies the server: for the API
	// server DefaultInClusterCA when empty, for the kubelet the system
	// roots when empty (kubelet serving certificates are often
	// self-signed: give their CA or set InsecureSkipVerify).
	CAFile             string
	InsecureSkipVerify bool

	// Refresh is the period of the full refresh of every source;
	// DefaultRefresh when zero or negative.
	Refresh time.Duration
	// CacheSize bounds the Resolver's cache; DefaultCacheSize when <= 0.
	CacheSize int
}

// DefaultConfig returns the defaults: Docker at its usual socket, no
// Kubernetes source.
func DefaultConfig() Config {
	return Config{
		DockerSocket: DefaultDockerSocket,
		PodmanSocket: DefaultPodmanSocket,
		TokenFile:    DefaultTokenFile,
		Refresh:      DefaultRefresh,
	}
}

// withDefaults fills what is left empty.
func (c Config) withDefaults() Config {
	if c.DockerSocket == "" {
		c.DockerSocket = DefaultDockerSocket
	}
	if c.PodmanSocket == "" {
		c.PodmanSocket = DefaultPodmanSocket
	}
	if c.NodeName == "" {
		c.NodeName = os.Getenv("NODE_NAME")
	}
	if c.TokenFile == "" {
		c.TokenFile = DefaultTokenFile
	}
	if c.Refresh <= 0 {
		c.Refresh = DefaultRefresh
	}
	return c
}

// source is one origin of names. run refreshes the store until ctx ends,
// once at start, every period, and after a kick (a cache miss), at most
// once per missGap.
type source interface {
	run(ctx context.Context, kick <-chan struct{})
	// wants reports whether a miss on this workload is worth a refresh.
	wants(w *Workload) bool
}

type sourceHandle struct {
	src  source
	kick chan struct{}
}

// Enricher resolves cgroup paths to workloads and fills in the names
// that metadata sources know. It is safe for concurrent use.
//
// Lookup is meant to be called once per process lifetime (from a procstat
// MetaHook); it never blocks on I/O. A container whose names are not yet
// known makes the sources refresh in the background (at most once a
// second each); the names then show through Name, which is cheap enough
// to call for every process or container at every tick.
type Enricher struct {
	res     *Resolver
	st      *store
	sources []sourceHandle
	missTTL time.Duration

	missMu sync.Mutex
	missed map[string]time.Time // container ID → when its miss last kicked the sources

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// maxTracked bounds the Enricher's per-container-ID bookkeeping (misses,
// pods of resolved containers); past it the map is cleared.
const maxTracked = 65536

// NewEnricher starts the metadata sources that cfg enables and can reach.
// Sources that are absent or down are logged once and never stop the
// agent: Lookup then returns what the cgroup path alone says. The sources
// stop when ctx ends or Close is called. logger may be nil.
func NewEnricher(ctx context.Context, cfg Config, logger *slog.Logger) *Enricher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	logger = logger.With("component", "container")
	e := &Enricher{
		res:     NewResolver(cfg.CacheSize),
		st:      newStore(),
		missTTL: cfg.Refresh,
		missed:  make(map[string]time.Time),
	}
	var srcs []source
	var podman *dockerSource
	if !sameSocket(cfg.PodmanSocket, cfg.DockerSocket) {
		podman = newDockerSource(RuntimePodman, cfg.PodmanSocket, cfg, e.st, logger.With("source", "podman"))
	}
	if s := newDockerSource(RuntimeDocker, cfg.DockerSocket, cfg, e.st, logger.With("source", "docker")); s != nil {
		s.podman = podman == nil
		srcs = append(srcs, s)
	}
	if podman != nil {
		srcs = append(srcs, podman)
	}
	if s := newKubeSource(cfg, e.st, logger); s != nil {
		srcs = append(srcs, s)
	}
	ctx, e.cancel = context.WithCancel(ctx)
	for _, s := range srcs {
		h := sourceHandle{src: s, kick: make(chan struct{}, 1)}
		e.sources = append(e.sources, h)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			h.src.run(ctx, h.kick)
		}()
	}
	return e
}

// sameSocket reports whether two socket paths name one file (podman's
// socket given as DockerSocket too, say through a symbolic link).
func sameSocket(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// Close stops the sources and waits for them.
func (e *Enricher) Close() error {
	e.cancel()
	e.wg.Wait()
	return nil
}

// Resolver returns the Enricher's resolver.
func (e *Enricher) Resolver() *Resolver { return e.res }

// Lookup returns the workload of a cgroup path with the names known now.
// It never returns nil and never blocks on I/O. For a container it
// returns a fresh copy that nobody modifies afterwards (names that arrive
// later show through Name, not in the copy); for services and plain
// processes a shared value. Treat the result as read-only.
func (e *Enricher) Lookup(cgroupPath string) *Workload {
	w := e.res.Resolve(cgroupPath)
	if w.Kind != KindContainer {
		return w
	}
	c := *w
	if c.PodUID != "" {
		e.st.notePod(c.ID, c.PodUID)
	}
	if !e.st.fill(&c) {
		e.miss(&c)
	}
	return &c
}

// Name returns the container, pod and namespace names of a container ID
// as the sources know them now; ok is false when nothing is known. For a
// container of a pod that the sources do not list yet (a pod's sandbox
// "pause" container, say), pod and namespace come from the pod's UID
// when an earlier Lookup saw it.
func (e *Enricher) Name(id string) (name, pod, namespace string, ok bool) {
	n, ok := e.st.get(id)
	return n.Name, n.Pod, n.Namespace, ok
}

// miss kicks the sources that may know w, once per container ID per
// refresh period.
func (e *Enricher) miss(w *Workload) {
	now := time.Now()
	e.missMu.Lock()
	if t, ok := e.missed[w.ID]; ok && now.Sub(t) < e.missTTL {
		e.missMu.Unlock()
		return
	}
	if len(e.missed) >= maxTracked {
		clear(e.missed)
	}
	e.missed[w.ID] = now
	e.missMu.Unlock()
	for _, h := range e.sources {
		if h.src.wants(w) {
			select {
			case h.kick <- struct{}{}:
			default: // a kick is already pending
			}
		}
	}
}

// refreshLoop calls refresh at start and every period (kicked false),
// and after a kick on either channel (kicked true), at most once per gap
// measured from the start of the previous refresh. A nil channel never
// kicks.
func refreshLoop(ctx context.Context, period, gap time.Duration, kick, kick2 <-chan struct{}, refresh func(ctx context.Context, kicked bool)) {
	refresh(ctx, false)
	last := time.Now()
	t := time.NewTicker(period)
	defer t.Stop()
	var pending <-chan time.Time
	for {
		kicked := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
			if pending == nil {
				pending = time.After(max(0, gap-time.Since(last)))
			}
			continue
		case <-kick2:
			if pending == nil {
				pending = time.After(max(0, gap-time.Since(last)))
			}
			continue
		case <-pending:
			pending, kicked = nil, true
		}
		last = time.Now()
		refresh(ctx, kicked)
	}
}

// health logs a source going down once, with a warning, and its return.
type health struct {
	mu   sync.Mutex
	log  *slog.Logger
	down bool
}

// fail records a failed attempt: a warning the first time, debug after.
func (h *health) fail(msg string, err error, args ...any) {
	h.mu.Lock()
	first := !h.down
	h.down = true
	h.mu.Unlock()
	args = append(args, "err", err)
	if first {
		h.log.Warn(msg, args...)
	} else {
		h.log.Debug(msg, args...)
	}
}

// ok records a successful attempt.
func (h *health) ok(msg string) {
	h.mu.Lock()
	was := h.down
	h.down = false
	h.mu.Unlock()
	if was {
		h.log.Info(msg)
	}
}

func (h *health) isDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down
}
