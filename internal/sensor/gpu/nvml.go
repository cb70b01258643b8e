//go:build cgo

package gpu

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/model"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

// New returns the gpu sensor. It fails with sensor.ErrUnavailable when
// libnvidia-ml.so.1 cannot be loaded, NVML does not start, or no GPU gives
// an energy or power reading; and with sensor.ErrPermission when NVML
// says this user may not use the GPUs.
func New(opts sensor.Options) (sensor.Sensor, error) {
	return newSensor(nvml.New(), opts.Logger, time.Now)
}

type device struct {
	zone   power.Zone
	model  string
	handle nvml.Device

	energyCounter bool                // GetTotalEnergyConsumption works
	power         *counter.Integrator // else: GetPowerUsage (or the estimate) integrated
	estimate      *curve              // neither works: power from utilisation and the board's limit

	procUtil bool   // GetProcessUtilization works
	lastSeen uint64 // newest process sample timestamp seen (µs)
}

type gpuSensor struct {
	lib nvml.Interface
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	devices []*device
	shares  map[string]Shares
	closed  bool
}

// newSensor starts NVML through lib and finds every usable device.
func newSensor(lib nvml.Interface, logger *slog.Logger, now func() time.Time) (*gpuSensor, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("sensor", Name)
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return nil, initError(ret)
	}
	s := &gpuSensor{lib: lib, now: now, log: log, shares: map[string]Shares{}}
	if err := s.discover(); err != nil {
		if ret := lib.Shutdown(); ret != nvml.SUCCESS {
			err = errors.Join(err, fmt.Errorf("nvml shutdown: %w", ret))
		}
		return nil, err
	}
	return s, nil
}

func initError(ret nvml.Return) error {
	switch ret {
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return fmt.Errorf("%w: libnvidia-ml.so.1 not found: no NVIDIA driver installed", sensor.ErrUnavailable)
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return fmt.Errorf("%w: the NVIDIA kernel driver is not loaded", sensor.ErrUnavailable)
	case nvml.ERROR_NO_PERMISSION:
		return fmt.Errorf("%w: nvml init: %w: grant access to /dev/nvidia*", sensor.ErrPermission, ret)
	}
	return fmt.Errorf("%w: nvml init: %w", sensor.ErrUnavailable, ret)
}

func (s *gpuSensor) discover() error {
	n, ret := s.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return fmt.Errorf("%w: nvml device count: %w", sensor.ErrUnavailable, ret)
	}
	if n == 0 {
		return fmt.Errorf("%w: NVML sees no NVIDIA GPU", sensor.ErrUnavailable)
	}
	for i := range n {
		d, err := s.probe(i)
		if err != nil {
			s.log.Debug("gpu without energy or power reading, skipped", "index", i, "err", err)
			continue
		}
		s.devices = append(s.devices, d)
	}
	if len(s.devices) == 0 {
		return fmt.Errorf("%w: none of %d NVIDIA GPUs reports energy or power", sensor.ErrUnavailable, n)
	}
	return nil
}

// probe opens device i and decides how to read it.
func (s *gpuSensor) probe(i int) (*device, error) {
	h, ret := s.lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("handle: %w", ret)
	}
	uuid, _ := h.GetUUID() // best effort: only names the zone
	model, _ := h.GetName()
	d := &device{
		zone: power.Zone{
			ID:     fmt.Sprintf("gpu:%d", i),
			Kind:   power.KindGPU,
			Socket: -1,
			Name:   uuid,
			Source: power.Measured,
		},
		model:  model,
		handle: h,
	}
	if _, ret := h.GetTotalEnergyConsumption(); ret == nvml.SUCCESS {
		d.energyCounter = true
	} else if p, ret2 := h.GetPowerUsage(); ret2 == nvml.SUCCESS {
		d.power = &counter.Integrator{}
		d.power.Add(s.now(), units.Power(p)*units.Milliwatt)
	} else {
		c, err := newCurve(h)
		if err != nil {
			return nil, fmt.Errorf("total energy: %w; power usage: %w; no estimate either: %w", ret, ret2, err)
		}
		w, err := c.watts(h)
		if err != nil {
			return nil, err
		}
		d.estimate, d.zone.Source = c, power.Estimated
		d.power = &counter.Integrator{}
		d.power.Add(s.now(), w)
	}
	// Prime the process sample cursor so the first interval starts now.
	if samples, ok := processSamples(h, 0); ok {
		d.procUtil = true
		_, d.lastSeen = sharesOf(samples, 0)
	}
	return d, nil
}

// processSamples reads the per-process utilisation samples newer than
// after. ok is false when the device cannot report them.
func processSamples(h nvml.Device, after uint64) ([]utilSample, bool) {
	raw, ret := h.GetProcessUtilization(after)
	switch ret {
	case nvml.SUCCESS, nvml.ERROR_NOT_FOUND:
		// ERROR_NOT_FOUND: no sample newer than after.
	case nvml.ERROR_INSUFFICIENT_SIZE:
		// go-nvml returns this, with no samples, when NVML counted none.
		if len(raw) != 0 {
			return nil, false
		}
	default:
		return nil, false
	}
	out := make([]utilSample, len(raw))
	for i, r := range raw {
		out[i] = utilSample{pid: int(r.Pid), ts: r.TimeStamp, sm: r.SmUtil}
	}
	return out, true
}

// Name implements sensor.Sensor.
func (s *gpuSensor) Name() string { return Name }

