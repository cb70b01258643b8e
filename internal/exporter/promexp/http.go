package promexp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/wattlens/wattlens/internal/version"
)

// DefaultListenAddress is where the exporter listens unless told
// otherwise. The exporter port range of the Prometheus wiki's "Default
// port allocations" (9100-9999) is fully allocated, and 8080 is
// Scaphandre's (and everyone's): 29288 is outside both, below the
// ephemeral range, and spells WATT on a phone keypad after a 2.
const DefaultListenAddress = ":29288"

// DefaultMetricsPath is the default --web.telemetry-path.
const DefaultMetricsPath = "/metrics"

// DefaultMaxWait is how long a scrape waits for its turn when
// MaxRequests are being served: Prometheus's default scrape timeout.
const DefaultMaxWait = 10 * time.Second

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	// MetricsPath is where the metrics are served; DefaultMetricsPath
	// when empty.
	MetricsPath string
	// MaxRequests bounds the scrapes served at once (0: no bound); more
	// wait for one of them to end, up to MaxWait, then get 503.
	MaxRequests int
	// MaxWait is how long a scrape beyond MaxRequests waits for its turn;
	// DefaultMaxWait when 0.
	MaxWait time.Duration
	// NoExporterMetrics leaves out the promhttp_* metrics about the
	// handler itself (--web.disable-exporter-metrics).
	NoExporterMetrics bool
	// Logger receives the errors met while serving a scrape.
	Logger *slog.Logger
	// Root, when set, serves every path but the metrics path in place of
	// the landing page (the live page, which links to the metrics itself).
	Root http.Handler
}

// NewHandler serves reg's metrics at the metrics path, with the Content-Type
// each format needs and OpenMetrics when the scraper asks for it, and at
// "/" o.Root, or else a landing page that links to the metrics.
func NewHandler(reg *prometheus.Registry, o HandlerOptions) (http.Handler, error) {
	path := o.MetricsPath
	if path == "" {
		path = DefaultMetricsPath
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("metrics path %q must start with /", path)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := promhttp.HandlerOpts{
		ErrorLog:          promLogger{log},
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	}
	if !o.NoExporterMetrics {
		opts.Registry = reg
	}
	metrics := promhttp.HandlerFor(reg, opts)
	if !o.NoExporterMetrics {
		metrics = promhttp.InstrumentMetricHandler(reg, metrics)
	}
	if o.MaxRequests > 0 {
		wait := o.MaxWait
		if wait <= 0 {
			wait = DefaultMaxWait
		}
		metrics = queue(metrics, o.MaxRequests, wait)
	}
	mux := http.NewServeMux()
	mux.Handle(path, metrics)
	switch {
	case path == "/":
	case o.Root != nil:
		mux.Handle("/", o.Root)
	default:
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "wattlens",
			Description: "How many watts this machine draws, and who draws them.",
			Version:     version.String(),
			Profiling:   "false",
			Links: []web.LandingLinks{
				{Address: path, Text: "Metrics", Description: "Host, zone, process and VM energy (joules) and power (watts)."},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}

// queue serves at most n requests at once through h. One beyond them
// waits for a turn, until its client gives up or wait passes, and then
// gets 503 Service Unavailable. A burst of scrapes is answered, not
// refused (promhttp's own limit refuses the excess at once), while the
// memory of the scrapes rendered at once stays bounded.
func queue(h http.Handler, n int, wait time.Duration) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		default:
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case slots <- struct{}{}:
			case <-t.C:
				http.Error(w, fmt.Sprintf("more than %d scrapes at once for %s", n, wait), http.StatusServiceUnavailable)
				return
			case <-r.Context().Done():
				return
			}
		}
		defer func() { <-slots }()
		h.ServeHTTP(w, r)
	})
}

// promLogger hands promhttp's errors to slog.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Warn("serving metrics", "err", strings.TrimSpace(fmt.Sprintln(v...)))
}

// ServeOptions bound the server.
type ServeOptions struct {
	// MaxConnections bounds the connections open at once (beyond it a
	// new one gets 503); 0 means DefaultMaxConnections(8192).
	MaxConnections int
	// Hosts, when set, guards every path but the metrics path against
	// DNS rebinding.
	Hosts *HostCheck
	// MetricsPath is left out of the Host check.
	MetricsPath string
}

// Server timeouts: a client has ReadHeaderTimeout to send its request's
// headers, and a keep-alive connection idle for IdleTimeout is closed.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 30 * time.Second
)

// ServeOn serves h on the listeners ls that Listen opened for flags, with
// the TLS and basic-auth settings of flags (the exporter toolkit's --web.*
// flags), until ctx is done, then shuts the server down. The connections
// open at once on ls are bounded by o.MaxConnections. With no listeners
// (systemd socket activation, a vsock address) the toolkit listens itself,
// unbounded. It returns early with an error when it cannot serve.
func ServeOn(ctx context.Context, ls []net.Listener, h http.Handler, flags *web.FlagConfig, o ServeOptions, log *slog.Logger) error {
	refused := newRefusedConns()
	h = refused.mark(h)
	if o.Hosts != nil {
		h = o.Hosts.Wrap(h, o.MetricsPath)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout}
	refused.install(srv)
	max := o.MaxConnections
	if max <= 0 {
		max = DefaultMaxConnections(8192)
	}
	if len(ls) == 0 {
		log.Warn("the bound on open connections applies to TCP listeners only; not applied", "max_connections", max)
	} else {
		limit := newConnLimit(max, srv.SetKeepAlivesEnabled, log)
		for i := range ls {
			ls[i] = limit.wrap(ls[i])
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- serveListeners(ls, srv, flags, log) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
