//go:build cgo

package gpu

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"
	nvmlserver "github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/model"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

// fakeGPU is one GPU as NVML shows it; its mock device reads these fields.
type fakeGPU struct {
	mu        sync.Mutex
	uuid      string
	energyMJ  uint64
	energyRet nvml.Return
	powerMW   uint32
	powerRet  nvml.Return
	samples   []nvml.ProcessUtilizationSample
	utilRet   nvml.Return // SUCCESS: behave as NVML does
	// estimable: the GPU reports utilisation (gpuUtil, percent) and a
	// power limit (limitMW; limitRet for the management limit, the
	// enforced limit answering limitMW when it fails); otherwise both
	// are unsupported.
	estimable bool
	gpuUtil   uint32
	limitMW   uint32
	limitRet  nvml.Return
}

func estimatedGPU(uuid string, limitMW, util uint32) *fakeGPU {
	return &fakeGPU{uuid: uuid, energyRet: nvml.ERROR_NOT_SUPPORTED, powerRet: nvml.ERROR_NOT_SUPPORTED,
		estimable: true, limitMW: limitMW, gpuUtil: util}
}

func energyGPU(uuid string, mj uint64) *fakeGPU {
	return &fakeGPU{uuid: uuid, energyMJ: mj, powerRet: nvml.SUCCESS, powerMW: 1}
}

func powerGPU(uuid string, mw uint32) *fakeGPU {
	return &fakeGPU{uuid: uuid, energyRet: nvml.ERROR_NOT_SUPPORTED, powerMW: mw}
}

func (g *fakeGPU) set(f func(g *fakeGPU)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g)
}

func (g *fakeGPU) device() *mock.Device {
	return &mock.Device{
		GetUUIDFunc: func() (string, nvml.Return) { return g.uuid, nvml.SUCCESS },
		GetNameFunc: func() (string, nvml.Return) { return "NVIDIA Test GPU", nvml.SUCCESS },
		GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) {
			g.mu.Lock()
			defer g.mu.Unlock()
			return g.energyMJ, g.energyRet
		},
		GetPowerUsageFunc: func() (uint32, nvml.Return) {
			g.mu.Lock()
			defer g.mu.Unlock()
			return g.powerMW, g.powerRet
		},
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			g.mu.Lock()
			defer g.mu.Unlock()
			if !g.estimable {
				return nvml.Utilization{}, nvml.ERROR_NOT_SUPPORTED
			}
			return nvml.Utilization{Gpu: g.gpuUtil, Memory: g.gpuUtil / 2}, nvml.SUCCESS
		},
		GetPowerManagementLimitFunc: func() (uint32, nvml.Return) {
			g.mu.Lock()
			defer g.mu.Unlock()
			if !g.estimable {
				return 0, nvml.ERROR_NOT_SUPPORTED
			}
			return g.limitMW, g.limitRet
		},
		GetEnforcedPowerLimitFunc: func() (uint32, nvml.Return) {
			g.mu.Lock()
			defer g.mu.Unlock()
			if !g.estimable {
				return 0, nvml.ERROR_NOT_SUPPORTED
			}
			return g.limitMW, nvml.SUCCESS
		},
		GetPowerManagementDefaultLimitFunc: func() (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED },
		GetProcessUtilizationFunc: func(after uint64) ([]nvml.ProcessUtilizationSample, nvml.Return) {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.utilRet != nvml.SUCCESS {
				return nil, g.utilRet
			}
			var out []nvml.ProcessUtilizationSample
			for _, s := range g.samples {
				if s.TimeStamp > after {
					out = append(out, s)
				}
			}
			if len(out) == 0 {
				return nil, nvml.ERROR_NOT_FOUND
			}
			return out, nvml.SUCCESS
		},
	}
}

// fakeLib is an NVML library over some GPUs.
type fakeLib struct {
	*mock.Interface
	mu        sync.Mutex
	shutdowns int
}

func newLib(initRet nvml.Return, gpus ...*fakeGPU) *fakeLib {
	l := &fakeLib{}
	devs := make([]nvml.Device, len(gpus))
	for i, g := range gpus {
		devs[i] = g.device()
	}
	l.Interface = &mock.Interface{
		InitFunc: func() nvml.Return { return initRet },
		ShutdownFunc: func() nvml.Return {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.shutdowns++
			return nvml.SUCCESS
		},
		DeviceGetCountFunc: func() (int, nvml.Return) { return len(devs), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if i < 0 || i >= len(devs) {
				return nil, nvml.ERROR_INVALID_ARGUMENT
			}
			return devs[i], nvml.SUCCESS
		},
	}
	return l
}

