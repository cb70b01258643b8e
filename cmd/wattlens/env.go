package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/config"
	"github.com/wattlens/wattlens/internal/exporter"
	facts "github.com/wattlens/wattlens/internal/machine"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/sampler"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/estimate"
	"github.com/wattlens/wattlens/internal/sensor/registry"
	"github.com/wattlens/wattlens/internal/sensor/vm"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
	"github.com/wattlens/wattlens/internal/vmdetect"
)

// env is what every command gets: the validated config, a logger and the
// standard streams.
type env struct {
	cfg            config.Config
	log            *slog.Logger
	stdout, stderr io.Writer
	// closers run when the command ends (the eBPF program is unloaded).
	closers []func()
}

// close runs the closers, last first.
func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

func (e *env) sensorOptions() sensor.Options {
	return sensor.Options{
		SysFS: e.cfg.SysFS, ProcFS: e.cfg.ProcFS, DevFS: e.cfg.DevFS,
		VMPath: e.cfg.VMPath, Logger: e.log,
		Redfish: redfishOptions(e.cfg.Redfish),
	}
}

// openSensor opens the configured sensor set, explaining auto's choice.
func (e *env) openSensor() (sensor.Sensor, error) {
	names := e.cfg.Sensors
	if e.cfg.VM {
		names = []string{registry.VM}
	}
	return registry.Open(names, e.sensorOptions(), e.log)
}

// readTimeout bounds one sensor read: past it the tick reports the sensor
// down rather than stopping the loop (NVML or a VM share can hang).
const readTimeout = 5 * time.Second

// newSampler opens the sensor and builds the sampler around it. hooks run
// once per process lifetime when a process's metadata is read; nil hooks
// (a feature that is off) are left out. Every sampler names the qemu/KVM
// guests it sees (Meta.VM), so that every exporter can show VMs: the hook
// costs a second cmdline read for qemu processes only, once each.
func (e *env) newSampler(hooks ...procinfo.MetaHook) (*sampler.Sampler, sensor.Sensor, error) {
	sen, err := e.openSensor()
	if err != nil {
		return nil, nil, err
	}
	opts := e.attributionOptions(sen)
	vms := vmdetect.MetaHook(vmdetect.WithProcFS(e.cfg.ProcFS), vmdetect.WithLogger(e.log))
	hooks = slices.DeleteFunc(append([]procinfo.MetaHook{vms}, hooks...), func(h procinfo.MetaHook) bool { return h == nil })
	var hook procinfo.MetaHook
	if len(hooks) > 0 {
		hook = func(pid int, m *procinfo.Meta) {
			for _, h := range hooks {
				h(pid, m)
			}
		}
	}
	procs, err := e.procReader(hook)
	if err != nil {
		closeSensor(sen, e.log)
		return nil, nil, err
	}
	sopts := []sampler.Option{sampler.WithReadTimeout(readTimeout), sampler.WithResources(e.resourceReader())}
	if act := e.deviceActivity(sen); act != nil {
		pl := platformOf(act)
		if err := attribution.CheckPlatform(pl); err != nil {
			e.log.Warn("platform fit left out", "err", err)
		} else {
			opts.Platform = &pl
			sopts = append(sopts, sampler.WithActivity(act))
		}
	}
	return sampler.New(sen, procs, attribution.New(opts), e.log, sopts...), sen, nil
}

// deviceActivity returns the reader of the devices' activity on a host
// whose power is measured (a meter, RAPL): attribution learns from it
// what the meter's remainder is spent on, and the idle power where the
// host never goes quiet. nil for the estimate sensor (it models the
// devices itself) and inside a VM (its share has no meter of its own).
func (e *env) deviceActivity(sen sensor.Sensor) *estimate.Activity {
	if sensor.HasIdleModel(sen) || slices.Contains(strings.Split(sen.Name(), ","), vm.Name) {
		return nil
	}
	return estimate.NewActivity(e.sensorOptions())
}

