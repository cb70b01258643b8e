// Command wattlens measures how many watts a machine draws and which
// processes draw them, and ships the figures to an exporter:
//
//	wattlens [global flags] <exporter> [exporter flags]
//
// This package parses flags into a config.Config, wires sensor, sampler and
// exporter, and is the only place that exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/alecthomas/kingpin/v2"
	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/config"
	"github.com/wattlens/wattlens/internal/privilege"
	"github.com/wattlens/wattlens/internal/sensor/registry"
	"github.com/wattlens/wattlens/internal/version"
)

func main() {
	// Permitted file capabilities (the container image's) made effective;
	// info reports what is missing, so an error here needs no word.
	_, _ = privilege.RaiseEffective()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// action runs a command once flags are parsed.
type action func(ctx context.Context, e *env) error

// command is one subcommand: an exporter or a tool (info, model, run).
type command struct {
	name, help string
	// setup declares the command's flags and returns what runs it.
	setup func(cmd *kingpin.CmdClause) action
}

// commands is the table of subcommands, in the order help lists them.
func commands() []command {
	return []command{
		{"stdout", "Print host power and the top consumers to the terminal.", setupStdout},
		{"json", "Write one JSON object per tick (NDJSON) to a file or standard output.", setupJSON},
		{"prometheus", "Serve Prometheus metrics over HTTP.", setupPrometheus},
		{"web", "Serve a live page of host power and the top consumers over HTTP.", setupWeb},
		{"prometheus-push", "Push Prometheus metrics to a Pushgateway every step.", setupPush},
		{"otlp", "Push OpenTelemetry metrics over OTLP (gRPC or HTTP) to a collector every step.", setupOTLP},
		{"qemu", "On a hypervisor: write each qemu/KVM guest's energy into a powercap-shaped tree it can read.", setupQemu},
		{"run", "Run a command and report the energy it took.", setupRun},
		{"info", "Show which power sources exist here, which one is used and why the others are not.", setupInfo},
		{"model", "Print the estimation model's power curve for a machine.", setupModel},
		{"calibrate", "Sample a measuring sensor beside the estimation model: fit idle and slope, and report the model's error.", setupCalibrate},
	}
}

// usageError marks errors that exit with status 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("wattlens", "Power metrology: how many watts this machine draws, and who draws them.")
	app.Version(version.String())
	app.HelpFlag.Short('h')
	app.UsageTemplate(usageTemplate).UsageFuncs(usageFuncs())
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)

	cfg := config.Default()
	g := bindGlobal(app, &cfg)

	actions := map[string]action{}
	var names []string
	for _, c := range commands() {
		clause := app.Command(c.name, c.help)
		actions[clause.FullCommand()] = c.setup(clause)
		names = append(names, c.name)
	}

	args, err := scaphandreArgs(app, args)
	var selected string
	if err == nil {
		selected, err = app.Parse(args)
	}
	if err != nil && strings.HasPrefix(err.Error(), "expected command") {
		err = fmt.Errorf("%w; valid commands: %s", err, strings.Join(names, ", "))
	}
	if err == nil {
		err = g.finish(&cfg)
	}
	if err == nil {
		err = cfg.Validate(registry.Names())
	}
	if err == nil {
		err = checkFileFlags(app, selected)
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "wattlens: error: %s\n", oneLine(err))
		return 2
	}

	e := &env{cfg: cfg, log: newLogger(stderr, cfg), stdout: stdout, stderr: stderr}
	defer e.close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if selected != "run" { // run forwards signals to its command, which decides when it ends
		defer watchStop(ctx, stderr)()
	}

	if err := actions[selected](ctx, e); err != nil {
		var u usageError
		if errors.As(err, &u) {
			_, _ = fmt.Fprintf(stderr, "wattlens: error: %s\n", oneLine(err))
			return 2
		}
		var ex exitStatus
		if errors.As(err, &ex) {
			return int(ex)
		}
		var k killedBy
		if errors.As(err, &k) {
			return dieOf(syscall.Signal(k))
		}
		_, _ = fmt.Fprintf(stderr, "wattlens: %s\n", oneLine(err))
		return 1
	}
	return 0
}

