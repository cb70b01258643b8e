package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/exporter/promexp"
	"github.com/wattlens/wattlens/internal/exporter/web"
	"github.com/wattlens/wattlens/internal/version"
)

// pageFlags are the live page's flags, the same for the web command and
// the prometheus command, which serves the page at "/".
type pageFlags struct {
	top        *int
	maxClients *int
	history    *time.Duration
}

func bindPageFlags(cmd *kingpin.CmdClause) *pageFlags {
	return &pageFlags{
		top: cmd.Flag("web.page.top", "Processes, containers, pods and VMs listed on the live page.").
			Default("10").Int(),
		maxClients: cmd.Flag("web.page.max-clients", "Most browsers following the live page at once; more get 503 and retry.").
			Default("32").Int(),
		history: durationFlag(cmd.Flag("web.page.history", "How far back the live page's chart goes."), web.DefaultHistory.String()),
	}
}

// page builds the live page: the hub that the sampler feeds and its
// handler. metricsPath is linked from the page when not empty; containers
// are the command's --containers flags, after their hook has started.
func (f *pageFlags) page(e *env, containers *containerOpts, metricsPath string) (*web.Hub, http.Handler, error) {
	if *f.top <= 0 {
		return nil, nil, usageError{errors.New("--web.page.top must be more than 0")}
	}
	if *f.maxClients <= 0 {
		return nil, nil, usageError{errors.New("--web.page.max-clients must be more than 0")}
	}
	if *f.history <= 0 {
		return nil, nil, usageError{errors.New("--web.page.history must be more than 0")}
	}
	hub := web.New(web.Options{
		TopN: *f.top, MaxClients: *f.maxClients, History: *f.history,
		Containers: containers.enabled, Names: containers.names(),
		MetricsPath: metricsPath, Version: version.String(), Logger: e.log,
	})
	h, err := hub.Handler()
	if err != nil {
		return nil, nil, err
	}
	return hub, h, nil
}

// serveFlags bound the HTTP server of the prometheus and web commands.
type serveFlags struct {
	maxConnections *int
	allowedHosts   *[]string
}

func bindServeFlags(cmd *kingpin.CmdClause) *serveFlags {
	return &serveFlags{
		maxConnections: cmd.Flag("web.max-connections", "Most connections open at once; more are answered 503. 0: from the open-file limit (half of what it leaves after 256 kept for the sensors, at most 1024).").
			Default("0").Int(),
		allowedHosts: cmd.Flag("web.allowed-hosts", "Host names (the Host header) under which the live page and its API answer, besides IP addresses, localhost, this host's name and the listen addresses; others get 421 (DNS rebinding). Repeatable; * allows any.").
			PlaceHolder("NAME").Strings(),
	}
}

// options checks the flags and returns the server's bounds. listen are
// the --web.listen-address values; metricsPath is left out of the Host
// check ("" when there is none).
func (f *serveFlags) options(e *env, listen []string, metricsPath string) (promexp.ServeOptions, error) {
	if *f.maxConnections < 0 {
		return promexp.ServeOptions{}, usageError{errors.New("--web.max-connections must be 0 (from the open-file limit) or more")}
	}
	var lim unix.Rlimit
	nofile := uint64(8192)
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil {
		nofile = lim.Cur
	}
	max := promexp.DefaultMaxConnections(nofile)
	switch {
	case *f.maxConnections == 0:
	case *f.maxConnections > max:
		e.log.Warn("--web.max-connections lowered to keep file descriptors for the sensors",
			"asked", *f.maxConnections, "max_connections", max, "open_file_limit", nofile)
	default:
		max = *f.maxConnections
	}
	host, _ := os.Hostname()
	return promexp.ServeOptions{
		MaxConnections: max, MetricsPath: metricsPath,
		Hosts: promexp.NewHostCheck(*f.allowedHosts, listen, host),
	}, nil
}

// setupWeb declares the web command: the live page alone, on the same
// --web.* flags (address, TLS, basic auth) as the prometheus command.
func setupWeb(cmd *kingpin.CmdClause) action {
	webFlags := kingpinflag.AddFlags(cmd, promexp.DefaultListenAddress)
	step := stepFlag(cmd, "Measuring interval: seconds (2) or a duration (500ms). Browsers never change it.", "2")
	pf := bindPageFlags(cmd)
	sf := bindServeFlags(cmd)
	containers := containerFlags(cmd)

	return func(ctx context.Context, e *env) error {
		ls, err := listen("web", webFlags)
		if err != nil {
			return err
		}
		defer closeListeners(ls) // if it ends before serving them
		log := e.log.With("exporter", "web")
		so, err := sf.options(e, *webFlags.WebListenAddresses, "")
		if err != nil {
			return err
		}
		hook, stopContainers, err := containers.hook(ctx, e)
		if err != nil {
			return err
		}
		defer stopContainers()
		hub, h, err := pf.page(e, containers, "")
		if err != nil {
			return err
		}
		smp, sen, err := e.newSampler(hook)
		if err != nil {
			return err
		}
		defer closeSensor(sen, e.log)

		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// Streams never go idle: end them so that Shutdown can finish.
		defer context.AfterFunc(ctx, hub.Close)()
		var wg sync.WaitGroup
		wg.Go(func() { _ = e.loop(ctx, smp, *step, 0, hub) })
		err = promexp.ServeOn(ctx, ls, h, webFlags, so, log)
		cancel()
		wg.Wait()
		if err != nil {
			return fmt.Errorf("web: %w", err)
		}
		return nil
	}
}
