package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"time"
)

//go:embed assets
var assets embed.FS

// asset is one embedded file and its Content-Type.
type asset struct {
	body  []byte
	ctype string
}

// securityHeaders keep the page to its own assets: no script, style or
// connection leaves the agent (the page works with no network).
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// Handler serves the page and its API. Unknown paths get 404, so it can be
// mounted at "/" beside other handlers.
func (h *Hub) Handler() (http.Handler, error) {
	index, err := h.renderIndex()
	if err != nil {
		return nil, err
	}
	files := map[string]asset{}
	for name, ctype := range map[string]string{"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"} {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		files[name] = asset{body: b, ctype: ctype}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", serveAsset(asset{body: index, ctype: "text/html; charset=utf-8"}))
	for name, a := range files {
		mux.Handle("GET /"+name, serveAsset(a))
	}
	mux.HandleFunc("GET /api/snapshot", h.serveSnapshot)
	mux.HandleFunc("GET /api/history", h.serveHistory)
	mux.HandleFunc("GET /api/stream", h.serveStream)
	return mux, nil
}

// renderIndex fills the page's template once.
func (h *Hub) renderIndex() ([]byte, error) {
	tmpl, err := template.ParseFS(assets, "assets/index.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	var buf bytes.Buffer
	data := struct {
		MetricsPath, Version string
		HistoryMinutes       float64
	}{h.opts.MetricsPath, h.opts.Version, h.opts.History.Minutes()}
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	return buf.Bytes(), nil
}

func serveAsset(a asset) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		securityHeaders(w)
		w.Header().Set("Content-Type", a.ctype)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
		_, _ = w.Write(a.body)
	})
}

// serveSnapshot serves the latest Record; 503 before the first tick.
func (h *Hub) serveSnapshot(w http.ResponseWriter, _ *http.Request) {
	securityHeaders(w)
	m := h.latest.Load()
	if m == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "no measurement yet", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, m.data)
}

// serveHistory serves the chart's points, oldest first.
func (h *Hub) serveHistory(w http.ResponseWriter, _ *http.Request) {
	securityHeaders(w)
	b, err := json.Marshal(h.History())
	if err != nil {
		http.Error(w, "encoding the history", http.StatusInternalServerError)
		return
	}
	writeJSON(w, b)
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// serveStream follows the hub as Server-Sent Events: one "snapshot" event
// per tick, its id the tick's sequence number and its data a Record on
// one line, the latest one first; a comment line every pingEvery keeps
// proxies from closing a quiet stream. It ends when the browser goes, when
// the browser falls too far behind (it reconnects after the retry delay),
// or when the hub closes.
func (h *Hub) serveStream(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	c, ok := h.subscribe()
	if !ok {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many live page clients", http.StatusServiceUnavailable)
		return
	}
	defer h.unsubscribe(c)
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	var last uint64
	send := func(write func(io.Writer) error) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		if write(w) != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The browser waits 2 s before it reconnects.
	first := func(w io.Writer) error {
		if _, err := io.WriteString(w, "retry: 2000\n\n"); err != nil {
			return err
		}
		if m := h.latest.Load(); m != nil {
			last = m.seq
			return writeEvent(w, m)
		}
		return nil
	}
	if !send(first) {
		return
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case m, ok := <-c.ch:
			if !ok {
				return // dropped, or the hub closed
			}
			if m.seq <= last {
				continue // already sent as the first event
			}
			last = m.seq
			if !send(func(w io.Writer) error { return writeEvent(w, m) }) {
				return
			}
		case <-ping.C:
			if !send(func(w io.Writer) error { _, err := io.WriteString(w, ": ping\n\n"); return err }) {
				return
			}
		}
	}
}

// writeEvent writes one SSE event. The data is compact JSON: it holds no
// newline (encoding/json escapes those inside strings), so one data line
// carries it.
func writeEvent(w io.Writer, m *message) error {
	_, err := fmt.Fprintf(w, "id: %d\nevent: snapshot\ndata: %s\n\n", m.seq, m.data)
	return err
}