// exitStatus lets a command (run) hand back a status of its own.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// dieOf ends wattlens with the signal that ended the command it ran, so
// that a shell or CI runner sees the same end. The Go runtime catches most
// signals and ignores those nobody asked for (SIGUSR1, …), so the kernel's
// default action is put back first with a raw rt_sigaction, as the runtime
// itself does before it dies of a signal. Should the signal still not kill,
// the shell's convention 128+signal remains.
func dieOf(sig syscall.Signal) int {
	signal.Reset(sig)
	var dfl [4]uint64 // struct kernel_sigaction{handler: SIG_DFL, flags, restorer, mask}: all zero
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	_ = syscall.Kill(os.Getpid(), sig)
	time.Sleep(100 * time.Millisecond)
	return 128 + int(sig)
}

func withLevel(cfg config.Config, l slog.Level) config.Config {
	cfg.LogLevel = l
	return cfg
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// global holds flag values that need work after parsing.
type global struct {
	sensors      string
	idlePower    float64
	idlePowerSet bool
	logLevel     string
	logLevelSet  bool
	scaph        *scaphandreGlobal
}

func bindGlobal(app *kingpin.Application, cfg *config.Config) *global {
	g := &global{}
	app.Flag("sensor", "Power source: auto, or one or more of "+strings.Join(registry.Names(), ", ")+" separated by commas.").
		Short('s').Default("auto").StringVar(&g.sensors)
	app.Flag("path.sysfs", "sysfs mount point.").Default(config.DefaultSysFS).StringVar(&cfg.SysFS)
	app.Flag("path.procfs", "procfs mount point.").Default(config.DefaultProcFS).StringVar(&cfg.ProcFS)
	app.Flag("path.devfs", "devfs mount point (for /dev/cpu/N/msr).").Default(config.DefaultDevFS).StringVar(&cfg.DevFS)
	app.Flag("vm", "Run inside a virtual machine whose host runs the wattlens qemu exporter; read the share at --vm.path.").BoolVar(&cfg.VM)
	app.Flag("vm.path", "Where the host's share is mounted in this guest.").Default(config.DefaultVMPath).Envar("WATTLENS_VM_PATH").StringVar(&cfg.VMPath)
	floatVar(app.Flag("idle-power", "Idle power of the host in watts; overrides the learned or modelled baseline.").
		PlaceHolder("WATTS").IsSetByUser(&g.idlePowerSet), &g.idlePower)
	app.Flag("idle-policy", "Where idle energy goes: separate (an idle pseudo-consumer) or shared (spread over processes by CPU share).").
		Default(config.DefaultIdlePolicy).EnumVar(&cfg.IdlePolicy, config.IdlePolicies...)
	app.Flag("cpu-source", "Where per-process CPU time comes from: auto (eBPF where the kernel has BTF and lets wattlens load a program, else procfs), ebpf (fail if it cannot load), procfs.").
		Default(config.CPUSourceAuto).Envar("WATTLENS_CPU_SOURCE").EnumVar(&cfg.CPUSource, config.CPUSources...)
	app.Flag("log.level", "Log level: debug, info, warn, error.").Default("info").IsSetByUser(&g.logLevelSet).EnumVar(&g.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Log format: logfmt or json.").Default("logfmt").EnumVar(&cfg.LogFormat, "logfmt", "json")
	bindRedfish(app, &cfg.Redfish)
	g.scaph = bindScaphandreGlobal(app, cfg)
	return g
}

func (g *global) finish(cfg *config.Config) error {
	cfg.Sensors = config.ParseSensors(g.sensors)
	cfg.IdlePower, cfg.IdlePowerSet = g.idlePower, g.idlePowerSet
	if l, ok := g.scaph.logLevel(); ok && !g.logLevelSet {
		g.logLevel = l
	}
	return cfg.LogLevel.UnmarshalText([]byte(g.logLevel))
}

func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// stopGrace is how long a command may take to stop after SIGTERM or SIGINT.
const stopGrace = 5 * time.Second

// watchStop makes sure a signal ends wattlens: should the command still
// run stopGrace after ctx is cancelled (a read blocked in the kernel, on a
// hung network file system), wattlens says so and exits 1. The returned
// function ends the watch.
func watchStop(ctx context.Context, stderr io.Writer) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			_, _ = fmt.Fprintf(stderr, "wattlens: still not stopped %s after the signal (a read is blocked); exiting\n", stopGrace)
			os.Exit(1)
		}
	}()
	return func() { close(done) }
}
