// Package otlp is the otlp exporter: it pushes every snapshot as
// OpenTelemetry metrics over OTLP (gRPC or HTTP) to a collector, with the
// OpenTelemetry Go SDK.
//
// Energy is a monotonic sum with cumulative temporality, in joules, read
// from the snapshot's totals; power a gauge in watts. Because every export
// carries the totals since start, an export that fails loses nothing: the
// next one that gets through carries what was measured meanwhile. So a
// collector that is down costs no tick: Export records the snapshot and
// collects it (no I/O), and Run, on its own goroutine, sends the latest
// collection, retrying with a backoff while the collector does not answer
// and dropping collections that a newer one supersedes.
//
// The split of the host's energy between processes keeps the Prometheus
// exporter's bounded cardinality: the top N processes have series of their
// own, the rest add up in "other", and unattributed and idle energy are
// series of their own, so that the consumers' series add up to the host's
// (ledger.go).
package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	pw "github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/version"
)

// Defaults.
const (
	DefaultTopN          = 20
	DefaultCmdlineLength = 256
	DefaultTimeout       = 10 * time.Second
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = 30 * time.Second
	// ShutdownTimeout bounds the last export and the exporter's shutdown
	// when the agent stops.
	ShutdownTimeout = 5 * time.Second
)

// ScopeName is the instrumentation scope of every metric.
const ScopeName = "github.com/wattlens/wattlens/internal/exporter/otlp"

// Options configure an Exporter.
type Options struct {
	// Client sends the metrics: an OTLP exporter of the SDK (NewClient)
	// or, in tests, a fake. Exporter owns it and shuts it down.
	Client sdkmetric.Exporter
	// Resource describes the host (host.name, service.name, …).
	Resource *resource.Resource
	// TopN is how many processes get series of their own, by energy over
	// the last step; 0 lists every process.
	TopN int
	// CmdlineLength bounds process.command_line, in bytes; 0 means
	// DefaultCmdlineLength.
	CmdlineLength int
	// Containers adds the container, pod and service metrics and the
	// container attributes of processes.
	Containers bool
	// Sensor names the sensor for wattlens.sensor.up before a snapshot
	// says it.
	Sensor string
	// Timeout bounds one export attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between two attempts while
	// exports fail; it doubles from the first to the second. 0 means the
	// defaults.
	MinBackoff, MaxBackoff time.Duration
	// Endpoint names the collector in log lines.
	Endpoint string
	Logger   *slog.Logger
}

// Exporter records snapshots (Export, on the sampler's goroutine) and sends
// them (Run, on its own).
type Exporter struct {
	opts     Options
	log      *slog.Logger
	provider *sdkmetric.MeterProvider
	reader   *sdkmetric.ManualReader
	inst     *instruments
	ledger   *ledger

	cur *view // read by the callback, within Collect, on Export's goroutine

	mu      sync.Mutex
	pending *metricdata.ResourceMetrics // the latest collection not yet sent
	wake    chan struct{}

	// Sender state, owned by Run.
	down      bool
	downSince time.Time
	failures  int
}

// New returns an Exporter that sends with opts.Client.
func New(opts Options) (*Exporter, error) {
	if opts.Client == nil {
		return nil, errors.New("otlp: no client")
	}
	if opts.TopN < 0 {
		return nil, fmt.Errorf("process top %d: give 0 (all) or more", opts.TopN)
	}
	if opts.CmdlineLength < 0 {
		return nil, fmt.Errorf("cmdline length %d: give 0 (default) or more", opts.CmdlineLength)
	}
	if opts.CmdlineLength == 0 {
		opts.CmdlineLength = DefaultCmdlineLength
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Resource == nil {
		opts.Resource = resource.Empty()
	}
	// Cumulative whatever the client prefers: the totals are what make a
	// failed export cost nothing.
	reader := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality {
		return metricdata.CumulativeTemporality
	}))
	x := &Exporter{
		opts:   opts,
		log:    opts.Logger,
		reader: reader,
		ledger: newLedger(opts.TopN, opts.CmdlineLength, opts.Containers),
		wake:   make(chan struct{}, 1),
	}
	x.provider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(opts.Resource))
	m := x.provider.Meter(ScopeName, metric.WithInstrumentationVersion(version.Version))
	var err error
	if x.inst, err = newInstruments(m); err != nil {
		return nil, err
	}
	if _, err := x.inst.register(m, func() *view { return x.cur }); err != nil {
		return nil, fmt.Errorf("otlp: callback: %w", err)
	}
	return x, nil
}

// Export records s, collects its metrics and hands them to Run. It does no
// I/O and never waits for the collector.
func (x *Exporter) Export(ctx context.Context, s *snapshot.Snapshot) error {
	if s == nil {
		return nil
	}
	x.cur = x.observe(s)
	rm := &metricdata.ResourceMetrics{}
	if err := x.reader.Collect(ctx, rm); err != nil {
		return fmt.Errorf("otlp: collect: %w", err)
	}
	stampPoints(rm, s.Time)
	x.mu.Lock()
	x.pending = rm
	x.mu.Unlock()
	select {
	case x.wake <- struct{}{}:
	default:
	}
	return nil
}