// Read implements sensor.Sensor. It also recomputes the process shares of
// the interval since the previous Read.
func (s *gpuSensor) Read() (power.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	zones := make([]power.Zone, 0, len(s.devices))
	for _, d := range s.devices {
		if err := s.readEnergy(d); err != nil {
			return power.Reading{}, fmt.Errorf("gpu %s: %w", d.zone.ID, err)
		}
		zones = append(zones, d.zone)
	}
	shares := make(map[string]Shares, len(s.devices))
	for _, d := range s.devices {
		if !d.procUtil {
			continue
		}
		samples, ok := processSamples(d.handle, d.lastSeen)
		if !ok {
			continue
		}
		shares[d.zone.ID], d.lastSeen = sharesOf(samples, d.lastSeen)
	}
	s.shares = shares
	return power.Reading{Zones: zones}, nil
}

func (s *gpuSensor) readEnergy(d *device) error {
	if d.energyCounter {
		mj, ret := d.handle.GetTotalEnergyConsumption()
		if ret != nvml.SUCCESS {
			return fmt.Errorf("total energy: %w", ret)
		}
		d.zone.Energy = units.Energy(mj) * units.Millijoule
		return nil
	}
	if d.estimate != nil {
		w, err := d.estimate.watts(d.handle)
		if err != nil {
			return err
		}
		d.zone.Energy = d.power.Add(s.now(), w)
		return nil
	}
	mw, ret := d.handle.GetPowerUsage()
	if ret != nvml.SUCCESS {
		return fmt.Errorf("power usage: %w", ret)
	}
	d.zone.Energy = d.power.Add(s.now(), units.Power(mw)*units.Milliwatt)
	return nil
}

// ProcessShares implements ProcessSharer.
func (s *gpuSensor) ProcessShares() map[string]Shares {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Shares, len(s.shares))
	for id, sh := range s.shares {
		out[id] = maps.Clone(sh)
	}
	return out
}

// Method implements sensor.Describer.
func (s *gpuSensor) Method() string {
	parts := make([]string, 0, len(s.devices))
	for _, d := range s.devices {
		how := "energy counter"
		switch {
		case d.estimate != nil:
			how = d.estimate.method()
		case !d.energyCounter:
			how = "power integrated over time"
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", d.zone.ID, d.model, how))
	}
	return "NVML: " + strings.Join(parts, ", ")
}

// Close implements sensor.Closer: it shuts NVML down. A second Close does
// nothing.
func (s *gpuSensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if ret := s.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("nvml shutdown: %w", ret)
	}
	return nil
}

// curve estimates a GPU's power where NVML reads none
// (nvmlDeviceGetTotalEnergyConsumption and nvmlDeviceGetPowerUsage both
// unsupported) but reports utilisation (nvmlDeviceGetUtilizationRates,
// the percent of the last sample period in which a kernel ran): the CPU
// model's curve applied to the board's power limit,
//
//	P(u) = limit × (i + (a − i) · f(u)),  f(u) = w·min(u/0.1, 1) + (1 − w)·u^γ
//
// with i, a, w and γ the estimate model's "default" group (fitted to
// SPECpower servers' CPUs, docs/estimation.md). No GPU measurement backs
// these fractions: the zone is estimated and Method says so.
type curve struct {
	limitW      float64
	limitFrom   string
	idle, full  float64
	shape       model.Shape
	lastPercent uint32
}

// newCurve reads the board's limit: the power management limit
// (nvmlDeviceGetPowerManagementLimit), else the enforced limit
// (nvmlDeviceGetEnforcedPowerLimit), else the default limit
// (nvmlDeviceGetPowerManagementDefaultLimit), all in mW.
func newCurve(h nvml.Device) (*curve, error) {
	p := model.DefaultParams()
	c := &curve{idle: p.IdleFrac["default"], full: p.FullFrac["default"], shape: p.Shape["default"]}
	for _, l := range []struct {
		from string
		get  func() (uint32, nvml.Return)
	}{
		{"power management limit", h.GetPowerManagementLimit},
		{"enforced power limit", h.GetEnforcedPowerLimit},
		{"default power limit", h.GetPowerManagementDefaultLimit},
	} {
		if mw, ret := l.get(); ret == nvml.SUCCESS && mw > 0 {
			c.limitW, c.limitFrom = float64(mw)/1000, l.from
			break
		}
	}
	if c.limitW == 0 {
		return nil, errors.New("no power limit reported")
	}
	if _, ret := h.GetUtilizationRates(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("utilisation: %w", ret)
	}
	return c, nil
}

// watts reads the utilisation and returns the estimated power.
func (c *curve) watts(h nvml.Device) (units.Power, error) {
	u, ret := h.GetUtilizationRates()
	if ret != nvml.SUCCESS {
		return 0, fmt.Errorf("utilisation: %w", ret)
	}
	c.lastPercent = min(u.Gpu, 100)
	w := c.limitW * (c.idle + (c.full-c.idle)*c.shape.At(float64(c.lastPercent)/100))
	return units.Power(math.Round(w*1000)) * units.Milliwatt, nil
}

func (c *curve) method() string {
	return fmt.Sprintf("estimated: NVML gives no power reading; %.0f W %s × (%.3f + %.3f·f(u)), f(u) = %.2f·min(u/0.1,1) + %.2f·u^%.2f, u = NVML utilisation; "+
		"the CPU model's default idle and full-load fractions and curve, not fitted to any GPU: error unmeasured",
		c.limitW, c.limitFrom, c.idle, c.full-c.idle, c.shape.Wake, 1-c.shape.Wake, c.shape.Exp)
}
