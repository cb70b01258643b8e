package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/exporter/promexp"
	"github.com/wattlens/wattlens/internal/sampler"
)

// collectorFlags are the flags that shape the metric set, shared by the
// prometheus and prometheus-push commands.
type collectorFlags struct {
	top        *int
	cmdline    *int
	compat     *[]string
	containers *containerOpts
	include    *string
	includeMax *int

	// facts reads what --compat=scaphandre adds about the machine; nil
	// without it (set by start).
	facts *hostFacts
}

func bindCollectorFlags(cmd *kingpin.CmdClause) *collectorFlags {
	return &collectorFlags{
		top: intFlag(cmd.Flag("process.top", "Processes with series of their own: the top N by energy over the last step; 0 for all (one series per process: mind the cardinality).").
			Default("20")),
		cmdline: intFlag(cmd.Flag("process.cmdline-length", "Longest cmdline label, in bytes; longer ones are cut and end with …").
			Default("256")),
		compat: cmd.Flag("compat", "Also serve another tool's metric names: "+strings.Join(promexp.CompatModes, ", ")+" (Scaphandre's scaph_*, Kepler 0.11's kepler_*). Repeatable, or separated by commas (--compat scaphandre,kepler).").
			PlaceHolder("TOOL").Strings(),
		containers: containerFlags(cmd),
		include: cmd.Flag("process.include-regex", "Also give series of their own to the processes whose executable name or path, comm or command line matches this regular expression (RE2), beyond the top N and even when quiet: processes a dashboard names. At most --process.include-max of them.").
			PlaceHolder("REGEX").String(),
		includeMax: intFlag(cmd.Flag("process.include-max", "Most processes --process.include-regex adds beyond the top N, highest energy first.").
			Default(strconv.Itoa(promexp.DefaultIncludeMax))),
	}
}

