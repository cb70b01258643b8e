// Package config holds the agent's configuration as a plain value, its
// defaults and its validation. Flags are parsed in cmd/wattlens only; this
// package never sees a flag.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wattlens/wattlens/internal/snapshot"
)

// Defaults.
const (
	DefaultSysFS      = "/sys"
	DefaultProcFS     = "/proc"
	DefaultDevFS      = "/dev"
	DefaultVMPath     = "/var/wattlens"
	DefaultIdlePolicy = snapshot.IdleSeparate
	DefaultStep       = 2 * time.Second
	// MinStep is the shortest --step: below it the agent spends its time
	// reading /proc rather than measuring, and RAPL's own update period
	// (about 1 ms, with jitter) becomes a visible share of the interval.
	MinStep = 100 * time.Millisecond
)

// The --cpu-source values: auto uses the eBPF source where it loads and
// procfs elsewhere.
const (
	CPUSourceAuto   = "auto"
	CPUSourceEBPF   = "ebpf"
	CPUSourceProcfs = "procfs"
)

// CPUSources are the accepted --cpu-source values.
var CPUSources = []string{CPUSourceAuto, CPUSourceEBPF, CPUSourceProcfs}

// IdlePolicies are the accepted --idle-policy values.
var IdlePolicies = []string{snapshot.IdleSeparate, snapshot.IdleShared}

// Config is what the global flags say.
type Config struct {
	// Sensors is the sensor set: ["auto"], or one or more sensor names.
	Sensors []string
	SysFS   string
	ProcFS  string
	DevFS   string
	// VM runs as a guest of a wattlens host, reading VMPath.
	VM bool
	// NoHeader (--no-header, Scaphandre's) leaves out the stdout exporter's
	// banner.
	NoHeader bool
	VMPath   string
	// IdlePower overrides the idle baseline when IdlePowerSet.
	IdlePower    float64 // watts
	IdlePowerSet bool
	IdlePolicy   string
	LogLevel     slog.Level
	LogFormat    string // "logfmt" or "json"
	// CPUSource is where per-process CPU time comes from: CPUSourceAuto,
	// CPUSourceEBPF or CPUSourceProcfs.
	CPUSource string
	// Redfish configures the redfish sensor.
	Redfish Redfish
}

// Default returns the configuration with every default filled in.
func Default() Config {
	return Config{
		Sensors:    []string{"auto"},
		SysFS:      DefaultSysFS,
		ProcFS:     DefaultProcFS,
		DevFS:      DefaultDevFS,
		VMPath:     DefaultVMPath,
		IdlePolicy: DefaultIdlePolicy,
		LogLevel:   slog.LevelInfo,
		LogFormat:  "logfmt",
		CPUSource:  CPUSourceAuto,
		Redfish:    Redfish{Timeout: DefaultRedfishTimeout, Interval: DefaultRedfishInterval},
	}
}

// Validate checks c against the known sensor names. Its errors are one
// line and name the valid choices.
func (c Config) Validate(knownSensors []string) error {
	if len(c.Sensors) == 0 {
		return fmt.Errorf("no sensor given; valid sensors: auto, %s", strings.Join(knownSensors, ", "))
	}
	for i, s := range c.Sensors {
		if slices.Contains(c.Sensors[:i], s) {
			return fmt.Errorf("sensor %q given twice: each sensor may appear once in --sensor", s)
		}
		if s == "auto" && len(c.Sensors) == 1 {
			continue
		}
		if !slices.Contains(knownSensors, s) {
			return fmt.Errorf("unknown sensor %q; valid sensors: auto, %s", s, strings.Join(knownSensors, ", "))
		}
	}
	if err := c.Redfish.Validate(); err != nil {
		return err
	}
	if !slices.Contains(IdlePolicies, c.IdlePolicy) {
		return fmt.Errorf("unknown idle policy %q; valid policies: %s", c.IdlePolicy, strings.Join(IdlePolicies, ", "))
	}
	if c.IdlePowerSet && !(c.IdlePower >= 0 && c.IdlePower <= 1e6) { // NaN fails both
		return fmt.Errorf("idle power %g W out of range: give watts between 0 and 1000000", c.IdlePower)
	}
	return nil
}

// ParseSensors splits a comma-separated sensor list.
func ParseSensors(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// ParseDuration accepts plain seconds ("2", "0.5", as Scaphandre does) or a
// Go duration ("2s", "500ms"). Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration: give seconds (2) or a duration (2s, 500ms)")
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("bad duration %q: give a finite number of seconds", s)
		}
		if f > float64(1<<62)/float64(time.Second) {
			return 0, fmt.Errorf("duration %q too long", s)
		}
		d = time.Duration(f * float64(time.Second))
	} else {
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q: give seconds (2) or a duration (2s, 500ms)", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

// ParseStep parses a --step: a duration as ParseDuration reads it, of at
// least MinStep.
func ParseStep(s string) (time.Duration, error) {
	d, err := ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < MinStep {
		return 0, fmt.Errorf("step %q is shorter than the minimum %s", strings.TrimSpace(s), MinStep)
	}
	return d, nil
}
