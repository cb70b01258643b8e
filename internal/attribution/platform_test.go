package attribution

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// meteredHost simulates, one second a tick, a host with one RAPL package
// inside a wall meter, a SATA SSD and a 10 GbE NIC, a CPU burner (pid 1)
// and a writer (pid 2). The package draws 20 W + 40 W × utilisation; the
// remainder beyond it 30 W + diskW × the disk's active fraction + 10 W ×
// utilisation + up to ±0.5 W of noise. The NIC never carries a byte.
type meteredHost struct {
	rng          *rand.Rand
	diskW        float64
	sec          int
	wall, pkg    float64 // µJ
	work, total  uint64  // /proc/stat ticks
	burner, wcpu uint64
	wbytes       uint64
	ioTicks      uint64
	lastActive   float64 // the disk's active fraction of the last tick
	lastRest     float64 // the remainder's power of the last tick, W
}

var platformCfg = Platform{
	Devices: []power.Device{
		{ID: "storage:sda", Resource: power.ResourceStorage, Name: "sda", Class: "ssd", FullScale: 1000, Idle: 1.1, Active: 5.6},
		{ID: "network:eth0", Resource: power.ResourceNetwork, Name: "eth0", Class: "physical", FullScale: 1.25e9, Idle: 2.5, Active: 5},
	},
	Idle: 25, CPU: 8, WallIdle: 40, WallCPU: 60,
}

func (h *meteredHost) sample() Sample {
	zones := []power.Zone{
		{ID: "bmc:wall", Kind: power.KindWall, Socket: -1, Energy: units.Energy(h.wall), Source: power.Measured},
		{ID: "intel-rapl:0", Kind: power.KindPackage, Socket: 0, Energy: units.Energy(h.pkg), Source: power.Measured},
	}
	burner := proc(1, 1, h.burner)
	writer := proc(2, 1, h.wcpu)
	writer.IO = h.wbytes
	return Sample{
		Time: t0.Add(timeSec(h.sec)), Zones: zones,
		Procs:    []procinfo.Proc{burner, writer},
		CPU:      procinfo.CPUTimes{Busy: h.work, Work: h.work, Total: h.total, CPUs: 1},
		Activity: power.Activity{"storage:sda": h.ioTicks, "network:eth0": 0},
	}
}

// step advances one second: utilisation u, the disk active a.
func (h *meteredHost) step(u, a float64) {
	busy := uint64(math.Round(u * 100))
	h.work += busy
	h.total += 100
	h.wcpu += 2
	h.burner += busy - 2
	h.ioTicks += uint64(math.Round(a * 1000))
	a = math.Round(a*1000) / 1000
	h.wbytes += uint64(a * 200e6)
	rest := 30 + h.diskW*a + 10*u + (h.rng.Float64() - 0.5)
	h.pkg += (20 + 40*u) * 1e6
	h.wall += (20 + 40*u + rest) * 1e6
	h.lastActive, h.lastRest = a, rest
	h.sec++
}

