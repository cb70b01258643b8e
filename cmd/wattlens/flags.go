package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/config"
)

// Flag values that name their flag in every error and refuse what is not a
// finite number: kingpin's own Float64 and Int say only "strconv.ParseFloat:
// parsing "abc": invalid syntax", accept NaN and Inf, and an Int flag given
// "2.5" must not quietly become 2. A value error exits 2 (usage), as every
// other mistake on the command line does.

// flagName is how errors name a flag: "--step", or "-t/--timeout".
func flagName(f *kingpin.FlagClause) string {
	m := f.Model()
	if m.Short != 0 {
		return fmt.Sprintf("-%c/--%s", m.Short, m.Name)
	}
	return "--" + m.Name
}

// shortEquals drops the "=" of "-t=5": kingpin takes "=5" as the value of
// a short flag, where users mean 5.
func shortEquals(s string) string { return strings.TrimPrefix(s, "=") }

// durationValue is --timeout and friends: plain seconds or a Go duration,
// 0 or more.
type durationValue struct {
	name string
	d    *time.Duration
}

func (v durationValue) Set(s string) error {
	d, err := config.ParseDuration(shortEquals(s))
	if err != nil {
		return fmt.Errorf("%s: %w", v.name, err)
	}
	*v.d = d
	return nil
}

func (v durationValue) String() string { return v.d.String() }

// stepValue is a --step: a duration of at least config.MinStep.
type stepValue struct {
	name string
	d    *time.Duration
}

func (v stepValue) Set(s string) error {
	d, err := config.ParseStep(shortEquals(s))
	if err != nil {
		return fmt.Errorf("%s: %w", v.name, err)
	}
	*v.d = d
	return nil
}

func (v stepValue) String() string { return v.d.String() }

// stepFlag declares a command's --step: seconds or a duration, at least
// config.MinStep.
func stepFlag(cmd *kingpin.CmdClause, help, def string) *time.Duration {
	v := new(time.Duration)
	f := cmd.Flag("step", help)
	f.Default(def).SetValue(stepValue{name: flagName(f), d: v})
	return v
}

// durationFlag declares a duration flag with a default; kingpin parses
// the default through the same Set.
func durationFlag(f *kingpin.FlagClause, def string) *time.Duration {
	v := new(time.Duration)
	f.Default(def).SetValue(durationValue{name: flagName(f), d: v})
	return v
}

// floatValue is a finite float64 flag.
type floatValue struct {
	name string
	f    *float64
}

func (v floatValue) Set(s string) error {
	s = shortEquals(strings.TrimSpace(s))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%s: want a finite number, got %q", v.name, s)
	}
	*v.f = f
	return nil
}

func (v floatValue) String() string { return strconv.FormatFloat(*v.f, 'g', -1, 64) }

// floatFlag declares a finite float64 flag (NaN and ±Inf are refused).
func floatFlag(f *kingpin.FlagClause) *float64 {
	v := new(float64)
	f.SetValue(floatValue{name: flagName(f), f: v})
	return v
}

// floatVar is floatFlag into an existing variable.
func floatVar(f *kingpin.FlagClause, dst *float64) {
	f.SetValue(floatValue{name: flagName(f), f: dst})
}

// intValue is a whole-number flag: "2.5" is an error, not 2.
type intValue struct {
	name string
	i    *int
}

func (v intValue) Set(s string) error {
	s = shortEquals(strings.TrimSpace(s))
	i, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%s: want a whole number, got %q", v.name, s)
	}
	*v.i = i
	return nil
}

func (v intValue) String() string { return strconv.Itoa(*v.i) }

// intFlag declares a whole-number flag.
func intFlag(f *kingpin.FlagClause) *int {
	v := new(int)
	f.SetValue(intValue{name: flagName(f), i: v})
	return v
}
