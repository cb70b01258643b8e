// Package hwmon is the hwmon sensor: energy and power channels of Linux
// hwmon devices under <sysfs>/class/hwmon/hwmon*/
// (Documentation/hwmon/sysfs-interface.rst: energyN_input in µJ,
// powerN_input and powerN_average in µW).
//
// Only drivers whose channels have a known meaning become zones (see
// drivers): amd_energy/zenergy socket counters (KindPackage) and the ACPI
// power meter (KindPsys). Energy counters are reported as read, with
// MaxRange 0 (the drivers accumulate them to 64 bits; a counter going
// backwards is a reset). Power channels are integrated over time by the
// trapezoid rule into cumulative µJ counters, starting when the sensor is
// created.
package hwmon

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

// Name is the sensor's registry name.
const Name = "hwmon"

// New returns the hwmon sensor. It fails with sensor.ErrUnavailable when
// no hwmon device has a known energy or power channel, and with
// sensor.ErrPermission when there are some but none can be read (the
// amd_energy counters are root-only since CVE-2020-12912).
func New(opts sensor.Options) (sensor.Sensor, error) {
	return newSensor(opts, time.Now)
}

type zone struct {
	power.Zone
	file  string
	power *counter.Integrator // nil for an energy counter
}

type hwmonSensor struct {
	now   func() time.Time
	zones []*zone

	mu sync.Mutex
}

// newSensor is New with an injected clock (it must carry a monotonic
// reading, as time.Now's does).
func newSensor(opts sensor.Options, now func() time.Time) (*hwmonSensor, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("sensor", Name)
	classDir := filepath.Join(cmp.Or(opts.SysFS, "/sys"), "class", "hwmon")
	devs, err := listDevices(classDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s", sensor.ErrUnavailable, classDir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sensor.ErrUnavailable, err)
	}

	s := &hwmonSensor{now: now}
	var denied []string
	for _, d := range devs {
		if len(d.channels) == 0 {
			log.Debug("hwmon device without energy or power channels", "hwmon", d.id, "name", d.name)
			continue
		}
		drv, ok := driverFor(d.name)
		if !ok {
			log.Debug("hwmon driver not known, channels skipped", "hwmon", d.id, "name", d.name, "channels", len(d.channels))
			continue
		}
		for _, ch := range d.channels {
			spec, ok := drv.classify(ch)
			if !ok {
				continue
			}
			z, err := s.probe(d, ch, spec)
			if err != nil {
				if isPermission(err) {
					denied = append(denied, ch.file)
				}
				log.Debug("hwmon channel unreadable, dropped", "file", ch.file, "err", err)
				continue
			}
			s.zones = append(s.zones, z)
		}
	}
	if len(s.zones) == 0 {
		if len(denied) > 0 {
			return nil, fmt.Errorf("%w: %d hwmon channels unreadable, e.g. %s: run as root", sensor.ErrPermission, len(denied), denied[0])
		}
		return nil, fmt.Errorf("%w: no hwmon device under %s with a known energy or power channel (amd_energy, zenergy, power_meter)",
			sensor.ErrUnavailable, classDir)
	}
	return s, nil
}

// probe reads a channel once; for a power channel that reading is the
// integrator's starting point.
func (s *hwmonSensor) probe(d device, ch channel, spec zoneSpec) (*zone, error) {
	v, err := readUint(ch.file)
	if err != nil {
		return nil, err
	}
	z := &zone{
		Zone: power.Zone{
			ID:     "hwmon:" + d.id + ":" + ch.typ + strconv.Itoa(ch.index),
			Kind:   spec.kind,
			Socket: spec.socket,
			Name:   spec.name,
			Wall:   spec.wall,
			Source: power.Measured,
		},
		file: ch.file,
	}
	if ch.typ == "power" {
		z.power = &counter.Integrator{}
		z.power.Add(s.now(), units.Power(v))
	}
	return z, nil
}

// Name implements sensor.Sensor.
func (s *hwmonSensor) Name() string { return Name }

// Read implements sensor.Sensor.
func (s *hwmonSensor) Read() (power.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]power.Zone, 0, len(s.zones))
	for _, z := range s.zones {
		v, err := readUint(z.file)
		if err != nil {
			return power.Reading{}, fmt.Errorf("hwmon %s: %w", z.ID, err)
		}
		if z.power != nil {
			z.Energy = z.power.Add(s.now(), units.Power(v))
		} else {
			z.Energy = units.Energy(v)
		}
		out = append(out, z.Zone)
	}
	return power.Reading{Zones: out}, nil
}

// Method implements sensor.Describer.
func (s *hwmonSensor) Method() string {
	var parts []string
	for _, z := range s.zones {
		how := "energy counter"
		if z.power != nil {
			how = "power integrated over time"
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", z.file, how))
	}
	return "hwmon: " + strings.Join(parts, ", ")
}
