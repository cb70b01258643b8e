package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/exporter/stdout"
)

// setupStdout declares the stdout command: Scaphandre's stdout exporter,
// with -t 0 meaning "until interrupted" as Scaphandre's docs say.
func setupStdout(cmd *kingpin.CmdClause) action {
	timeout := foreverFlag(cmd.Flag("timeout", "How long to run, in seconds or as a duration (10, 1m); 0 (or, as in Scaphandre, a negative number) runs until interrupted.").Short('t'), "10")
	step := stepFlag(cmd, "Interval between two measurements, in seconds or as a duration (2, 500ms). Scaphandre's -s after the command.", "2")
	procs := intFlag(cmd.Flag("process.top", "Number of top consumers listed; 0 lists them all.").Default("5"))
	intVar(cmd.Flag("processes", "Scaphandre's name for --process.top.").Short('p'), procs)
	filter := cmd.Flag("process.regex", "List only the processes whose executable path or command line matches this regular expression (RE2 syntax).").
		PlaceHolder("REGEX").String()
	cmd.Flag("regex-filter", "Scaphandre's name for --process.regex.").Short('r').PlaceHolder("REGEX").StringVar(filter)
	qemuFlag(cmd, true)
	raw := cmd.Flag("raw-metrics", "Print every scaph_* series --compat=scaphandre serves after each step, one a line: name = value {labels} # help (Scaphandre's --raw-metrics).").Bool()
	containers := containerFlags(cmd)

	return func(ctx context.Context, e *env) error {
		if *procs < 0 {
			return usageError{errors.New("--process.top (-p/--processes) must be 0 (all) or more")}
		}
		f, err := compileFilter("--process.regex (-r/--regex-filter)", *filter)
		if err != nil {
			return err
		}
		hook, stop, err := containers.hook(ctx, e)
		if err != nil {
			return err
		}
		defer stop()
		if *raw {
			smp, sen, err := e.newSampler(hook)
			if err != nil {
				return err
			}
			defer closeSensor(sen, e.log)
			r, err := newRawMetrics(e, *procs, sen.Name())
			if err != nil {
				return err
			}
			return e.loop(ctx, smp, *step, *timeout, r)
		}
		x := stdout.New(e.stdout, stdout.Options{Processes: *procs, Filter: f, Containers: containers.enabled, Names: containers.names()})
		// The sensor opens first: one that cannot (powercap unreadable
		// with -s powercap_rapl) fails before anything says it measures.
		smp, sen, err := e.newSampler(hook)
		if err != nil {
			return err
		}
		defer closeSensor(sen, e.log)
		// Power is energy over an interval: nothing can be shown before
		// one step has passed, so say when the first report comes.
		if !e.cfg.NoHeader {
			_, _ = fmt.Fprintf(e.stdout, "wattlens: measuring every %s; the first report comes in %s.\n\n", *step, *step)
		}
		return e.loop(ctx, smp, *step, *timeout, x)
	}
}

// compileFilter compiles a process regex flag; an empty one means no
// filter, a bad one is a usage error.
func compileFilter(flag, expr string) (*exporter.Filter, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	return exporter.NewFilter(re), nil
}
