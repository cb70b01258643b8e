// Package redfish is the redfish sensor: the power of the whole server as
// its BMC measures it at the wall, read over the DMTF Redfish API
// (DSP0266; schemas DSP8010) with github.com/stmcginnis/gofish.
//
// It reads one chassis (the first that reports power, or --redfish.chassis):
//
//	/redfish/v1/Chassis/{id}/EnvironmentMetrics  PowerWatts.Reading            (Redfish 2020.4 and later)
//	/redfish/v1/Chassis/{id}/Power               PowerControl[].PowerConsumedWatts (deprecated, older BMCs)
//
// in that order of preference. The BMC gives power in watts, not energy:
// the sensor polls it in the background every Interval and integrates the
// samples into one cumulative energy zone (see meter), so a slow BMC never
// stalls a tick: Read only takes a lock and returns the counter.
//
// The zone is of kind power.KindWall: with it, attribution takes the
// BMC's figure as the host's, and RAPL or GPU zones read beside it stay
// visible as its parts.
//
// When the BMC stops answering, the zone keeps advancing at the last power
// the BMC gave, marked estimated once no sample is newer than StaleAfter;
// the first sample after the gap sets the energy of the gap to the
// trapezoid of the power before and after it (see meter). Before the first
// sample the sensor reads sensor.ErrNoReadingYet with the BMC's error.
package redfish

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/tlsfile"
	"github.com/wattlens/wattlens/internal/units"
)

// Name is the sensor's registry name.
const Name = "redfish"

// ZoneID is the ID of the sensor's one zone.
const ZoneID = "redfish"

// Defaults.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultInterval = 2 * time.Second
)

// maxPower bounds what a BMC may report; above it a reading is refused
// as garbage. It is the wall zone's ceiling (power.Ceiling).
var maxPower = power.Ceiling(power.KindWall)

// CapacityMargin is how far above the chassis's rated power (the PSUs'
// capacity, see capacityOf) a reading may go before it is refused: the
// rating is the supplies' output, the BMC measures their input, and a
// supply's efficiency at full load is above 80 % (80 PLUS), so 1.5 ×
// leaves room for losses and a short peak, and none for a reading a
// hundred times what the machine can draw.
const CapacityMargin = 1.5

// ceiling is the most a reading of smp may be: CapacityMargin × the
// chassis's rated power where the BMC gives it, else maxPower.
func ceiling(smp sample) (units.Power, string) {
	if smp.capacity > 0 {
		c := units.Power(float64(smp.capacity) * CapacityMargin)
		if c < maxPower {
			return c, fmt.Sprintf("%.1f × the chassis's rated %.0f W (Redfish Power: PowerCapacityWatts)", CapacityMargin, smp.capacity.Watts())
		}
	}
	return maxPower, "the ceiling of any wall meter"
}

// New returns the redfish sensor for opts.Redfish. It fails with
// sensor.ErrUnavailable when no endpoint is configured, and with a plain
// error when the configuration is wrong (credentials file unreadable, CA
// file unusable). A BMC that does not answer is not an error here: the
// sensor is set up, polls in the background and reads
// sensor.ErrNoReadingYet until the BMC gives its first figure. New waits
// for that first poll, up to the request timeout, so that a reachable BMC
// has a figure from the first tick.
func New(opts sensor.Options) (sensor.Sensor, error) {
	return newSensor(opts, time.Now, nil)
}

// Sensor reads one BMC.
type Sensor struct {
	cfg  sensor.RedfishOptions
	log  *slog.Logger
	now  func() time.Time
	poll *poller

	cancel context.CancelFunc
	first  chan struct{} // closed after the first poll
	done   chan struct{} // closed when the poller has stopped

	mu       sync.Mutex
	meter    meter
	lastOK   time.Time // time of the last good sample
	lastErr  error     // error of the last poll, nil when it worked
	method   string    // where the figure comes from
	chassis  string
	downFrom time.Time // when the BMC stopped answering; zero while up
}

// StaleAfter is how long after its last good sample the zone is marked
// estimated: three polls missed, or two plus a timeout.
func (s *Sensor) StaleAfter() time.Duration {
	return 2*s.cfg.Interval + max(s.cfg.Interval, s.cfg.Timeout)
}

