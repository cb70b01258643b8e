package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/exporter/jsonexp"
	"github.com/wattlens/wattlens/internal/procinfo"
)

// setupJSON declares the json command: one JSON object per tick, one per
// line, to --file or standard output (schema: docs/json.md).
func setupJSON(cmd *kingpin.CmdClause) action {
	timeout := durationFlag(cmd.Flag("timeout", "How long to run, in seconds or as a duration; 0 runs until interrupted.").Short('t'), "0")
	step := stepFlag(cmd, "Interval between two lines, in seconds or as a duration (2, 500ms). Scaphandre's -s after the command.", "2")
	nano := stepNano(cmd)
	top := intFlag(cmd.Flag("process.top", "Processes listed in each line; the rest is summed into one \"other\" entry. 0 lists them all.").
		Default("10"))
	intVar(cmd.Flag("max-top-consumers", "Scaphandre's name for --process.top."), top)
	filter := cmd.Flag("process.regex", "List only the processes whose executable path or command line matches this regular expression (RE2 syntax); the others go into \"other\".").
		PlaceHolder("REGEX").String()
	cmd.Flag("process-regex", "Scaphandre's name for --process.regex.").PlaceHolder("REGEX").StringVar(filter)
	file := cmd.Flag("output", "Append the lines to this file (created if absent) instead of standard output.").
		PlaceHolder("PATH").String()
	cmd.Flag("file", "Scaphandre's name for --output.").Short('f').PlaceHolder("PATH").StringVar(file)
	ctrRegex := cmd.Flag("container-regex", "With --containers, list only the processes in a container whose name matches this regular expression (RE2; Scaphandre's); the others go into \"other\".").
		PlaceHolder("REGEX").String()
	resources := cmd.Flag("resources", "Add each process's CPU and memory use (resources_usage, as in Scaphandre).").Bool()
	containers := containerFlags(cmd)

	return func(ctx context.Context, e *env) error {
		if *top < 0 {
			return usageError{errors.New("--process.top (--max-top-consumers) must be 0 (all) or more")}
		}
		f, err := compileFilter("--process.regex (--process-regex)", *filter)
		if err != nil {
			return err
		}
		if f, err = containerFilter(f, *ctrRegex, containers); err != nil {
			return err
		}
		every, err := withNano(*step, *nano)
		if err != nil {
			return err
		}
		hook, stop, err := containers.hook(ctx, e)
		if err != nil {
			return err
		}
		defer stop()
		w := e.stdout
		if *file != "" {
			fh, err := jsonexp.OpenFile(*file)
			if err != nil {
				return err
			}
			defer func() {
				if err := fh.Close(); err != nil {
					e.log.Warn("closing the json file", "exporter", "json", "file", *file, "err", err)
				}
			}()
			w = fh
		}
		x := jsonexp.New(w, jsonexp.Options{MaxConsumers: *top, Filter: f, Containers: containers.enabled, Names: containers.names(), ResourcesUsage: *resources})
		return e.stream(ctx, []procinfo.MetaHook{hook}, every, *timeout, x)
	}
}
