package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

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
}

func bindCollectorFlags(cmd *kingpin.CmdClause) *collectorFlags {
	return &collectorFlags{
		top: intFlag(cmd.Flag("process.top", "Processes with series of their own: the top N by energy over the last step; 0 for all (one series per process: mind the cardinality).").
			Default("20")),
		cmdline: intFlag(cmd.Flag("process.cmdline-length", "Longest cmdline label, in bytes; longer ones are cut and end with …").
			Default("256")),
		compat: cmd.Flag("compat", "Also serve another tool's metric names: "+strings.Join(promexp.CompatModes, ", ")+" (Scaphandre's scaph_* metrics). Repeatable.").
			PlaceHolder("TOOL").Enums(promexp.CompatModes...),
		containers: containerFlags(cmd),
	}
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
	if col, err = f.collector(sen.Name()); err != nil {
		stop()
		return nil, nil, nil, err
	}
	return smp, col, stop, nil
}

// collector builds the collector the flags describe.
func (f *collectorFlags) collector(sensorName string) (*promexp.Collector, error) {
	if *f.top < 0 {
		return nil, usageError{errors.New("--process.top must be 0 (all) or more")}
	}
	if *f.cmdline <= 0 {
		return nil, usageError{errors.New("--process.cmdline-length must be more than 0")}
	}
	c, err := promexp.New(promexp.Options{
		TopN: *f.top, CmdlineLength: *f.cmdline, Compat: *f.compat, Sensor: sensorName,
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
	metricsPath := cmd.Flag("web.telemetry-path", "Path under which to expose metrics.").Default(promexp.DefaultMetricsPath).String()
	maxRequests := intFlag(cmd.Flag("web.max-requests", "Most scrapes served at once; more wait for their turn (up to 10 s), then get 503. 0 means no limit.").Default("40"))
	noExporterMetrics := cmd.Flag("web.disable-exporter-metrics", "Leave out the go_* and promhttp_* metrics about the agent itself.").Bool()
	step := stepFlag(cmd, "Measuring interval: seconds (2) or a duration (500ms). Scrapes never change it.", "2")
	cf := bindCollectorFlags(cmd)
	pf := bindPageFlags(cmd)
	sf := bindServeFlags(cmd)

	return func(ctx context.Context, e *env) error {
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
		wg.Go(func() { _ = e.loop(ctx, smp, *step, 0, col, hub) })
		err = promexp.ServeOn(ctx, ls, h, webFlags, so, log)
		cancel()
		wg.Wait()
		if err != nil {
			return fmt.Errorf("prometheus: %w", err)
		}
		return nil
	}
}
