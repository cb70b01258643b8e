package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"syscall"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/attribution"
	facts "github.com/wattlens/wattlens/internal/machine"
	"github.com/wattlens/wattlens/internal/procstat"
	runcmd "github.com/wattlens/wattlens/internal/run"
	"github.com/wattlens/wattlens/internal/sensor"
)

func setupRun(cmd *kingpin.CmdClause) action {
	asJSON := cmd.Flag("json", "Print the summary as JSON, to standard output (for | jq); the command's own standard output comes first, so give --output when it prints there.").Bool()
	output := cmd.Flag("output", "Write the summary to FILE instead of standard error (standard output with --json).").PlaceHolder("FILE").String()
	carbon := floatFlag(cmd.Flag("carbon-intensity", "Grid carbon intensity in gCO2e per kWh; adds an emissions figure.").PlaceHolder("G"))
	repeat := intFlag(cmd.Flag("repeat", "Run the command N times and report the median and spread.").Default("1"))
	step := stepFlag(cmd, "Sampling period: seconds or a duration. The power series has one point per step.", "1")
	argv := cmd.Arg("command", "The command and its arguments (put them after --).").Required().Strings()

	return func(ctx context.Context, e *env) error {
		if *repeat < 1 {
			return usageError{errors.New("--repeat must be at least 1")}
		}
		if *carbon < 0 {
			return usageError{errors.New("--carbon-intensity must not be negative")}
		}
		// The summary's file is opened before the command starts: a bad
		// path must not cost a whole build, nor hide its exit status.
		w := summaryWriter(e, *asJSON)
		if *output != "" {
			f, err := os.Create(*output)
			if err != nil {
				return usageError{fmt.Errorf("--output: %w", err)}
			}
			defer func() { _ = f.Close() }() // the write error below is what matters
			w = f
		}
		if e.cfg.LogLevel == slog.LevelInfo {
			// The summary is the output; keep the sensor's start-up chatter out of it.
			e.log = newLogger(e.stderr, withLevel(e.cfg, slog.LevelWarn))
		}
		sen, err := e.openSensor()
		if err != nil {
			return err
		}
		defer closeSensor(sen, e.log)

		hostIO, err := facts.NewHostIO(e.cfg.ProcFS, e.cfg.SysFS)
		if err != nil {
			e.log.Debug("disks or network interfaces unreadable: their bytes are not priced", "err", err)
		}
		opts := runcmd.Options{
			Sensor:      sen,
			Procs:       procstat.NewReader(e.cfg.ProcFS),
			Resources:   e.resourceReader(),
			HostIO:      hostIO,
			Attribution: e.attributionOptions(sen),
			Step:        *step,
			Stdin:       os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			Log: e.log,
		}
		rep := runcmd.Report{CarbonIntensity: *carbon}
		var last runcmd.Result
		for i := 0; i < *repeat; i++ {
			res, err := runcmd.Run(*argv, opts)
			if err != nil {
				if errors.Is(err, runcmd.ErrStart) {
					_, _ = fmt.Fprintf(e.stderr, "wattlens: %s\n", err)
					return exitStatus(startStatus(err))
				}
				return err
			}
			rep.Runs = append(rep.Runs, res)
			last = res
			if res.ExitCode != 0 || res.Interrupted {
				break // a failing or interrupted command is not a figure to compare
			}
		}
		if err := writeReport(rep, *asJSON, w); err != nil {
			return err
		}
		if last.Signal != 0 {
			return killedBy(last.Signal)
		}
		if last.ExitCode != 0 {
			return exitStatus(last.ExitCode)
		}
		return nil
	}
}

// summaryWriter is where the summary goes without --output: the text for
// a person to standard error, beside the command's own output; the JSON,
// which a program reads, to standard output (wattlens run --json -- cmd | jq).
func summaryWriter(e *env, asJSON bool) io.Writer {
	if asJSON {
		return e.stdout
	}
	return e.stderr
}

// startStatus is the shell's status for a command that did not start:
// 127 when it is not found, 126 when it is found but cannot be run (not
// executable, a directory, a bad binary).
func startStatus(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return 127
	}
	return 126
}

func writeReport(rep runcmd.Report, asJSON bool, w io.Writer) error {
	write := rep.WriteText
	if asJSON {
		write = rep.WriteJSON
	}
	if err := write(w); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}

// attributionOptions are the attribution settings the config and sensor
// call for.
func (e *env) attributionOptions(sen sensor.Sensor) attribution.Options {
	opts := attribution.Options{Sensor: sen.Name(), IdlePolicy: e.cfg.IdlePolicy}
	if d, ok := sen.(sensor.Describer); ok {
		opts.Method = d.Method()
	}
	switch {
	case e.cfg.IdlePowerSet:
		opts.IdlePower, opts.IdleOrigin = unitsWatts(e.cfg.IdlePower), attribution.IdleFromFlag
	case sensor.HasIdleModel(sen):
		opts.IdlePower, opts.IdleOrigin = sen.(sensor.IdleModeller).IdlePower(), attribution.IdleFromModel
	}
	return opts
}

// killedBy asks main to die of the same signal as the command did.
type killedBy syscall.Signal

func (k killedBy) Error() string { return "killed by " + syscall.Signal(k).String() }