// newSensor is New with an injected clock and HTTP client (tests).
func newSensor(opts sensor.Options, now func() time.Time, client *http.Client) (*Sensor, error) {
	cfg := opts.Redfish
	if cfg.Endpoint == "" {
		return nil, fmt.Errorf("%w: no BMC configured: give --redfish.endpoint https://<bmc> and --redfish.credentials-file", sensor.ErrUnavailable)
	}
	if !strings.HasPrefix(cfg.Endpoint, "https://") && !strings.HasPrefix(cfg.Endpoint, "http://") {
		return nil, fmt.Errorf("redfish endpoint %q: want https://<bmc>", cfg.Endpoint)
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("sensor", Name)
	if cfg.CredentialsFile == "" {
		return nil, errors.New("redfish: no --redfish.credentials-file: the BMC's user and password are read from a file, never from the command line")
	}
	creds, mode, err := ReadCredentials(cfg.CredentialsFile)
	if err != nil {
		return nil, err
	}
	if TooOpen(mode) {
		log.Warn(fmt.Sprintf("permissions %04o for %s are too open: the bmc password is readable by group or others; chmod 600 it", uint32(mode), cfg.CredentialsFile),
			"file", cfg.CredentialsFile, "mode", fmt.Sprintf("%04o", uint32(mode)))
	}
	if client == nil {
		client, err = httpClient(cfg)
		if err != nil {
			return nil, err
		}
	}
	if client, err = guard(client, cfg.Endpoint); err != nil {
		return nil, err
	}
	if cfg.InsecureSkipVerify {
		log.Warn("tls certificate verification of the bmc is off", "endpoint", cfg.Endpoint)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sensor{
		cfg: cfg, log: log, now: now, cancel: cancel, first: make(chan struct{}), done: make(chan struct{}),
		poll: &poller{endpoint: cfg.Endpoint, chassisID: cfg.Chassis, creds: creds, client: client, ctx: ctx},
	}
	// Half the ceiling: well within what the sampler accepts of the zone.
	s.meter.maxRate = maxPower / 2
	go s.run(ctx)
	wait := time.NewTimer(cfg.Timeout)
	defer wait.Stop()
	select {
	case <-s.first:
	case <-wait.C:
	}
	return s, nil
}

// httpClient is the client for the BMC: TLS verified unless told not to,
// against the system's roots or CAFile, every request within Timeout.
func httpClient(cfg sensor.RedfishOptions) (*http.Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // off only by --redfish.insecure-skip-verify
	if cfg.CAFile != "" {
		pool, err := tlsfile.CAPool(cfg.CAFile)
		if errors.Is(err, tlsfile.ErrNoPEM) {
			return nil, fmt.Errorf("redfish ca file %s: %w", cfg.CAFile, err)
		}
		if err != nil {
			return nil, fmt.Errorf("redfish ca file: %w", err)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 2
	return &http.Client{Transport: tr, Timeout: cfg.Timeout}, nil
}

// run polls at once, then every Interval until ctx ends. A poll that
// overruns the interval delays the next one; polls never pile up.
func (s *Sensor) run(ctx context.Context) {
	defer close(s.done)
	s.pollOnce()
	close(s.first)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.pollOnce()
		}
	}
}

// pollOnce asks the BMC once and records the answer.
func (s *Sensor) pollOnce() {
	start := s.now()
	smp, err := s.poll.fetch()
	end := s.now()
	if err == nil {
		if c, why := ceiling(smp); smp.power > c {
			err = fmt.Errorf("bmc reports %.0f W, more than %.0f W (%s): reading refused", smp.power.Watts(), c.Watts(), why)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.lastErr == nil {
			s.downFrom = end
			s.log.Warn("no figure from the bmc; the wall power is held at its last figure and marked estimated until it gives one",
				"endpoint", s.cfg.Endpoint, "err", err)
		}
		s.lastErr = err
		return
	}
	if s.lastErr != nil && !s.downFrom.IsZero() {
		s.log.Info("bmc answers again; the gap is integrated between the powers before and after it",
			"endpoint", s.cfg.Endpoint, "gap", end.Sub(s.downFrom).Round(time.Millisecond))
	}
	// The BMC's figure is taken at the middle of the request.
	at := start.Add(end.Sub(start) / 2)
	s.meter.sample(at, smp.power)
	s.lastOK, s.lastErr, s.downFrom = at, nil, time.Time{}
	s.method, s.chassis = smp.method, smp.chassis
}

// Name implements sensor.Sensor.
func (s *Sensor) Name() string { return Name }

// Read implements sensor.Sensor. It never waits for the BMC.
func (s *Sensor) Read() (power.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e, ok := s.meter.read(now)
	if !ok {
		why := "no answer yet"
		if s.lastErr != nil {
			why = s.lastErr.Error()
		}
		return power.Reading{}, fmt.Errorf("redfish %s: %w: %s", s.cfg.Endpoint, sensor.ErrNoReadingYet, why)
	}
	src := power.Measured
	if now.Sub(s.lastOK) > s.StaleAfter() {
		src = power.Estimated
	}
	return power.Reading{Zones: []power.Zone{{
		ID: ZoneID, Kind: power.KindWall, Socket: -1, Name: "redfish", Energy: e, Source: src,
	}}}, nil
}

// Status says how the BMC is doing: the time of the last good sample
// (zero when none) and the error of the last poll (nil when it worked).
func (s *Sensor) Status() (lastOK time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastOK, s.lastErr
}

// Method implements sensor.Describer.
func (s *Sensor) Method() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.method == "" {
		return fmt.Sprintf("redfish: %s, no figure yet", s.cfg.Endpoint)
	}
	return fmt.Sprintf("redfish: %s chassis %s %s, polled every %s, power integrated over time",
		s.cfg.Endpoint, s.chassis, s.method, s.cfg.Interval)
}

// Close implements sensor.Closer: it stops the poller and waits for it.
func (s *Sensor) Close() error {
	s.cancel()
	<-s.done
	return nil
}