// TestPlatformFitSplitsTheRemainder: the remainder rises 12 W with the
// disk's activity (the table says 4.5 W); once learned, the storage
// coefficient is 12 W within its uncertainty, the writer gets the disk's
// energy, the burner none of it, the NIC that never moved keeps its prior,
// the host that never went below 30 % busy has its idle fitted, and every
// tick conserves energy per resource and in total.
func TestPlatformFitSplitsTheRemainder(t *testing.T) {
	h := &meteredHost{rng: rand.New(rand.NewPCG(1, 2)), diskW: 12, total: 1000}
	a := New(Options{Sensor: "redfish", Platform: &platformCfg})
	a.Observe(h.sample())
	var s *snapshot.Snapshot
	for i := range 200 {
		u, act := 0.3+0.6*h.rng.Float64(), h.rng.Float64()
		h.step(u, act)
		s = a.Observe(h.sample())
		checkResourceConservation(t, s)
		if s.Resources.Host.Delta[resNetwork] != 0 {
			t.Fatalf("tick %d: network got %d µJ with no byte carried", s.Seq, s.Resources.Host.Delta[resNetwork])
		}
		if i < 150 {
			continue
		}
		got := resourcesOf(s)
		want := 12 * h.lastActive * 1e6
		if w := float64(got[2][resStorage]); math.Abs(w-want) > 0.1*want+0.05e6 {
			t.Errorf("tick %d: the writer got %.0f µJ of storage, the disk's increment was %.0f µJ", s.Seq, w, want)
		}
		if got[1][resStorage] != 0 {
			t.Errorf("tick %d: the burner got %d µJ of storage", s.Seq, got[1][resStorage])
		}
	}
	if s.Platform == nil {
		t.Fatal("no platform fit in the snapshot")
	}
	disk, nic, cpu := s.Platform.Terms[0], s.Platform.Terms[1], s.Platform.Terms[2]
	if disk.Status != "learned" || math.Abs(disk.Value-12) > 1 || disk.StdErr <= 0 || disk.StdErr > 1 {
		t.Errorf("disk coefficient %+v, want 12 W learned with a small standard error", disk)
	}
	if nic.Status != "prior: too little variation" || nic.Value != 2.5 {
		t.Errorf("NIC coefficient %+v, want its prior 2.5 W for too little variation", nic)
	}
	if math.Abs(cpu.Value-10) > 1.5 || math.Abs(s.Platform.Intercept.Value-30) > 1.5 {
		t.Errorf("cpu %.2f W and intercept %.2f W, want 10 and 30", cpu.Value, s.Platform.Intercept.Value)
	}
	if s.IdleOrigin != IdleFitted || math.Abs(s.IdlePower.Watts()-50) > 2 {
		t.Errorf("idle %.2f W (%s), want about 50 W fitted", s.IdlePower.Watts(), s.IdleOrigin)
	}

	// A tick where the meter sees no more than the package: the disk is
	// busy, but no energy the meter did not see goes to storage.
	h.step(0.5, 1)
	h.wall -= h.lastRest * 1e6
	s = a.Observe(h.sample())
	checkResourceConservation(t, s)
	if st, pl := s.Resources.Host.Delta[resStorage], s.Resources.Host.Delta[resPlatform]; st != 0 || pl != 0 {
		t.Errorf("remainder 0: storage %d µJ, platform %d µJ, want none", st, pl)
	}
	// A remainder smaller than the disk's learned part: all of it, no more.
	h.step(0.5, 1)
	h.wall -= (h.lastRest - 3) * 1e6
	s = a.Observe(h.sample())
	checkResourceConservation(t, s)
	if st := s.Resources.Host.Delta[resStorage]; st != 3e6 {
		t.Errorf("remainder 3 J: storage %d µJ, want all of it", st)
	}
}

// TestPlatformFitNeedsVariation: a disk busy the same every tick teaches
// nothing; its coefficient stays the prior, and the idle stays learning
// until enough ticks are in (and the CPU never went quiet).
func TestPlatformFitNeedsVariation(t *testing.T) {
	h := &meteredHost{rng: rand.New(rand.NewPCG(3, 4)), diskW: 12, total: 1000}
	a := New(Options{Sensor: "redfish", Platform: &platformCfg})
	a.Observe(h.sample())
	for i := range 60 {
		h.step(0.5+0.3*h.rng.Float64(), 0.4)
		s := a.Observe(h.sample())
		checkResourceConservation(t, s)
		if i < 20 && s.IdleOrigin != IdleLearning {
			t.Fatalf("tick %d: idle %s before enough ticks", s.Seq, s.IdleOrigin)
		}
		if i == 59 {
			if d := s.Platform.Terms[0]; d.Status != "prior: too little variation" || d.Value != 4.5 {
				t.Errorf("disk %+v, want the prior 4.5 W", d)
			}
			if s.IdleOrigin != IdleFitted {
				t.Errorf("idle %s after 60 busy ticks, want fitted", s.IdleOrigin)
			}
		}
	}
}

// TestNoPlatformFitWithoutOption: without Options.Platform the remainder
// stays the platform's and no fit is shown.
func TestNoPlatformFitWithoutOption(t *testing.T) {
	h := &meteredHost{rng: rand.New(rand.NewPCG(5, 6)), diskW: 12, total: 1000}
	a := New(Options{Sensor: "redfish"})
	a.Observe(h.sample())
	h.step(0.5, 1)
	s := a.Observe(h.sample())
	if s.Platform != nil || s.Resources.Host.Delta[resStorage] != 0 {
		t.Errorf("fit %+v, storage %d µJ, want none", s.Platform, s.Resources.Host.Delta[resStorage])
	}
}

func TestCheckPlatform(t *testing.T) {
	bad := platformCfg
	bad.Idle = math.NaN()
	if CheckPlatform(bad) == nil {
		t.Error("a NaN prior was accepted")
	}
	if err := CheckPlatform(platformCfg); err != nil {
		t.Error(err)
	}
}