// compatModes are the --compat values, those separated by commas split.
func (f *collectorFlags) compatModes() []string {
	var out []string
	for _, c := range *f.compat {
		for _, m := range strings.Split(c, ",") {
			if m = strings.TrimSpace(m); m != "" && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// exporters are what the loop hands each snapshot: the collector, the
// machine facts reader right after it (with --compat=scaphandre: it reads
// the memory of the processes the collector exposes), then rest.
func (f *collectorFlags) exporters(col *promexp.Collector, rest ...exporter.Exporter) []exporter.Exporter {
	out := []exporter.Exporter{col}
	if f.facts != nil {
		out = append(out, f.facts)
	}
	return append(out, rest...)
}

// start opens what both commands measure with: the container name sources
// (with --containers), the sampler and the collector the flags describe.
// stop releases them.
func (f *collectorFlags) start(ctx context.Context, e *env) (smp *sampler.Sampler, col *promexp.Collector, stop func(), err error) {
	hook, stopContainers, err := f.containers.hook(ctx, e)
	if err != nil {
		return nil, nil, nil, err
	}
	smp, sen, err := e.newSampler(hook)
	if err != nil {
		stopContainers()
		return nil, nil, nil, err
	}
	stop = func() {
		closeSensor(sen, e.log)
		stopContainers()
	}
	// The collector comes after the hook, which starts the name sources.
	if col, err = f.collector(sen.Name(), keplerInfo(f.compatModes(), e)); err != nil {
		stop()
		return nil, nil, nil, err
	}
	if slices.Contains(f.compatModes(), promexp.CompatScaphandre) {
		f.facts = newHostFacts(e.cfg.ProcFS, e.cfg.SysFS, col, e.log)
	}
	return smp, col, stop, nil
}

// collector builds the collector the flags describe.
func (f *collectorFlags) collector(sensorName string, k keplerFacts) (*promexp.Collector, error) {
	if *f.top < 0 {
		return nil, usageError{errors.New("--process.top must be 0 (all) or more")}
	}
	if *f.cmdline <= 0 {
		return nil, usageError{errors.New("--process.cmdline-length must be more than 0")}
	}
	if *f.includeMax <= 0 {
		return nil, usageError{errors.New("--process.include-max must be more than 0")}
	}
	var include *regexp.Regexp
	if *f.include != "" {
		re, err := regexp.Compile(*f.include)
		if err != nil {
			return nil, usageError{fmt.Errorf("--process.include-regex: %w", err)}
		}
		include = re
	}
	c, err := promexp.New(promexp.Options{
		TopN: *f.top, CmdlineLength: *f.cmdline, Compat: f.compatModes(), Sensor: sensorName,
		Include: include, IncludeMax: *f.includeMax,
		NodeName: k.node, CPUs: k.cpus,
		Containers: f.containers.enabled, Names: f.containers.names(),
	})
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// setupPrometheus declares the prometheus command: the sampler ticks every
// --step whether or not anyone scrapes, and scrapes read its latest
// snapshot.
func setupPrometheus(cmd *kingpin.CmdClause) action {
	webFlags := kingpinflag.AddFlags(cmd, promexp.DefaultListenAddress)
	var listenSet, pathSet bool
	cmd.GetFlag("web.listen-address").IsSetByUser(&listenSet)
	metricsPath := cmd.Flag("web.telemetry-path", "Path under which to expose metrics.").Default(promexp.DefaultMetricsPath).IsSetByUser(&pathSet).String()
	scaph := bindScaphandreListen(cmd)
	qemuFlag(cmd, false)
	stopAfter := durationFlag(cmd.Flag("timeout", "Stop after this long, in seconds or as a duration; 0 runs until interrupted.").Short('t'), "0")
	maxRequests := intFlag(cmd.Flag("web.max-requests", "Most scrapes served at once; more wait for their turn (up to 10 s), then get 503. 0 means no limit.").Default("40"))
	noExporterMetrics := cmd.Flag("web.disable-exporter-metrics", "Leave out the go_* and promhttp_* metrics about the agent itself.").Bool()
	step := stepFlag(cmd, "Measuring interval: seconds (2) or a duration (500ms). Scrapes never change it.", "2")
	cf := bindCollectorFlags(cmd)
	pf := bindPageFlags(cmd)
	sf := bindServeFlags(cmd)

	return func(ctx context.Context, e *env) error {
		// Scaphandre's -a/-p/-s name the address and path: they apply
		// before the sockets open.
		if err := scaph.apply(webFlags.WebListenAddresses, listenSet, metricsPath, pathSet); err != nil {
			return err
		}
		ls, err := listen("prometheus", webFlags)
		if err != nil {
			return err
		}
		defer closeListeners(ls) // if it ends before serving them
		log := e.log.With("exporter", "prometheus")
		so, err := sf.options(e, *webFlags.WebListenAddresses, *metricsPath)
		if err != nil {
			return err
		}
		smp, col, stop, err := cf.start(ctx, e)
		if err != nil {
			return err
		}
		defer stop()
		reg := prometheus.NewRegistry()
		reg.MustRegister(col)
		if !*noExporterMetrics {
			reg.MustRegister(collectors.NewGoCollector())
		}
		hub, page, err := pf.page(e, cf.containers, *metricsPath)
		if err != nil {
			return err
		}
		h, err := promexp.NewHandler(reg, promexp.HandlerOptions{
			MetricsPath: *metricsPath, MaxRequests: *maxRequests, NoExporterMetrics: *noExporterMetrics, Logger: log, Root: page,
		})
		if err != nil {
			return usageError{err}
		}

		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(ctx, hub.Close)()
		var wg sync.WaitGroup
		wg.Go(func() {
			_ = e.loop(ctx, smp, *step, *stopAfter, cf.exporters(col, hub)...)
			if *stopAfter > 0 {
				cancel() // --timeout: the server stops with the loop
			}
		})
		err = promexp.ServeOn(ctx, ls, h, webFlags, so, log)
		cancel()
		wg.Wait()
		if err != nil {
			return fmt.Errorf("prometheus: %w", err)
		}
		return nil
	}
}
