// Command fakerapl builds a fake powercap tree and drives its RAPL energy
// counters at given powers, for end-to-end tests that run it beside the
// real wattlens binary (pointed at the same --path.sysfs).
//
//	fakerapl --root DIR --layout intel-server-2s --watts intel-rapl:0=40,intel-rapl:1=25 \
//	         --max-range 50000000 --duration 10s --report written.json
//
// The report is JSON, {"zone id": joules written}, rewritten atomically
// every 250 ms and at exit. It first appears once the tree is built and
// the counters are moving: wait for it before starting the reader.
// With --duration 0 the command runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

const reportEvery = 250 * time.Millisecond

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakerapl:", err)
		os.Exit(1)
	}
}

type config struct {
	root     string
	layout   string
	watts    map[string]float64
	maxRange uint64
	duration time.Duration
	report   string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var watts string
	fs := flag.NewFlagSet("fakerapl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.root, "root", "", "directory standing for /sys; the tree is ROOT/class/powercap (required)")
	fs.StringVar(&c.layout, "layout", "intel-server-2s", "tree to build: intel-server-2s, intel-laptop, amd; empty to drive an existing tree")
	fs.StringVar(&watts, "watts", "", "zone=W,… the power to drive each zone at, e.g. intel-rapl:0=40,intel-rapl:0:0=5 (required)")
	fs.Uint64Var(&c.maxRange, "max-range", 0, "counter range in µJ written to each driven zone's max_energy_range_uj; 0 keeps the layout's")
	fs.DurationVar(&c.duration, "duration", 0, "how long to run; 0 until SIGINT or SIGTERM")
	fs.StringVar(&c.report, "report", "", "JSON file receiving {zone: joules written}")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.root == "" {
		return c, errors.New("--root is required")
	}
	var err error
	if c.watts, err = parseWatts(watts); err != nil {
		return c, err
	}
	return c, nil
}

// parseWatts parses "zone=W,zone=W".
func parseWatts(s string) (map[string]float64, error) {
	if s == "" {
		return nil, errors.New("--watts is required")
	}
	watts := make(map[string]float64)
	for item := range strings.SplitSeq(s, ",") {
		id, w, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || id == "" {
			return nil, fmt.Errorf("--watts: want zone=W, got %q", item)
		}
		v, err := strconv.ParseFloat(w, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("--watts: %s: want a non-negative number of watts, got %q", id, w)
		}
		watts[id] = v
	}
	return watts, nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if c.layout != "" {
		layout, err := powercaptest.LayoutByName(c.layout)
		if err != nil {
			return err
		}
		if err := powercaptest.Build(c.root, layout); err != nil {
			return err
		}
	}
	if c.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.duration)
		defer cancel()
	}
	adv := powercaptest.NewAdvancer(c.root, c.watts, c.maxRange)
	if err := adv.Start(ctx); err != nil {
		return err
	}
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	for {
		if err := writeReport(c.report, adv, c.watts); err != nil {
			return errors.Join(err, adv.Stop())
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			err := adv.Stop()
			return errors.Join(err, writeReport(c.report, adv, c.watts))
		}
	}
}

// writeReport writes {zone: joules written} to path atomically.
func writeReport(path string, adv *powercaptest.Advancer, zones map[string]float64) error {
	if path == "" {
		return nil
	}
	written := make(map[string]float64, len(zones))
	for id := range zones {
		written[id] = adv.Written(id)
	}
	data, err := json.Marshal(written)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(append(data, '\n'))
	err = errors.Join(err, f.Chmod(0o644), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}
