package promexp

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Connection limits of the HTTP server.
const (
	// MaxConnectionsCeiling caps the default bound on open connections.
	MaxConnectionsCeiling = 1024
	// FDReserve is how many file descriptors the default bound leaves
	// to the agent itself (sensor files, procfs walks, container
	// sockets, the collector's own connections), out of RLIMIT_NOFILE.
	FDReserve = 256
	// maxRejecting bounds the connections being answered 503 at once;
	// beyond it they are closed unanswered. With the bound on open
	// connections it bounds the descriptors the listener can hold.
	maxRejecting = 64
	rejectWait   = time.Second
)

// DefaultMaxConnections is the bound on open connections for a process
// allowed nofile descriptors: half of what FDReserve leaves (the other
// half covers the connections being refused, the listeners and the
// slack), at most MaxConnectionsCeiling and at least 8, so that no
// number of clients can take the descriptors the sensors read with.
func DefaultMaxConnections(nofile uint64) int {
	if nofile <= FDReserve+16 {
		return 8
	}
	return int(min((nofile-FDReserve)/2, MaxConnectionsCeiling))
}

// connLimit bounds the connections open at once over all the server's
// listeners. Beyond max, a new connection is answered 503 and closed;
// from three quarters of max on, the server's idle keep-alive
// connections are closed (and keep-alive turned off) until the count is
// back under half, so that idle clients cannot keep out a scrape.
type connLimit struct {
	max       int
	active    atomic.Int64
	rejecting chan struct{}
	// keepAlive turns the server's keep-alive on or off (off closes its
	// idle connections): http.Server.SetKeepAlivesEnabled.
	keepAlive func(bool)
	shedding  atomic.Bool
	full      atomic.Bool
	log       *slog.Logger
}

func newConnLimit(max int, keepAlive func(bool), log *slog.Logger) *connLimit {
	return &connLimit{max: max, rejecting: make(chan struct{}, maxRejecting), keepAlive: keepAlive, log: log}
}

func (c *connLimit) wrap(l net.Listener) net.Listener { return &limitListener{Listener: l, c: c} }

// opened counts a new connection and says whether it may be served.
func (c *connLimit) opened() bool {
	n := c.active.Add(1)
	if n > int64(c.max) {
		c.active.Add(-1)
		if !c.full.Swap(true) {
			c.log.Warn("too many open connections; new ones are answered 503 (said once until it recovers)", "max_connections", c.max)
		}
		return false
	}
	if n >= int64(c.max)*3/4 && !c.shedding.Swap(true) {
		c.keepAlive(false)
	}
	return true
}

func (c *connLimit) closed() {
	n := c.active.Add(-1)
	if n <= int64(c.max)/2 {
		if c.shedding.Swap(false) {
			c.keepAlive(true)
		}
		if c.full.Swap(false) {
			c.log.Info("open connections back under the limit", "max_connections", c.max)
		}
	}
}

// reject answers a connection beyond the limit with 503 and closes it,
// within rejectWait; a TLS client (its first byte a handshake record) or
// one beyond maxRejecting is closed unanswered.
func (c *connLimit) reject(conn net.Conn) {
	select {
	case c.rejecting <- struct{}{}:
	default:
		_ = conn.Close()
		return
	}
	go func() {
		defer func() { <-c.rejecting }()
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(time.Now().Add(rejectWait))
		buf := make([]byte, 4096)
		n, _ := conn.Read(buf)
		if n == 0 || buf[0] == 0x16 {
			return
		}
		_, _ = io.WriteString(conn, reply503)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
}

// reply503 is the whole answer to a connection beyond the limit.
var reply503 = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\nRetry-After: 1\r\nContent-Length: " + strconv.Itoa(len(body503)) + "\r\n\r\n" + body503

const body503 = "too many open connections; retry later\n"

type limitListener struct {
	net.Listener
	c *connLimit
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.c.opened() {
			return &limitConn{Conn: conn, c: l.c}, nil
		}
		l.c.reject(conn)
	}
}

type limitConn struct {
	net.Conn
	c    *connLimit
	once sync.Once
}

// Close counts the connection out before closing it, so that a client
// that sees the connection end finds its slot free.
func (c *limitConn) Close() error {
	c.once.Do(c.c.closed)
	return c.Conn.Close()
}

// refusedConns closes a keep-alive connection as soon as it goes idle
// when none of its requests got through to the handler: every one was
// refused before it (basic auth's 401, the toolkit's rate limiter), so
// that refused clients do not hold a descriptor for IdleTimeout.
type refusedConns struct {
	mu     sync.Mutex
	served map[net.Conn]*atomic.Bool
}

type servedKey struct{}

func newRefusedConns() *refusedConns {
	return &refusedConns{served: map[net.Conn]*atomic.Bool{}}
}

// install hooks r into srv, whose handler must already be wrapped by
// r.mark.
func (r *refusedConns) install(srv *http.Server) {
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		b := &atomic.Bool{}
		r.mu.Lock()
		r.served[c] = b
		r.mu.Unlock()
		return context.WithValue(ctx, servedKey{}, b)
	}
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateIdle:
			r.mu.Lock()
			b := r.served[c]
			r.mu.Unlock()
			if b != nil && !b.Load() {
				_ = c.Close()
			}
		case http.StateClosed, http.StateHijacked:
			r.mu.Lock()
			delete(r.served, c)
			r.mu.Unlock()
		}
	}
}

// mark records that a request on its connection reached h.
func (r *refusedConns) mark(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if b, ok := req.Context().Value(servedKey{}).(*atomic.Bool); ok {
			b.Store(true)
		}
		h.ServeHTTP(w, req)
	})
}