func timeSec(s int) time.Duration { return time.Duration(s) * time.Second }

// BenchmarkObservePlatform is one tick of a metered host with the fit on
// (a full 300-tick window, two devices and the CPU), against the same
// tick without it.
func BenchmarkObservePlatform(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "fit=off"
		opts := Options{Sensor: "redfish"}
		if on {
			name, opts.Platform = "fit=on", &platformCfg
		}
		b.Run(name, func(b *testing.B) {
			h := &meteredHost{rng: rand.New(rand.NewPCG(1, 2)), diskW: 12, total: 1000}
			a := New(opts)
			a.Observe(h.sample())
			for range 300 {
				h.step(0.3+0.6*h.rng.Float64(), h.rng.Float64())
				a.Observe(h.sample())
			}
			b.ReportAllocs()
			for b.Loop() {
				h.step(0.3+0.6*h.rng.Float64(), h.rng.Float64())
				a.Observe(h.sample())
			}
		})
	}
}

// TestPlatformFitSharedIdleAndQuiet: under the shared idle policy every
// tick still conserves, per resource; a disk counter that goes back counts
// as idle for that tick; and once the host goes quiet the quiet minimum
// replaces the fitted idle.
func TestPlatformFitSharedIdleAndQuiet(t *testing.T) {
	for _, policy := range []string{snapshot.IdleShared, snapshot.IdleSeparate} {
		h := &meteredHost{rng: rand.New(rand.NewPCG(9, 9)), diskW: 12, total: 1000}
		a := New(Options{Sensor: "redfish", IdlePolicy: policy, Platform: &platformCfg})
		a.Observe(h.sample())
		for range 80 {
			h.step(0.3+0.6*h.rng.Float64(), h.rng.Float64())
			checkResourceConservation(t, a.Observe(h.sample()))
		}
		// The disk re-plugged: its counter starts again from 0.
		h.ioTicks = 0
		h.step(0.5, 0.5)
		h.ioTicks = 0
		s := a.Observe(h.sample())
		checkResourceConservation(t, s)
		if st := s.Resources.Host.Delta[resStorage]; st != 0 {
			t.Errorf("%s: a disk counter that went back moved %d µJ to storage", policy, st)
		}
		if s.IdleOrigin != IdleFitted {
			t.Errorf("%s: idle %s, want fitted", policy, s.IdleOrigin)
		}
		// A quiet second: 5 % busy.
		h.step(0.05, 0)
		a.Observe(h.sample())
		h.step(0.5, 0.5)
		s = a.Observe(h.sample())
		checkResourceConservation(t, s)
		if s.IdleOrigin != IdleLearned {
			t.Errorf("%s: idle %s after a quiet tick, want learned", policy, s.IdleOrigin)
		}
	}
}

// TestPlatformFitNoisyMeterSmallPrior: a noisy meter (±4 W) and a model
// whose idle platform figure is tiny (a VM's share: 0.2 W) still give the
// remainder's idle and the disk's slope from the data, not from the prior.
func TestPlatformFitNoisyMeterSmallPrior(t *testing.T) {
	cfg := platformCfg
	cfg.Idle, cfg.CPU, cfg.WallIdle, cfg.WallCPU = 0.2, 0.5, 5, 20
	h := &meteredHost{rng: rand.New(rand.NewPCG(11, 12)), diskW: 17, total: 1000}
	a := New(Options{Sensor: "redfish", Platform: &cfg})
	a.Observe(h.sample())
	var s *snapshot.Snapshot
	for range 120 {
		h.step(0.3+0.6*h.rng.Float64(), h.rng.Float64())
		h.wall += (h.rng.Float64() - 0.5) * 8e6 // ±4 W more noise
		s = a.Observe(h.sample())
	}
	in, disk := s.Platform.Intercept, s.Platform.Terms[0]
	if math.Abs(in.Value-30) > 3 || math.Abs(disk.Value-17) > 2 {
		t.Errorf("intercept %.2f ± %.2f W (30 W), disk %.2f ± %.2f W (17 W)", in.Value, in.StdErr, disk.Value, disk.StdErr)
	}
	if math.Abs(s.IdlePower.Watts()-50) > 4 {
		t.Errorf("fitted idle %.2f W, want 50 W", s.IdlePower.Watts())
	}
}
