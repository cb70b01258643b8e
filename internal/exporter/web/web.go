// Package web is the live page: host power, its zones, idle, the
// unattributed energy and the top processes, containers, pods and VMs,
// updated at every tick without reloading, and a chart of the last
// minutes. The prometheus command serves it at "/" beside /metrics; the
// web command serves it alone.
//
// The Hub is an exporter.Exporter: the sampler hands it every snapshot,
// it encodes the snapshot once (the json exporter's record, see Record)
// and pushes the bytes to the browsers that follow /api/stream
// (Server-Sent Events). Export never waits on a browser: each follower
// has a small buffer, one that falls behind is dropped (its browser
// reconnects by itself), and the number of followers is bounded. So no
// browser, however slow, can delay a tick.
//
// Routes (Handler): / (the page), /app.js, /app.css, /api/snapshot (the
// latest Record), /api/history (the chart's points), /api/stream. All
// assets are embedded: the page works with no network.
package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/exporter/jsonexp"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// Defaults of Options.
const (
	DefaultTopN       = 10
	DefaultMaxClients = 32
	DefaultHistory    = 5 * time.Minute
	DefaultBuffer     = 4
	// maxPoints bounds the history whatever the step (5 min at 500 ms).
	maxPoints = 600
	// pingEvery keeps proxies from closing a quiet stream (a long step).
	pingEvery = 15 * time.Second
	// writeTimeout bounds one write to a browser.
	writeTimeout = 10 * time.Second
)

// Options configure a Hub.
type Options struct {
	// TopN is the number of processes, containers, pods and VMs listed;
	// DefaultTopN when 0 or less.
	TopN int
	// MaxClients bounds the browsers that follow the stream at once; more
	// get 503. DefaultMaxClients when 0 or less.
	MaxClients int
	// History is how far back the chart goes; DefaultHistory when 0 or
	// less.
	History time.Duration
	// Buffer is the number of ticks a follower may fall behind before it
	// is dropped; DefaultBuffer when 0 or less.
	Buffer int
	// Containers and Names are those of jsonexp.Options: with Containers
	// the record carries the containers, pods and services.
	Containers bool
	Names      container.NameFunc
	// MetricsPath, when set, is linked from the page (the prometheus
	// command's /metrics).
	MetricsPath string
	// Version is shown in the page's footer.
	Version string
	// Logger receives the hub's few events (a follower dropped).
	Logger *slog.Logger
}

// message is one tick, encoded once for every reader.
type message struct {
	seq  uint64
	data []byte // a Record as JSON, one line without newline
}

// client is one browser following the stream.
type client struct {
	ch chan *message
}

// Hub receives snapshots and serves them to browsers. Its methods are
// safe for concurrent use; Export is called from the sampler's goroutine.
type Hub struct {
	opts   Options
	log    *slog.Logger
	latest atomic.Pointer[message]

	mu      sync.Mutex
	history []Point // oldest first
	clients map[*client]struct{}
	closed  bool
	done    chan struct{}

	dropped atomic.Uint64
}

// New returns a hub with no snapshot yet.
func New(opts Options) *Hub {
	if opts.TopN <= 0 {
		opts.TopN = DefaultTopN
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{opts: opts, log: log.With("exporter", "web"), clients: map[*client]struct{}{}, done: make(chan struct{})}
}

// Export implements exporter.Exporter: it encodes s once, keeps it as the
// latest, adds its point to the history and hands it to every follower
// that has room; a follower that has none is dropped. It never blocks on
// a browser.
func (h *Hub) Export(_ context.Context, s *snapshot.Snapshot) error {
	rec := newRecord(s, jsonexp.Options{MaxConsumers: h.opts.TopN, Containers: h.opts.Containers, Names: h.opts.Names}, h.opts.TopN)
	data, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("web: encode: %w", err)
	}
	m := &message{seq: s.Seq, data: data}
	h.latest.Store(m)

	h.mu.Lock()
	defer h.mu.Unlock()
	h.addPoint(rec.Point)
	for c := range h.clients {
		select {
		case c.ch <- m:
		default:
			// Too slow: drop it rather than wait or queue without end.
			delete(h.clients, c)
			close(c.ch)
			h.dropped.Add(1)
			h.log.Info("live page follower too slow; dropped", "buffer", h.opts.Buffer)
		}
	}
	return nil
}

// addPoint appends p and forgets the points older than the history
// window, and the oldest past maxPoints. h.mu is held.
func (h *Hub) addPoint(p Point) {
	h.history = append(h.history, p)
	cut := 0
	for cut < len(h.history) && (pointAge(h.history[cut], p.Time) > h.opts.History || len(h.history)-cut > maxPoints) {
		cut++
	}
	if cut > 0 {
		h.history = append(h.history[:0], h.history[cut:]...)
	}
}

// History returns a copy of the chart's points, oldest first.
func (h *Hub) History() []Point {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Point, len(h.history))
	copy(out, h.history)
	return out
}

// subscribe adds a follower, or returns false when there are MaxClients
// already or the hub is closed.
func (h *Hub) subscribe() (*client, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.clients) >= h.opts.MaxClients {
		return nil, false
	}
	c := &client{ch: make(chan *message, h.opts.Buffer)}
	h.clients[c] = struct{}{}
	return c, true
}

// unsubscribe removes c if Export has not dropped it already.
func (h *Hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.ch)
	}
}

// Clients returns the number of browsers following the stream now.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Dropped returns the number of followers dropped for being too slow.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Close ends every stream and refuses new ones, so that a server's
// Shutdown, which waits for connections to go idle, is not held up by
// streams that never end. Call it when the serving context is done.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.done)
	for c := range h.clients {
		delete(h.clients, c)
		close(c.ch)
	}
}