// observe records s into a view.
func (x *Exporter) observe(s *snapshot.Snapshot) *view {
	v := &view{snap: s, sensor: s.Sensor}
	if v.sensor == "" {
		v.sensor = x.opts.Sensor
	}
	if s.Seq == 0 {
		return v
	}
	v.measured = true
	v.procs, v.other, v.otherRes = x.ledger.processes(s)
	for r, t := range s.Resources.Host.Total {
		if t > 0 || r == pw.ResourceCPU.Index() {
			v.resources = append(v.resources, r)
		}
	}
	v.zones = make([]attribute.Set, len(s.Zones))
	for i := range s.Zones {
		v.zones[i] = zoneAttrs(&s.Zones[i])
	}
	if x.opts.Containers {
		for i := range s.Groups {
			g := &s.Groups[i]
			v.groups = append(v.groups, groupSeries{kind: g.Kind, attrs: groupAttrs(g), e: g.Energy, res: g.Resources})
		}
	}
	return v
}

// take returns the collection to send, if any, and forgets it.
func (x *Exporter) take() *metricdata.ResourceMetrics {
	x.mu.Lock()
	defer x.mu.Unlock()
	rm := x.pending
	x.pending = nil
	return rm
}

// putBack keeps rm for the next attempt unless Export gave a newer one.
func (x *Exporter) putBack(rm *metricdata.ResourceMetrics) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.pending == nil {
		x.pending = rm
	}
}

// Run sends what Export collects until ctx is done, then sends the last
// collection not yet sent and shuts the client down, within
// ShutdownTimeout. While exports fail it retries with a backoff that
// doubles from MinBackoff to MaxBackoff, always with the latest
// collection, and logs once when the collector stops answering and once
// when it answers again.
func (x *Exporter) Run(ctx context.Context) {
	defer x.shutdown()
	backoff := x.opts.MinBackoff
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.wake:
		}
		for {
			rm := x.take()
			if rm == nil {
				break
			}
			err := x.send(ctx, rm)
			if err == nil {
				x.recovered()
				backoff = x.opts.MinBackoff
				break
			}
			if ctx.Err() != nil {
				x.putBack(rm)
				return
			}
			x.failed(err, backoff)
			x.putBack(rm)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, x.opts.MaxBackoff)
		}
	}
}

func (x *Exporter) send(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	ctx, cancel := context.WithTimeout(ctx, x.opts.Timeout)
	defer cancel()
	return x.opts.Client.Export(ctx, rm)
}

func (x *Exporter) failed(err error, retry time.Duration) {
	x.failures++
	if x.down {
		x.log.Debug("otlp export failed again", "endpoint", x.opts.Endpoint, "attempts", x.failures, "retry_in", retry, "err", err)
		return
	}
	x.down, x.downSince = true, time.Now()
	x.log.Warn("otlp export failed; retrying with backoff, nothing measured meanwhile is lost",
		"endpoint", x.opts.Endpoint, "retry_in", retry, "err", err)
}

func (x *Exporter) recovered() {
	if x.down {
		x.log.Info("otlp export recovered", "endpoint", x.opts.Endpoint, "failed_attempts", x.failures,
			"down_for", time.Since(x.downSince).Round(time.Millisecond))
	}
	x.down, x.failures = false, 0
}

// shutdown sends the last collection not yet sent and shuts the client
// and the provider down.
func (x *Exporter) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if rm := x.take(); rm != nil {
		if err := x.opts.Client.Export(ctx, rm); err != nil {
			x.log.Warn("otlp: last export before stopping failed", "endpoint", x.opts.Endpoint, "err", err)
		}
	}
	if err := x.opts.Client.Shutdown(ctx); err != nil {
		x.log.Debug("otlp: client shutdown", "err", err)
	}
	// The reader was never given to the client: this only releases it.
	_ = x.provider.Shutdown(ctx)
}

// stampPoints dates every data point at t, the end of the interval the
// snapshot measured, rather than at the collection a little later: a
// sum's value is the energy up to that instant, so rates between two
// points are exact however late the tick ran. A zero t leaves the SDK's
// time.
func stampPoints(rm *metricdata.ResourceMetrics, t time.Time) {
	if t.IsZero() {
		return
	}
	for i := range rm.ScopeMetrics {
		for j := range rm.ScopeMetrics[i].Metrics {
			switch d := rm.ScopeMetrics[i].Metrics[j].Data.(type) {
			case metricdata.Sum[float64]:
				for k := range d.DataPoints {
					d.DataPoints[k].Time = t
					if t.Before(d.DataPoints[k].StartTime) {
						d.DataPoints[k].StartTime = t
					}
				}
			case metricdata.Gauge[float64]:
				for k := range d.DataPoints {
					d.DataPoints[k].Time = t
				}
			}
		}
	}
}
