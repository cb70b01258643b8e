package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	neturl "net/url"
	"os"
	"strings"
	"sync"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wattlens/wattlens/internal/exporter/push"
	"github.com/wattlens/wattlens/internal/fdio"
)

// setupPush declares the prometheus-push command: the same metric set as
// prometheus, pushed (PUT, replacing the group) to a Pushgateway after
// every tick.
func setupPush(cmd *kingpin.CmdClause) action {
	var urlSet bool
	url := cmd.Flag("url", "Pushgateway URL.").Default("http://localhost:9091").IsSetByUser(&urlSet).String()
	job := cmd.Flag("job", "Job label of the pushed group.").Short('j').Default(push.DefaultJob).String()
	grouping := cmd.Flag("push.grouping", "Grouping label of the pushed group, KEY=VALUE; repeatable. instance defaults to the host name.").
		PlaceHolder("KEY=VALUE").StringMap()
	username := cmd.Flag("push.username", "Basic auth user name for the Pushgateway.").String()
	passwordFile := cmd.Flag("push.password-file", "File holding the basic auth password (needs --push.username).").PlaceHolder("FILE").String()
	tlsOpts := push.TLSOptions{}
	cmd.Flag("push.ca-file", "CA certificates (PEM) to trust for an https Pushgateway.").PlaceHolder("FILE").StringVar(&tlsOpts.CAFile)
	cmd.Flag("push.cert-file", "Client certificate (PEM) for mutual TLS.").PlaceHolder("FILE").StringVar(&tlsOpts.CertFile)
	cmd.Flag("push.key-file", "Client key (PEM) for mutual TLS.").PlaceHolder("FILE").StringVar(&tlsOpts.KeyFile)
	cmd.Flag("push.insecure-skip-verify", "Do not verify the Pushgateway's certificate.").BoolVar(&tlsOpts.InsecureSkipVerify)
	scaph := bindScaphandrePush(cmd, &tlsOpts.InsecureSkipVerify)
	qemuFlag(cmd, false)
	timeout := durationFlag(cmd.Flag("push.timeout", "Timeout of one push attempt; retries fill the rest of the step."), "5s")
	step := stepFlag(cmd, "Measuring and pushing interval: seconds (15) or a duration (1m). Scaphandre's -s after the command.", "15")
	stopAfter := durationFlag(cmd.Flag("timeout", "Stop after this long; 0 runs until interrupted.").Short('t'), "0")
	cf := bindCollectorFlags(cmd)

	return func(ctx context.Context, e *env) error {
		if *timeout <= 0 {
			return usageError{errors.New("--push.timeout must be more than 0")}
		}
		if u, err := scaph.url(urlSet); err != nil {
			return err
		} else if u != "" {
			*url = u
		}
		opts := push.Options{
			URL: *url, Job: *job, Grouping: maps.Clone(*grouping), Username: *username,
			Timeout: min(*timeout, *step), Budget: *step, Logger: e.log.With("exporter", "prometheus-push"),
		}
		if opts.Grouping == nil {
			opts.Grouping = map[string]string{}
		}
		if _, ok := opts.Grouping["instance"]; !ok {
			host, err := os.Hostname()
			if err != nil {
				return fmt.Errorf("host name for the instance label (give --push.grouping instance=NAME): %w", err)
			}
			opts.Grouping["instance"] = host
		}
		if *username != "" && *passwordFile == "" {
			return usageError{errors.New("--push.username needs --push.password-file")}
		}
		if *passwordFile != "" {
			if *username == "" {
				return usageError{errors.New("--push.password-file needs --push.username")}
			}
			b, err := fdio.ReadFile(*passwordFile, 64<<10)
			if err != nil {
				return usageError{fmt.Errorf("--push.password-file: %w", err)} // as a missing --push.ca-file: exit 2
			}
			opts.Password = strings.TrimRight(string(b), "\r\n")
		}
		var err error
		if opts.TLS, err = tlsOpts.Config(); err != nil {
			return usageError{err}
		}

		smp, col, stop, err := cf.start(ctx, e)
		if err != nil {
			return err
		}
		defer stop()
		reg := prometheus.NewRegistry()
		reg.MustRegister(col)
		p, err := push.New(reg, opts)
		if err != nil {
			return usageError{err}
		}
		where := redactURL(*url)
		opts.Logger.Info("pushing Prometheus metrics to a Pushgateway", "url", where, "job", *job,
			"grouping", fmt.Sprint(opts.Grouping), "step", *step)

		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wg sync.WaitGroup
		wg.Go(func() { p.Run(ctx) })
		err = e.loop(ctx, smp, *step, *stopAfter, cf.exporters(col, p)...)
		cancel()
		wg.Wait()
		if err == nil && p.Delivered() == 0 {
			return fmt.Errorf("prometheus-push: nothing was delivered: the Pushgateway at %s accepted no push (see the warnings above)", where)
		}
		return err
	}
}

// redactURL is u for a log line, with any password in it replaced by xxxxx.
func redactURL(u string) string {
	p, err := neturl.Parse(u)
	if err != nil {
		return u
	}
	return p.Redacted()
}
