package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/config"
	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/sensor/registry"
)

// Scaphandre's command lines, unchanged (docs/scaphandre.md has the
// table). Scaphandre 1.0 parses `scaphandre [GLOBAL] <exporter> [OPTS]`
// with clap, where the exporter's own -s (stdout, json, prometheus-push:
// the step; prometheus: the path suffix) is a different flag from the
// global -s/--sensor before the exporter. kingpin refuses a command flag
// whose short name a global flag has, and would read -s after the
// exporter as the sensor again; so scaphandreArgs rewrites an exporter's
// -s to its long name before kingpin parses. Every other Scaphandre flag
// is declared as it is, beside wattlens's own name for the same idea.

// exporterShortS is what -s means after each exporter that has one.
var exporterShortS = map[string]string{
	"stdout":          "step",
	"json":            "step",
	"prometheus-push": "step",
	"prometheus":      "suffix",
}

// scaphandreArgs returns args with the exporter's -s (after the command)
// written as its long flag: `stdout -t 10 -s 2` → `stdout -t 10 --step 2`.
// Global flags, before the command, are left as they are. A sensor name
// given to an exporter's -s as a step is refused with the fix.
func scaphandreArgs(app *kingpin.Application, args []string) ([]string, error) {
	cmd := commandIndex(app, args)
	if cmd < 0 {
		return args, nil
	}
	long, ok := exporterShortS[args[cmd]]
	if !ok {
		return args, nil
	}
	out := slices.Clone(args)
	for i := cmd + 1; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		// Scaphandre's stdout -t -1 (run forever): kingpin would read
		// "-1" as a flag.
		if (a == "-t" || a == "--timeout") && i+1 < len(out) && isNegativeNumber(out[i+1]) {
			out[i], out[i+1] = "--timeout="+out[i+1], ""
			out = slices.Delete(out, i+1, i+2)
			continue
		}
		if a != "-s" && !strings.HasPrefix(a, "-s") {
			continue
		}
		if a == "-s" && i+1 < len(out) && long == "step" && isSensorName(out[i+1]) {
			return nil, usageError{fmt.Errorf("after %q, -s is the step in seconds (as in Scaphandre); to choose the sensor, put -s %s before the command: wattlens -s %s %s …",
				args[cmd], out[i+1], out[i+1], args[cmd])}
		}
		if a == "-s" {
			out[i] = "--" + long
		} else {
			out[i] = "--" + long + "=" + strings.TrimPrefix(strings.TrimPrefix(a, "-s"), "=")
		}
	}
	return out, nil
}