// platformOf is the platform fit's configuration from the devices and
// the model's figures.
func platformOf(act *estimate.Activity) attribution.Platform {
	p := attribution.Platform{Devices: act.Devices()}
	p.Idle, p.CPU, p.WallIdle, p.WallCPU = act.PlatformPrior()
	return p
}

// resourceReader reads the processes' storage bytes and network
// namespaces (procstat.Resources); the bytes of the agent's own namespace
// count on the interfaces with hardware behind them only.
func (e *env) resourceReader() *procstat.Resources {
	nics, err := facts.New(e.cfg.ProcFS, e.cfg.SysFS).NetInterfaces()
	if err != nil {
		e.log.Debug("network interfaces unreadable, network bytes by namespace from other namespaces only", "err", err)
	}
	names := make([]string, 0, len(nics))
	for _, n := range nics {
		names = append(names, n.Name)
	}
	r := procstat.NewResources(e.cfg.ProcFS, names)
	// Another user's <pid>/io (no CAP_SYS_PTRACE): its cgroup's io.stat,
	// on the whole disks only.
	disks, _ := facts.New(e.cfg.ProcFS, e.cfg.SysFS).BlockDevices()
	devs := make([]string, 0, len(disks))
	for _, d := range disks {
		if d.Dev != "" {
			devs = append(devs, d.Dev)
		}
	}
	r.CgroupFallback(filepath.Join(e.cfg.SysFS, "fs", "cgroup"), devs)
	return r
}

// stream runs the sampler, with process metadata hooks (see newSampler),
// every step for timeout (0: until interrupted) and hands each snapshot to
// every exporter. An exporter's error is logged and the loop goes on.
func (e *env) stream(ctx context.Context, hooks []procinfo.MetaHook, step, timeout time.Duration, exps ...exporter.Exporter) error {
	smp, sen, err := e.newSampler(hooks...)
	if err != nil {
		return err
	}
	defer closeSensor(sen, e.log)
	return e.loop(ctx, smp, step, timeout, exps...)
}

func (e *env) loop(ctx context.Context, smp *sampler.Sampler, step, timeout time.Duration, exps ...exporter.Exporter) error {
	if timeout > 0 {
		// A little grace, so that a tick due at the deadline happens:
		// -t 10 --step 2 gives five reports, as Scaphandre does.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout+step/4)
		defer cancel()
	}
	lastAt := time.Now()
	var failing bool
	publish := func(ctx context.Context, s *snapshot.Snapshot) {
		lastAt = time.Now()
		var failed error
		for _, x := range exps {
			if err := x.Export(ctx, s); err != nil && ctx.Err() == nil {
				failed = err
			}
		}
		// One line when exporting starts failing and one when it
		// recovers, not one a tick.
		switch {
		case failed != nil && !failing:
			e.log.Warn("export failed; measuring goes on (said once until it recovers)", "err", failed)
		case failed == nil && failing:
			e.log.Info("export works again")
		}
		failing = failed != nil
	}
	smp.Run(ctx, step, func(s *snapshot.Snapshot) { publish(ctx, s) })
	// The interval since the last report is not dropped: a last, shorter
	// one (its interval says how long) after a signal, or after a timeout
	// that left at least half a step unreported (-t 1 --step 2; the
	// quarter-step grace after -t 10 --step 2 is not an interval of its
	// own).
	since := time.Since(lastAt)
	final := since >= config.MinStep
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		final = since >= step/2
	}
	if final {
		if s := smp.Tick(); s != nil && s.SensorUp {
			fctx, cancel := context.WithTimeout(context.Background(), finalExportTimeout)
			defer cancel()
			publish(fctx, s)
		}
	}
	return nil
}

// finalExportTimeout bounds the export of the last, partial interval at
// exit.
const finalExportTimeout = 5 * time.Second

func unitsWatts(w float64) units.Power { return units.FromWatts(w) }

func closeSensor(s sensor.Sensor, log *slog.Logger) {
	if c, ok := s.(sensor.Closer); ok {
		if err := c.Close(); err != nil {
			log.Warn("closing sensor", "sensor", s.Name(), "err", err)
		}
	}
}
