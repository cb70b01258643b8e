package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/exporter/stdout"
	"github.com/wattlens/wattlens/internal/model"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/estimate"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// setupCalibrate: on a machine with a measuring sensor, sample it beside
// the estimation model for a while, fit idle and slope to the readings and
// report how far the model's figures are from them.
func setupCalibrate(cmd *kingpin.CmdClause) action {
	dur := durationFlag(cmd.Flag("duration", "How long to sample: seconds or a duration. Vary the load meanwhile for a slope."), "60")
	step := stepFlag(cmd, "Sampling period: seconds or a duration.", "2")

	return func(ctx context.Context, e *env) error {
		if *dur < 2**step {
			return usageError{errors.New("--duration must cover at least two --step")}
		}
		est, err := estimate.NewWithClock(e.sensorOptions(), time.Now)
		if err != nil {
			return fmt.Errorf("the model cannot describe this machine: %w", err)
		}
		md := est.Model()
		smp, sen, err := e.newSampler()
		if err != nil {
			return err
		}
		defer closeSensor(sen, e.log)
		if err := canCalibrate(sen); err != nil {
			return err
		}

		var cal model.Calibrator
		var errSum float64
		var n int
		var measured bool
		began := time.Now()
		// On a terminal, a progress line through the (default 60 s) run.
		tty := stdout.IsTerminal(e.stderr)
		_ = e.loop(ctx, smp, *step, *dur, exportFunc(func(s *snapshot.Snapshot) {
			if tty {
				_, _ = fmt.Fprintf(e.stderr, "\rcalibrating: %s of %s, %d samples (Ctrl-C ends it early) ",
					time.Since(began).Round(time.Second), *dur, cal.Len())
			}
			if !s.SensorUp || s.Interval <= 0 {
				return
			}
			measured = s.Host.Source == power.Measured
			w := s.Host.Power.Watts()
			cal.Add(s.Utilisation, w)
			if w > 0 {
				errSum += math.Abs(modelled(md, s)-w) / w
				n++
			}
		}))
		if tty {
			_, _ = fmt.Fprint(e.stderr, "\r\033[K") // clear the progress line
		}
		if !measured {
			return errors.New("calibration needs a measuring sensor (powercap_rapl, perf_rapl, msr_rapl, hwmon); this one estimates")
		}
		var b strings.Builder
		took := *dur
		if ctx.Err() != nil { // a signal ended it before --duration
			took = time.Since(began).Round(time.Second)
			fmt.Fprintf(&b, "interrupted        after %s of %s: the figures cover that much\n", took, *dur)
		}
		fmt.Fprintf(&b, "samples            %d over %s from %s\n", cal.Len(), took, sen.Name())
		fmt.Fprintf(&b, "model              %s\n", md.Method())
		if n > 0 {
			fmt.Fprintf(&b, "model error        %.1f %% mean absolute, against the measured host power\n", 100*errSum/float64(n))
		}
		idle, slope, mape, ok := cal.Fit()
		if !ok {
			fmt.Fprintln(&b, "fit                not possible: the utilisation hardly varied (or the line is not physical); run a load during --duration")
			return writeOut(e.stdout, b.String())
		}
		fmt.Fprintf(&b, "fit                %.2f W + %.2f W × utilisation, %.1f %% mean absolute error\n", idle, slope, 100*mape)
		fmt.Fprintf(&b, "suggested          --idle-power %.1f\n", idle)
		return writeOut(e.stdout, b.String())
	}
}

// canCalibrate refuses, before any sampling, a sensor none of whose zones
// is measured (the estimate model, a VM share of an estimated host): the
// fit would compare the model with itself. A sensor that cannot be read
// now is let through; the check after sampling still applies.
func canCalibrate(sen sensor.Sensor) error {
	r, err := sen.Read()
	if err != nil || len(r.Zones) == 0 {
		return nil
	}
	for _, z := range r.Zones {
		if z.Source == power.Measured {
			return nil
		}
	}
	return usageError{fmt.Errorf("calibration needs a measuring sensor (powercap_rapl, msr_rapl, hwmon, redfish); %s only estimates: pick one with -s", sen.Name())}
}

// modelled is the model's figure for what the sensor measures: the CPU and
// memory parts for RAPL (packages + dram), the wall for a platform meter
// (psys, a BMC's wall zone).
func modelled(md model.Model, s *snapshot.Snapshot) float64 {
	b := md.Power(s.Utilisation)
	for _, z := range s.Zones {
		if z.Kind == power.KindPsys || z.Kind == power.KindWall {
			return b.Wall
		}
	}
	return b.CPU + b.Memory
}

func writeOut(w io.Writer, s string) error {
	_, err := io.WriteString(w, s)
	return err
}

// exportFunc adapts a function to the Exporter interface.
type exportFunc func(*snapshot.Snapshot)

func (f exportFunc) Export(_ context.Context, s *snapshot.Snapshot) error {
	f(s)
	return nil
}