func (l *fakeLib) shutdownCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shutdowns
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func mustRead(t *testing.T, s sensor.Sensor) []power.Zone {
	t.Helper()
	r, err := s.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return r.Zones
}

func sample(pid uint32, ts uint64, sm uint32) nvml.ProcessUtilizationSample {
	return nvml.ProcessUtilizationSample{Pid: pid, TimeStamp: ts, SmUtil: sm, MemUtil: sm / 2}
}

func TestEnergyAndPowerDevices(t *testing.T) {
	a := energyGPU("GPU-aaaa", 5_000) // 5 J since driver load
	b := powerGPU("GPU-bbbb", 60_000) // 60 W, no energy counter (pre-Volta)
	lib := newLib(nvml.SUCCESS, a, b)
	c := newClock()
	s, err := newSensor(lib, nil, c.now)
	if err != nil {
		t.Fatalf("newSensor: %v", err)
	}

	steps := []struct {
		name    string
		advance time.Duration
		energy  uint64 // device a, mJ
		power   uint32 // device b, mW
		want    []units.Energy
	}{
		{name: "first read", advance: time.Second, energy: 5_000, power: 60_000, want: []units.Energy{5 * units.Joule, 60 * units.Joule}},
		{name: "a +250 J, b 60 → 100 W over 2 s", advance: 2 * time.Second, energy: 255_000, power: 100_000, want: []units.Energy{255 * units.Joule, 220 * units.Joule}},
		{name: "driver reload: a restarts (a reset downstream)", advance: time.Second, energy: 40, power: 100_000, want: []units.Energy{40 * units.Millijoule, 320 * units.Joule}},
	}
	for _, st := range steps {
		c.advance(st.advance)
		a.set(func(g *fakeGPU) { g.energyMJ = st.energy })
		b.set(func(g *fakeGPU) { g.powerMW = st.power })
		zones := mustRead(t, s)
		want := []power.Zone{
			{ID: "gpu:0", Kind: power.KindGPU, Socket: -1, Name: "GPU-aaaa", Energy: st.want[0], Source: power.Measured},
			{ID: "gpu:1", Kind: power.KindGPU, Socket: -1, Name: "GPU-bbbb", Energy: st.want[1], Source: power.Measured},
		}
		if diff := cmp.Diff(want, zones); diff != "" {
			t.Fatalf("%s: zones (-want +got):\n%s", st.name, diff)
		}
	}
	if m := s.Method(); !strings.Contains(m, "gpu:0 NVIDIA Test GPU (energy counter)") || !strings.Contains(m, "gpu:1 NVIDIA Test GPU (power integrated over time)") {
		t.Errorf("Method() = %q", m)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := lib.shutdownCount(); n != 1 {
		t.Errorf("nvml.Shutdown called %d times, want 1", n)
	}
}

func TestProcessShares(t *testing.T) {
	a := energyGPU("GPU-aaaa", 1)
	a.samples = []nvml.ProcessUtilizationSample{sample(99, 10, 100)} // before start: never counted
	b := energyGPU("GPU-bbbb", 1)
	b.utilRet = nvml.ERROR_NOT_SUPPORTED
	lib := newLib(nvml.SUCCESS, a, b)
	s, err := newSensor(lib, nil, newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	var _ ProcessSharer = s

	if got := s.ProcessShares(); len(got) != 0 {
		t.Errorf("shares before any Read = %v", got)
	}

	a.set(func(g *fakeGPU) {
		g.samples = append(g.samples, sample(100, 20, 60), sample(200, 20, 20), sample(100, 30, 60), sample(200, 30, 60))
	})
	mustRead(t, s)
	want := map[string]Shares{"gpu:0": {100: 0.6, 200: 0.4}}
	if diff := cmp.Diff(want, s.ProcessShares()); diff != "" {
		t.Errorf("interval 1 (-want +got):\n%s", diff)
	}

	// The caller owns the returned maps.
	s.ProcessShares()["gpu:0"][100] = 7
	if got := s.ProcessShares()["gpu:0"][100]; got != 0.6 {
		t.Errorf("shares changed through a returned map: %v", got)
	}

	// Nothing ran in the next interval: the GPU is present, with no shares.
	mustRead(t, s)
	want = map[string]Shares{"gpu:0": {}}
	if diff := cmp.Diff(want, s.ProcessShares()); diff != "" {
		t.Errorf("idle interval (-want +got):\n%s", diff)
	}

	// PID 200 exits, PID 300 starts.
	a.set(func(g *fakeGPU) { g.samples = append(g.samples, sample(300, 40, 25), sample(100, 41, 75)) })
	mustRead(t, s)
	want = map[string]Shares{"gpu:0": {100: 0.75, 300: 0.25}}
	if diff := cmp.Diff(want, s.ProcessShares()); diff != "" {
		t.Errorf("interval 3 (-want +got):\n%s", diff)
	}

	// Per-process utilisation starts failing: energy still reads.
	a.set(func(g *fakeGPU) { g.utilRet = nvml.ERROR_UNKNOWN })
	if zones := mustRead(t, s); len(zones) != 2 {
		t.Fatalf("zones = %+v", zones)
	}
	if got := s.ProcessShares(); len(got) != 0 {
		t.Errorf("shares while utilisation fails = %v", got)
	}
}

func TestProcessSharesConcurrentWithRead(t *testing.T) {
	a := energyGPU("GPU-aaaa", 1)
	s, err := newSensor(newLib(nvml.SUCCESS, a), nil, newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 100 {
			a.set(func(g *fakeGPU) { g.samples = append(g.samples, sample(uint32(i%3+1), uint64(i+1), 10)) })
			if _, err := s.Read(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 100 {
		for _, sh := range s.ProcessShares() {
			var sum float64
			for _, v := range sh {
				sum += v
			}
			if sum > 1+1e-9 {
				t.Errorf("shares sum to %g", sum)
			}
		}
	}
	wg.Wait()
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name         string
		initRet      nvml.Return
		gpus         []*fakeGPU
		want         error
		wantMsg      string
		wantShutdown int
	}{
		{name: "no library", initRet: nvml.ERROR_LIBRARY_NOT_FOUND, want: sensor.ErrUnavailable, wantMsg: "libnvidia-ml.so.1"},
		{name: "no kernel driver", initRet: nvml.ERROR_DRIVER_NOT_LOADED, want: sensor.ErrUnavailable, wantMsg: "kernel driver"},
		{name: "no permission", initRet: nvml.ERROR_NO_PERMISSION, want: sensor.ErrPermission, wantMsg: "/dev/nvidia"},
		{name: "other init failure", initRet: nvml.ERROR_UNKNOWN, want: sensor.ErrUnavailable, wantMsg: "ERROR_UNKNOWN"},
		{name: "no devices", initRet: nvml.SUCCESS, want: sensor.ErrUnavailable, wantMsg: "no NVIDIA GPU", wantShutdown: 1},
		{
			name:    "no device reports energy or power",
			initRet: nvml.SUCCESS,
			gpus: []*fakeGPU{
				{uuid: "GPU-x", energyRet: nvml.ERROR_NOT_SUPPORTED, powerRet: nvml.ERROR_NOT_SUPPORTED},
			},
			want: sensor.ErrUnavailable, wantMsg: "none of 1", wantShutdown: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib := newLib(tt.initRet, tt.gpus...)
			_, err := newSensor(lib, nil, newClock().now)
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
				t.Errorf("err = %v, want %v containing %q", err, tt.want, tt.wantMsg)
			}
			if n := lib.shutdownCount(); n != tt.wantShutdown {
				t.Errorf("nvml.Shutdown called %d times, want %d", n, tt.wantShutdown)
			}
		})
	}
}

func TestUnusableDeviceSkipped(t *testing.T) {
	bad := &fakeGPU{uuid: "GPU-bad", energyRet: nvml.ERROR_NOT_SUPPORTED, powerRet: nvml.ERROR_NOT_SUPPORTED}
	good := energyGPU("GPU-good", 10)
	s, err := newSensor(newLib(nvml.SUCCESS, bad, good), nil, newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	zones := mustRead(t, s)
	if len(zones) != 1 || zones[0].ID != "gpu:1" || zones[0].Name != "GPU-good" {
		t.Errorf("zones = %+v", zones)
	}
}

func TestReadFailsWhenGPUIsLost(t *testing.T) {
	a := energyGPU("GPU-aaaa", 10)
	s, err := newSensor(newLib(nvml.SUCCESS, a), nil, newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	a.set(func(g *fakeGPU) { g.energyRet = nvml.ERROR_GPU_IS_LOST })
	if _, err := s.Read(); err == nil || !strings.Contains(err.Error(), "ERROR_GPU_IS_LOST") {
		t.Errorf("Read err = %v", err)
	}
	a.set(func(g *fakeGPU) { g.energyRet, g.energyMJ = nvml.SUCCESS, 20 })
	if zones := mustRead(t, s); zones[0].Energy != 20*units.Millijoule {
		t.Errorf("after recovery: %+v", zones)
	}
}

// TestDGXA100 drives the sensor with go-nvml's DGX A100 model (8 × A100,
// real UUIDs and names), given energy counters.
func TestDGXA100(t *testing.T) {
	server := dgxa100.New()
	for i, d := range server.Devices {
		dev := d.(*nvmlserver.Device)
		mj := uint64(1000 * (i + 1))
		dev.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return mj, nvml.SUCCESS }
		dev.GetProcessUtilizationFunc = func(uint64) ([]nvml.ProcessUtilizationSample, nvml.Return) {
			return nil, nvml.ERROR_NOT_SUPPORTED
		}
	}
	s, err := newSensor(server, nil, newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	zones := mustRead(t, s)
	if len(zones) != 8 {
		t.Fatalf("%d zones, want 8", len(zones))
	}
	for i, z := range zones {
		uuid := server.Devices[i].(*nvmlserver.Device).UUID
		if z.ID != fmt.Sprintf("gpu:%d", i) || z.Name != uuid || z.Energy != units.Energy(i+1)*units.Joule {
			t.Errorf("zone %d = %+v", i, z)
		}
	}
	if !strings.Contains(s.Method(), "A100") {
		t.Errorf("Method() = %q", s.Method())
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// TestEstimatedFromUtilisation: a GPU with neither an energy counter nor a
// power reading, but utilisation and a power limit, is estimated from the
// limit and the CPU model's default curve, integrated over time, marked
// estimated, and Method says how.
func TestEstimatedFromUtilisation(t *testing.T) {
	g := estimatedGPU("GPU-cccc", 300_000, 0) // 300 W limit, idle
	none := &fakeGPU{uuid: "GPU-dddd", energyRet: nvml.ERROR_NOT_SUPPORTED, powerRet: nvml.ERROR_NOT_SUPPORTED}
	lib := newLib(nvml.SUCCESS, g, none)
	c := newClock()
	s, err := newSensor(lib, nil, c.now)
	if err != nil {
		t.Fatalf("newSensor: %v", err)
	}
	p := model.DefaultParams()
	i, a, sh := p.IdleFrac["default"], p.FullFrac["default"], p.Shape["default"]
	at := func(u float64) float64 { return 300 * (i + (a-i)*sh.At(u)) }
	var wantJ float64
	prev := at(0)
	for _, st := range []struct {
		util uint32
		dt   time.Duration
	}{{0, 2 * time.Second}, {100, 2 * time.Second}, {50, 4 * time.Second}, {250, time.Second}} { // 250: clamped to 100
		g.set(func(g *fakeGPU) { g.gpuUtil = st.util })
		c.advance(st.dt)
		w := at(math.Min(float64(st.util), 100) / 100)
		wantJ += (prev + w) / 2 * st.dt.Seconds()
		prev = w
		zones := mustRead(t, s)
		if len(zones) != 1 {
			t.Fatalf("zones %+v: want the estimable GPU only", zones)
		}
		z := zones[0]
		if z.Source != power.Estimated || z.ID != "gpu:0" || z.Kind != power.KindGPU {
			t.Fatalf("zone %+v: want gpu:0, estimated", z)
		}
		if got := z.Energy.Joules(); math.Abs(got-wantJ) > 0.01 {
			t.Errorf("util %d %%: energy %.3f J, want %.3f J", st.util, got, wantJ)
		}
	}
	if at(1) <= at(0.5) || at(0.5) <= at(0) || at(0) <= 0 {
		t.Fatalf("curve not increasing from a positive idle: %v %v %v", at(0), at(0.5), at(1))
	}
	m := s.Method()
	for _, want := range []string{"gpu:0", "estimated: NVML gives no power reading", "300 W power management limit", "not fitted to any GPU"} {
		if !strings.Contains(m, want) {
			t.Errorf("Method() = %q, lacks %q", m, want)
		}
	}
}

func TestEstimateFallsBackToTheEnforcedLimit(t *testing.T) {
	g := estimatedGPU("GPU-eeee", 250_000, 100)
	g.limitRet = nvml.ERROR_NOT_SUPPORTED
	s, err := newSensor(newLib(nvml.SUCCESS, g), nil, newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	if m := s.Method(); !strings.Contains(m, "250 W enforced power limit") {
		t.Errorf("Method() = %q, want the enforced limit named", m)
	}
}
