// Package push is the prometheus-push exporter: it pushes the prometheus
// exporter's metric set to a Pushgateway after every tick, with PUT
// (replace) semantics, so the gateway always holds one coherent snapshot
// per grouping key.
//
// Pushing never holds up measuring: the sampler only signals that a new
// snapshot is there, and a goroutine pushes the latest one. A gateway that
// is down or slow gets retries with backoff within one step; then a
// warning is logged and the next step tries again with the figures of
// that moment, so nothing measured is lost.
package push

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	pgw "github.com/prometheus/client_golang/prometheus/push"

	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/tlsfile"
)

// Defaults.
const (
	DefaultJob     = "wattlens"
	DefaultStep    = 15 * time.Second
	DefaultTimeout = 5 * time.Second
)

// Backoff between the retries of one push.
const (
	firstBackoff = 250 * time.Millisecond
	maxBackoff   = 4 * time.Second
)

// Options configure a Pusher.
type Options struct {
	// URL is the Pushgateway's base URL, e.g. http://gateway:9091.
	URL string
	// Job is the job grouping label.
	Job string
	// Grouping holds the other grouping labels (instance, …).
	Grouping map[string]string
	// Username and Password, when Username is set, are sent as HTTP
	// basic auth.
	Username, Password string
	// TLS is the client's TLS configuration; nil for the defaults.
	TLS *tls.Config
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Budget bounds one push with its retries, normally the step.
	Budget time.Duration
	Logger *slog.Logger
}

// TLSOptions are the --push.* TLS flags.
type TLSOptions struct {
	CAFile             string
	CertFile, KeyFile  string
	InsecureSkipVerify bool
}

// Config returns the TLS configuration the options describe, or nil when
// they ask for nothing special.
func (o TLSOptions) Config() (*tls.Config, error) {
	if o.CAFile == "" && o.CertFile == "" && o.KeyFile == "" && !o.InsecureSkipVerify {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // the user asked for it
	if o.CAFile != "" {
		pool, err := tlsfile.CAPool(o.CAFile)
		if errors.Is(err, tlsfile.ErrNoPEM) {
			return nil, fmt.Errorf("CA file %s: %w", o.CAFile, err)
		}
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("client certificate and key go together: give both files or neither")
	}
	if o.CertFile != "" {
		cert, err := tlsfile.KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Pusher pushes a gatherer's metrics to a Pushgateway.
type Pusher struct {
	opts   Options
	where  string // the URL for log lines, its password replaced
	pusher *pgw.Pusher
	log    *slog.Logger
	kick   chan struct{}

	// failing counts the pushes in a row that failed, for the log.
	failing int
	// delivered counts the pushes the gateway accepted.
	delivered atomic.Int64
}

// Delivered is how many pushes the gateway has accepted so far, the last
// one at stop included.
func (p *Pusher) Delivered() int64 { return p.delivered.Load() }

// New checks the options and returns a Pusher of g's metrics.
func New(g prometheus.Gatherer, o Options) (*Pusher, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("pushgateway url %q: want http(s)://host:port", o.URL)
	}
	if o.Job == "" {
		o.Job = DefaultJob
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Budget <= 0 {
		o.Budget = DefaultStep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = o.TLS
	client := &http.Client{Transport: transport, Timeout: o.Timeout}
	p := pgw.New(strings.TrimRight(o.URL, "/"), o.Job).Gatherer(g).Client(client)
	for _, k := range slices.Sorted(maps.Keys(o.Grouping)) {
		if k == "job" {
			return nil, errors.New("grouping label job: use --job")
		}
		if o.Grouping[k] == "" {
			return nil, fmt.Errorf("grouping label %s has an empty value", k)
		}
		p = p.Grouping(k, o.Grouping[k])
	}
	if o.Username != "" {
		p = p.BasicAuth(o.Username, o.Password)
	}
	if err := p.Error(); err != nil {
		return nil, err
	}
	return &Pusher{opts: o, where: u.Redacted(), pusher: p, log: o.Logger, kick: make(chan struct{}, 1)}, nil
}

// Export signals that a new snapshot is there; it never blocks. The
// metrics themselves come from the gatherer (the prometheus collector,
// which received the snapshot before).
func (p *Pusher) Export(_ context.Context, _ *snapshot.Snapshot) error {
	select {
	case p.kick <- struct{}{}:
	default: // a push is pending: it will carry the latest figures
	}
	return nil
}

// Run pushes after each Export until ctx is done, then makes a last push
// (bounded by the attempt timeout) so the gateway holds the final
// counters.
func (p *Pusher) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
			if err := p.pusher.PushContext(final); err != nil {
				p.log.Warn("last push failed", "url", p.where, "err", err)
			} else {
				p.delivered.Add(1)
			}
			cancel()
			return
		case <-p.kick:
			pctx, cancel := context.WithTimeout(ctx, p.opts.Budget)
			p.report(p.Push(pctx))
			cancel()
		}
	}
}

// Push pushes the current metrics, retrying with backoff until it
// succeeds or ctx is done; it returns the last error and the attempts
// made.
func (p *Pusher) Push(ctx context.Context) Result {
	backoff := firstBackoff
	var r Result
	for {
		r.Attempts++
		r.Err = p.pusher.PushContext(ctx)
		if r.Err == nil {
			p.delivered.Add(1)
			return r
		}
		wait := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			wait.Stop()
			return r
		case <-wait.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// Result is how a push went.
type Result struct {
	Attempts int
	Err      error
}

// report logs a failed push once when the failures start and every tenth
// one after that, and the recovery.
func (p *Pusher) report(r Result) {
	if r.Err == nil {
		if p.failing > 0 {
			p.log.Info("push works again", "url", p.where, "failed_pushes", p.failing)
		}
		p.failing = 0
		return
	}
	p.failing++
	if p.failing == 1 || p.failing%10 == 0 {
		p.log.Warn("push failed; measuring goes on and the next push carries the latest counters",
			"url", p.where, "attempts", r.Attempts, "failed_pushes", p.failing, "err", r.Err)
	}
}
