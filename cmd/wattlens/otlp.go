package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/alecthomas/kingpin/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/wattlens/wattlens/internal/exporter/otlp"
	"github.com/wattlens/wattlens/internal/version"
)

// setupOTLP declares the otlp command: the snapshot of every step pushed
// as OpenTelemetry metrics to a collector over OTLP (gRPC or HTTP). The
// flags win over the OTEL_EXPORTER_OTLP_* variables, which apply where a
// flag is not given.
func setupOTLP(cmd *kingpin.CmdClause) action {
	var delivered deliveryCounter
	var co otlp.ClientOptions
	cmd.Flag("otlp.endpoint", "Collector: host:port, or a URL (http:// plaintext, https:// TLS; over HTTP a URL with no path gets /v1/metrics). Default: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4317 (gRPC) or localhost:4318 (HTTP).").
		PlaceHolder("ENDPOINT").StringVar(&co.Endpoint)
	cmd.Flag("otlp.protocol", "grpc or http (http/protobuf). Default: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL, else grpc.").
		PlaceHolder("PROTOCOL").StringVar(&co.Protocol)
	cmd.Flag("otlp.insecure", "Send in plaintext, without TLS, to a host:port endpoint (OTEL_EXPORTER_OTLP_INSECURE=true does the same).").BoolVar(&co.Insecure)
	headers := cmd.Flag("otlp.header", "Header sent with every export, KEY=VALUE; repeatable. Wins over a header of the same name in OTEL_EXPORTER_OTLP_HEADERS.").
		PlaceHolder("KEY=VALUE").StringMap()
	cmd.Flag("otlp.ca-file", "CA certificates (PEM) that verify the collector (OTEL_EXPORTER_OTLP_CERTIFICATE).").PlaceHolder("FILE").StringVar(&co.CAFile)
	cmd.Flag("otlp.cert-file", "Client certificate (PEM) for mutual TLS (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE).").PlaceHolder("FILE").StringVar(&co.CertFile)
	cmd.Flag("otlp.key-file", "Client key (PEM) for mutual TLS (OTEL_EXPORTER_OTLP_CLIENT_KEY).").PlaceHolder("FILE").StringVar(&co.KeyFile)
	cmd.Flag("otlp.compression", "gzip or none (OTEL_EXPORTER_OTLP_COMPRESSION).").PlaceHolder("COMPRESSION").StringVar(&co.Compression)
	timeout := durationFlag(cmd.Flag("otlp.timeout", "Timeout of one export attempt; 0 takes OTEL_EXPORTER_OTLP_TIMEOUT, else 10s."), "0")
	top := cmd.Flag("process.top", "Processes with series of their own: the top N by energy over the last step; 0 for all (one series per process: mind the cardinality).").
		Default("20").Int()
	cmdline := cmd.Flag("process.cmdline-length", "Longest process.command_line, in bytes; longer ones are cut and end with …").Default("256").Int()
	step := stepFlag(cmd, "Measuring and export interval: seconds (10) or a duration (500ms).", "10")
	stopAfter := durationFlag(cmd.Flag("timeout", "Stop after this long; 0 runs until interrupted."), "0")
	containers := containerFlags(cmd)

	act := func(ctx context.Context, e *env) error {
		if *top < 0 {
			return usageError{errors.New("--process.top must be 0 (all) or more")}
		}
		if *cmdline <= 0 {
			return usageError{errors.New("--process.cmdline-length must be more than 0")}
		}
		co.Headers, co.Timeout = *headers, *timeout
		client, resolved, err := otlp.NewClient(ctx, co)
		if err != nil {
			return usageError{err}
		}
		running := false // from then on Run shuts the client down
		defer func() {
			if !running {
				_ = client.Shutdown(context.Background())
			}
		}()
		res, err := otlpResource(ctx)
		if err != nil {
			return err
		}

		hook, stopContainers, err := containers.hook(ctx, e)
		if err != nil {
			return err
		}
		defer stopContainers()
		smp, sen, err := e.newSampler(hook)
		if err != nil {
			return err
		}
		defer closeSensor(sen, e.log)

		log := e.log.With("exporter", "otlp")
		delivered.Exporter = client
		x, err := otlp.New(otlp.Options{
			Client: &delivered, Resource: res, TopN: *top, CmdlineLength: *cmdline, Containers: containers.enabled,
			Sensor: sen.Name(), Timeout: resolved.Timeout, Endpoint: resolved.Endpoint, Logger: log,
		})
		if err != nil {
			return usageError{err}
		}
		log.Info("pushing OTLP metrics", "endpoint", resolved.Endpoint, "protocol", resolved.Protocol, "step", *step)
		delivered.endpoint = resolved.Endpoint

		// The sender outlives the loop: the loop's last, partial interval
		// is exported after the signal, and only then may the sender
		// stop, with that collection still to send.
		sendCtx, stopSending := context.WithCancel(context.WithoutCancel(ctx))
		defer stopSending()
		var wg sync.WaitGroup
		running = true
		wg.Go(func() { x.Run(sendCtx) })
		err = e.loop(ctx, smp, *step, *stopAfter, x)
		stopSending()
		wg.Wait()
		return err
	}
	return func(ctx context.Context, e *env) error {
		err := act(ctx, e)
		if err == nil && delivered.Exporter != nil && delivered.n.Load() == 0 {
			return fmt.Errorf("otlp: nothing was delivered: the collector at %s accepted no export (see the warnings above)", delivered.endpoint)
		}
		return err
	}
}

// deliveryCounter counts the exports a collector accepted, so that a run
// that delivered nothing can say so and exit non-zero.
type deliveryCounter struct {
	metric.Exporter
	endpoint string
	n        atomic.Int64
}

func (d *deliveryCounter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := d.Exporter.Export(ctx, rm)
	if err == nil {
		d.n.Add(1)
	}
	return err
}

// otlpResource describes this host: host.name, service.name wattlens and
// its version, the SDK's own attributes, then OTEL_RESOURCE_ATTRIBUTES and
// OTEL_SERVICE_NAME, which win.
func otlpResource(ctx context.Context) (*resource.Resource, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("host name for host.name: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("host.name", host),
			attribute.String("service.name", "wattlens"),
			attribute.String("service.version", version.Version),
		),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("otlp resource: %w", err)
	}
	return res, nil
}