// isNegativeNumber reports whether s is a negative number (-1, -0.5).
func isNegativeNumber(s string) bool {
	if !strings.HasPrefix(s, "-") {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// isSensorName reports whether s names a sensor (or several, or auto).
func isSensorName(s string) bool {
	names := registry.Names()
	for _, n := range config.ParseSensors(s) {
		if n != "auto" && !slices.Contains(names, n) {
			return false
		}
	}
	return s != ""
}

// commandIndex is the index in args of the command, past the global flags
// and their values; -1 when there is none. A flag's arity comes from the
// application's own model, so it follows whatever flags are declared.
func commandIndex(app *kingpin.Application, args []string) int {
	takesValue := map[string]bool{}
	shortValue := map[rune]bool{}
	for _, f := range app.Model().Flags {
		takesValue[f.Name] = !f.IsBoolFlag()
		if f.Short != 0 {
			shortValue[f.Short] = !f.IsBoolFlag()
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return i + 1
			}
			return -1
		case strings.HasPrefix(a, "--"):
			name := a[2:]
			if strings.Contains(name, "=") {
				continue
			}
			if takesValue[name] {
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			// A cluster of short flags: the first that takes a value
			// takes the rest of the cluster, or the next argument.
			for j, r := range a[1:] {
				if shortValue[r] {
					if j == len(a[1:])-len(string(r)) {
						i++
					}
					break
				}
			}
		default:
			return i
		}
	}
	return -1
}

// scaphandreGlobal are Scaphandre's global flags that wattlens has no
// flag of its own for.
type scaphandreGlobal struct {
	verbose *int
}

// bindScaphandreGlobal declares Scaphandre's global flags: -v (repeatable
// verbosity), --no-header, and the two sensor buffer sizes, which
// wattlens accepts and does not need (it keeps two readings per counter,
// whatever the size).
func bindScaphandreGlobal(app *kingpin.Application, cfg *config.Config) *scaphandreGlobal {
	g := &scaphandreGlobal{}
	g.verbose = app.Flag("verbose", "More log lines: -v info, -vv debug (Scaphandre's -v; --log.level sets the level by name).").Short('v').Counter()
	app.Flag("no-header", "Print no banner before the stdout exporter's reports (Scaphandre's --no-header).").BoolVar(&cfg.NoHeader)
	var kb uint16
	app.Flag("sensor-buffer-per-domain-max-kb", "Accepted for Scaphandre's command lines; wattlens keeps two readings per counter and needs no buffer.").
		Hidden().Uint16Var(&kb)
	app.Flag("sensor-buffer-per-socket-max-kb", "Accepted for Scaphandre's command lines; wattlens keeps two readings per counter and needs no buffer.").
		Hidden().Uint16Var(&kb)
	return g
}

// logLevel is the level -v asks for; ok is false without -v.
func (g *scaphandreGlobal) logLevel() (level string, ok bool) {
	switch {
	case *g.verbose >= 2:
		return "debug", true
	case *g.verbose == 1:
		return "info", true
	}
	return "", false
}

// foreverValue is Scaphandre's stdout --timeout: seconds or a duration,
// where a negative number runs until interrupted (as 0 does in wattlens).
type foreverValue struct{ durationValue }

func (v foreverValue) Set(s string) error {
	if f, err := strconv.ParseFloat(strings.TrimSpace(shortEquals(s)), 64); err == nil && f < 0 {
		*v.d = 0
		return nil
	}
	return v.durationValue.Set(s)
}

// scaphandreListen is the prometheus command's -a/--address, -p/--port
// and -s/--suffix (Scaphandre's), beside --web.listen-address and
// --web.telemetry-path.
type scaphandreListen struct {
	address, port, suffix *string
}

func bindScaphandreListen(cmd *kingpin.CmdClause) *scaphandreListen {
	return &scaphandreListen{
		address: cmd.Flag("address", "Address to listen on, with --port (Scaphandre's form; default 0.0.0.0). --web.listen-address is wattlens's.").
			Short('a').PlaceHolder("ADDRESS").String(),
		port: cmd.Flag("port", "Port to listen on, with --address (Scaphandre's form; default 8080).").
			Short('p').PlaceHolder("PORT").String(),
		suffix: cmd.Flag("suffix", "Serve the metrics at /SUFFIX (Scaphandre's -s/--suffix); --web.telemetry-path is wattlens's.").
			PlaceHolder("SUFFIX").String(),
	}
}

// apply writes -a/-p and -s into the listen addresses and metrics path;
// both forms at once are refused.
func (l *scaphandreListen) apply(addrs *[]string, addrsSet bool, path *string, pathSet bool) error {
	if *l.address != "" || *l.port != "" {
		if addrsSet {
			return usageError{fmt.Errorf("give --web.listen-address or -a/--address and -p/--port, not both")}
		}
		host, port := *l.address, *l.port
		if host == "" {
			host = "0.0.0.0"
		}
		if port == "" {
			port = "8080"
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return usageError{fmt.Errorf("-p/--port: want a port number from 1 to 65535, got %q", port)}
		}
		*addrs = []string{net.JoinHostPort(host, port)}
	}
	if *l.suffix != "" {
		if pathSet {
			return usageError{fmt.Errorf("give --web.telemetry-path or -s/--suffix, not both")}
		}
		*path = "/" + strings.TrimLeft(*l.suffix, "/")
	}
	return nil
}

// scaphandrePush is the prometheus-push command's Scaphandre flags:
// -H/--host, -p/--port, -S/--scheme, --suffix and --no-tls-check, beside
// --url and --push.insecure-skip-verify.
type scaphandrePush struct {
	host, port, scheme, suffix *string
}

func bindScaphandrePush(cmd *kingpin.CmdClause, insecure *bool) *scaphandrePush {
	p := &scaphandrePush{
		host:   cmd.Flag("host", "Pushgateway host (Scaphandre's form, with --port, --scheme, --suffix; default localhost). --url is wattlens's.").Short('H').PlaceHolder("HOST").String(),
		port:   cmd.Flag("port", "Pushgateway port (Scaphandre's form; default 9091).").Short('p').PlaceHolder("PORT").String(),
		scheme: cmd.Flag("scheme", "http or https (Scaphandre's form; default http).").Short('S').PlaceHolder("SCHEME").String(),
		suffix: cmd.Flag("suffix", "Path of the Pushgateway's API, ending in metrics (Scaphandre's form; default metrics).").PlaceHolder("SUFFIX").String(),
	}
	cmd.Flag("no-tls-check", "Do not verify the Pushgateway's certificate (Scaphandre's name for --push.insecure-skip-verify).").BoolVar(insecure)
	return p
}

// url is the Pushgateway URL -H/-p/-S/--suffix give, or "" when none is
// given. The push client adds /metrics/job/<job>/…, so a suffix must end
// in "metrics"; what comes before is the URL's path.
func (p *scaphandrePush) url(urlSet bool) (string, error) {
	if *p.host == "" && *p.port == "" && *p.scheme == "" && *p.suffix == "" {
		return "", nil
	}
	if urlSet {
		return "", usageError{fmt.Errorf("give --url or -H/--host, -p/--port, -S/--scheme, --suffix, not both")}
	}
	host, port, scheme, suffix := *p.host, *p.port, *p.scheme, strings.Trim(*p.suffix, "/")
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = "9091"
	}
	if scheme == "" {
		scheme = "http"
	}
	if suffix == "" {
		suffix = "metrics"
	}
	if scheme != "http" && scheme != "https" {
		return "", usageError{fmt.Errorf("-S/--scheme: want http or https, got %q", scheme)}
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", usageError{fmt.Errorf("-p/--port: want a port number from 1 to 65535, got %q", port)}
	}
	if suffix != "metrics" && !strings.HasSuffix(suffix, "/metrics") {
		return "", usageError{fmt.Errorf("--suffix %q: a Pushgateway's API path ends in metrics", *p.suffix)}
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: "/" + strings.TrimSuffix(strings.TrimSuffix(suffix, "metrics"), "/")}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// stepNano is json's --step-nano: nanoseconds added to --step, as in
// Scaphandre.
func stepNano(cmd *kingpin.CmdClause) *uint64 {
	return cmd.Flag("step-nano", "Nanoseconds added to --step (Scaphandre's form).").Default("0").Uint64()
}

// withNano is step + n nanoseconds, at least config.MinStep.
func withNano(step time.Duration, n uint64) (time.Duration, error) {
	if n > uint64(time.Hour) {
		return 0, usageError{fmt.Errorf("--step-nano %d: want less than an hour", n)}
	}
	d := step + time.Duration(n)
	if d < config.MinStep {
		return 0, usageError{fmt.Errorf("--step with --step-nano gives %s; want at least %s", d, config.MinStep)}
	}
	return d, nil
}

// qemuFlag is Scaphandre's --qemu (stdout: -q/--qemu): wattlens names
// every qemu/KVM guest's process whatever the flag says (the vm of
// processes, wattlens_vm_* series), so it is accepted for its command
// lines and changes nothing.
func qemuFlag(cmd *kingpin.CmdClause, short bool) {
	f := cmd.Flag("qemu", "Accepted for Scaphandre's command lines: wattlens always names qemu/KVM guests (the vm field and wattlens_vm_* series).")
	if short {
		f.Short('q')
	}
	f.Bool()
}

// foreverFlag declares stdout's --timeout: a duration with a default,
// where a negative number of seconds runs until interrupted (Scaphandre)
// as 0 does.
func foreverFlag(f *kingpin.FlagClause, def string) *time.Duration {
	v := new(time.Duration)
	f.Default(def).SetValue(foreverValue{durationValue{name: flagName(f), d: v}})
	return v
}

// intVar declares a whole-number flag into an existing variable: an alias
// of another flag (declare it without a default; the main flag's default
// is set first, and the last flag given wins).
func intVar(f *kingpin.FlagClause, dst *int) {
	f.SetValue(intValue{name: flagName(f), i: dst})
}

// containerFilter adds json's --container-regex (Scaphandre's) to the
// process filter f: a process is listed when f keeps it (or there is no
// f) and it is in a container whose name, as known at this tick, matches.
func containerFilter(f *exporter.Filter, expr string, containers *containerOpts) (*exporter.Filter, error) {
	if expr == "" {
		return f, nil
	}
	if !containers.enabled {
		return nil, usageError{errors.New("--container-regex needs --containers")}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, usageError{fmt.Errorf("--container-regex: %w", err)}
	}
	return exporter.NewFuncFilter("container "+expr, func(m *procinfo.Meta) bool {
		if m == nil || (f != nil && !f.Match(m)) {
			return false
		}
		w := container.WorkloadOf(m.Workload)
		if w == nil || w.Kind != container.KindContainer {
			return false
		}
		name, _, _ := w.CurrentNames(containers.names())
		return re.MatchString(name)
	}), nil
}
