package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/config"
	"github.com/wattlens/wattlens/internal/polltest"
	"github.com/wattlens/wattlens/internal/porttest"
)

// parseOnly parses args as run does (the same application, the same
// Scaphandre rewrite) without running the command, and returns the
// command and the value of every flag: the globals under their names, the
// command's under "<command>.<flag>".
func parseOnly(t *testing.T, args []string) (string, map[string]string, error) {
	t.Helper()
	app := kingpin.New("wattlens", "")
	app.Terminate(nil)
	app.UsageWriter(io.Discard)
	app.ErrorWriter(io.Discard)
	cfg := config.Default()
	g := bindGlobal(app, &cfg)
	for _, c := range commands() {
		c.setup(app.Command(c.name, c.help))
	}
	args, err := scaphandreArgs(app, args)
	if err != nil {
		return "", nil, err
	}
	selected, err := app.Parse(args)
	if err == nil {
		err = g.finish(&cfg)
	}
	if err != nil {
		return "", nil, err
	}
	values := map[string]string{"log.level": cfg.LogLevel.String(), "no-header": boolString(cfg.NoHeader), "vm": boolString(cfg.VM)}
	for _, f := range app.Model().Flags {
		if _, ok := values[f.Name]; !ok {
			values[f.Name] = f.Value.String()
		}
	}
	for _, c := range app.Model().Commands {
		if c.Name != selected {
			continue
		}
		for _, f := range c.Flags {
			values[c.Name+"."+f.Name] = f.Value.String()
		}
	}
	return selected, values, nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestScaphandreCommandLines parses every Scaphandre 1.0 command line form
// of ../shared/reference/scaphandre.md §1 (flags of stdout, json,
// prometheus, prometheus-push and qemu, short forms, the global -s before
// the exporter and the exporter's -s after it) and checks the settings
// they give. Without scaphandre.go each of these fails to parse or gives
// another meaning (-s 2 read as a sensor named "2").
func TestScaphandreCommandLines(t *testing.T) {
	tests := []struct {
		args    string
		command string
		want    map[string]string
	}{
		{"stdout -t 10 -s 2", "stdout", map[string]string{"stdout.timeout": "10s", "stdout.step": "2s", "sensor": "auto"}},
		{"-s powercap_rapl stdout -t 3 -s 1", "stdout", map[string]string{"sensor": "powercap_rapl", "stdout.timeout": "3s", "stdout.step": "1s"}},
		{"stdout --timeout 5 --step 1 --processes 8", "stdout", map[string]string{"stdout.timeout": "5s", "stdout.step": "1s", "stdout.process.top": "8"}},
		{"stdout -t -1", "stdout", map[string]string{"stdout.timeout": "0s"}}, // negative: forever, as 0 in wattlens
		{"stdout -p 3", "stdout", map[string]string{"stdout.process.top": "3"}},
		{"stdout -r nginx", "stdout", map[string]string{"stdout.process.regex": "nginx"}},
		{"stdout --regex-filter ^bash$ --containers", "stdout", map[string]string{"stdout.process.regex": "^bash$", "stdout.containers": "true"}},
		{"stdout -q", "stdout", map[string]string{"stdout.qemu": "true"}},
		{"stdout --qemu -s=4", "stdout", map[string]string{"stdout.qemu": "true", "stdout.step": "4s"}},
		{"--no-header -v stdout", "stdout", map[string]string{"no-header": "true", "log.level": "INFO"}},
		{"-vv stdout", "stdout", map[string]string{"log.level": "DEBUG"}},
		{"-vv --log.level warn stdout", "stdout", map[string]string{"log.level": "WARN"}},
		{"--vm stdout", "stdout", map[string]string{"vm": "true"}},
		{"--sensor-buffer-per-domain-max-kb 2 --sensor-buffer-per-socket-max-kb 3 -s powercap_rapl stdout", "stdout", map[string]string{"sensor": "powercap_rapl"}},

		{"json", "json", map[string]string{"json.timeout": "0s", "json.step": "2s", "json.process.top": "10", "json.output": ""}},
		{"json -t 10 -s 1 --step-nano 500000000", "json", map[string]string{"json.timeout": "10s", "json.step": "1s", "json.step-nano": "500000000"}},
		{"json --max-top-consumers 4 -f /tmp/power.json", "json", map[string]string{"json.process.top": "4", "json.output": "/tmp/power.json"}},
		{"json --file /tmp/p.json --process-regex scaph", "json", map[string]string{"json.output": "/tmp/p.json", "json.process.regex": "scaph"}},
		{"json --containers --container-regex web --resources", "json", map[string]string{"json.containers": "true", "json.container-regex": "web", "json.resources": "true"}},
		{"--no-header json -s 5", "json", map[string]string{"no-header": "true", "json.step": "5s"}},

		{"prometheus", "prometheus", map[string]string{"prometheus.address": "", "prometheus.port": "", "prometheus.suffix": ""}},
		{"prometheus -a 0.0.0.0 -p 8080", "prometheus", map[string]string{"prometheus.address": "0.0.0.0", "prometheus.port": "8080"}},
		{"prometheus --address 127.0.0.1 --port 9000 -s scaph", "prometheus", map[string]string{"prometheus.address": "127.0.0.1", "prometheus.port": "9000", "prometheus.suffix": "scaph"}},
		{"prometheus --suffix metrics2 --qemu --containers", "prometheus", map[string]string{"prometheus.suffix": "metrics2", "prometheus.qemu": "true", "prometheus.containers": "true"}},
		{"-s powercap_rapl prometheus -s metrics", "prometheus", map[string]string{"sensor": "powercap_rapl", "prometheus.suffix": "metrics"}},

		{"prometheus-push", "prometheus-push", map[string]string{"prometheus-push.step": "15s", "prometheus-push.job": "wattlens"}},
		{"prometheus-push -H gw.example -p 9092 -S https -s 30 -j scaphandre", "prometheus-push", map[string]string{
			"prometheus-push.host": "gw.example", "prometheus-push.port": "9092", "prometheus-push.scheme": "https",
			"prometheus-push.step": "30s", "prometheus-push.job": "scaphandre"}},
		{"prometheus-push --host gw --port 9091 --suffix metrics --scheme http --step 5 --job j --qemu --containers --no-tls-check", "prometheus-push", map[string]string{
			"prometheus-push.host": "gw", "prometheus-push.suffix": "metrics", "prometheus-push.step": "5s", "prometheus-push.job": "j",
			"prometheus-push.qemu": "true", "prometheus-push.containers": "true", "prometheus-push.push.insecure-skip-verify": "true"}},

		{"qemu", "qemu", map[string]string{"qemu.step": "2s"}},
		{"--vm prometheus", "prometheus", map[string]string{"vm": "true"}},
	}
	for _, tc := range tests {
		t.Run(tc.args, func(t *testing.T) {
			cmd, got, err := parseOnly(t, strings.Fields(tc.args))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if cmd != tc.command {
				t.Errorf("command %q, want %q", cmd, tc.command)
			}
			for k, want := range tc.want {
				v, ok := got[k]
				if !ok {
					t.Errorf("%s: no such flag", k)
				} else if v != want {
					t.Errorf("%s = %q, want %q", k, v, want)
				}
			}
		})
	}
}

// TestOwnFlagNames checks that the commands share one name for one idea
// (top N, regex filter, timeout, step, output file), the old names
// working as aliases.
func TestOwnFlagNames(t *testing.T) {
	tests := []struct {
		args, key, want string
	}{
		{"stdout --process.top 7", "stdout.process.top", "7"},
		{"json --process.top 7", "json.process.top", "7"},
		{"prometheus --process.top 7", "prometheus.process.top", "7"},
		{"prometheus-push --process.top 7", "prometheus-push.process.top", "7"},
		{"stdout --process.regex x", "stdout.process.regex", "x"},
		{"json --process.regex x", "json.process.regex", "x"},
		{"json --output f", "json.output", "f"},
		{"stdout -t 4", "stdout.timeout", "4s"},
		{"json -t 4", "json.timeout", "4s"},
		{"qemu -t 4", "qemu.timeout", "4s"},
		{"prometheus -t 4", "prometheus.timeout", "4s"},
		{"prometheus-push -t 4", "prometheus-push.timeout", "4s"},
		{"prometheus --step 3", "prometheus.step", "3s"},
	}
	for _, tc := range tests {
		t.Run(tc.args, func(t *testing.T) {
			_, got, err := parseOnly(t, strings.Fields(tc.args))
			if err != nil {
				t.Fatal(err)
			}
			if got[tc.key] != tc.want {
				t.Errorf("%s = %q, want %q", tc.key, got[tc.key], tc.want)
			}
		})
	}
}

func TestScaphandreArgsErrors(t *testing.T) {
	for _, args := range []string{
		"stdout -s estimate",    // a sensor after the command: the step
		"json -s powercap_rapl", // idem
	} {
		t.Run(args, func(t *testing.T) {
			_, _, err := parseOnly(t, strings.Fields(args))
			if err == nil || !strings.Contains(err.Error(), "before the command") {
				t.Errorf("err = %v, want the fix (put -s before the command)", err)
			}
		})
	}
}

func TestCommandIndex(t *testing.T) {
	app := kingpin.New("wattlens", "")
	cfg := config.Default()
	bindGlobal(app, &cfg)
	for _, c := range commands() {
		c.setup(app.Command(c.name, c.help))
	}
	tests := []struct {
		args string
		want int
	}{
		{"stdout -s 2", 0},
		{"-s powercap_rapl stdout", 2},
		{"-spowercap_rapl stdout", 1},
		{"--sensor=estimate stdout", 1},
		{"--vm --path.procfs /host/proc json", 3},
		{"-vv --no-header stdout", 2},
		{"--log.level debug", -1},
		{"", -1},
	}
	for _, tc := range tests {
		if got := commandIndex(app, strings.Fields(tc.args)); got != tc.want {
			t.Errorf("commandIndex(%q) = %d, want %d", tc.args, got, tc.want)
		}
	}
}

func TestScaphandreListenApply(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name                string
		l                   scaphandreListen
		addrsSet, pathSet   bool
		wantAddrs, wantPath string
		wantErr             string
	}{
		{"none", scaphandreListen{str(""), str(""), str("")}, false, false, ":29288", "/metrics", ""},
		{"address and port", scaphandreListen{str("0.0.0.0"), str("8080"), str("")}, false, false, "0.0.0.0:8080", "/metrics", ""},
		{"port only: Scaphandre's address", scaphandreListen{str(""), str("9000"), str("")}, false, false, "0.0.0.0:9000", "/metrics", ""},
		{"address only: Scaphandre's port", scaphandreListen{str("::1"), str(""), str("")}, false, false, "[::1]:8080", "/metrics", ""},
		{"suffix", scaphandreListen{str(""), str(""), str("scaph")}, false, false, ":29288", "/scaph", ""},
		{"both address forms", scaphandreListen{str("0.0.0.0"), str(""), str("")}, true, false, "", "", "not both"},
		{"both path forms", scaphandreListen{str(""), str(""), str("x")}, false, true, "", "", "not both"},
		{"bad port", scaphandreListen{str(""), str("http"), str("")}, false, false, "", "", "port number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addrs, path := []string{":29288"}, "/metrics"
			err := tc.l.apply(&addrs, tc.addrsSet, &path, tc.pathSet)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || addrs[0] != tc.wantAddrs || path != tc.wantPath {
				t.Errorf("apply = %v %q %v, want %q %q", addrs, path, err, tc.wantAddrs, tc.wantPath)
			}
		})
	}
}

func TestScaphandrePushURL(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name                       string
		host, port, scheme, suffix string
		urlSet                     bool
		want, wantErr              string
	}{
		{"none: --url stands", "", "", "", "", false, "", ""},
		{"host only", "gw", "", "", "", false, "http://gw:9091", ""},
		{"all", "gw", "9092", "https", "metrics", false, "https://gw:9092", ""},
		{"prefixed suffix", "gw", "", "", "pushgw/metrics", false, "http://gw:9091/pushgw", ""},
		{"suffix not ending in metrics", "gw", "", "", "push", false, "", "ends in metrics"},
		{"bad scheme", "gw", "", "ftp", "", false, "", "http or https"},
		{"bad port", "gw", "99999", "", "", false, "", "port number"},
		{"with --url", "gw", "", "", "", true, "", "not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := scaphandrePush{host: str(tc.host), port: str(tc.port), scheme: str(tc.scheme), suffix: str(tc.suffix)}
			got, err := p.url(tc.urlSet)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("url = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// Scaphandre's stdout --raw-metrics prints its metric lines after every
// step.
func TestStdoutRawMetrics(t *testing.T) {
	sys := fakeRAPL(t)
	code, stdout, stderr := runWattlens(t, "--path.sysfs", sys, "-s", "powercap_rapl", "stdout", "-t", "1.2", "-s", "0.25", "--raw-metrics")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "## At ") {
		t.Errorf("no \"## At\" line:\n%s", stdout)
	}
	var power bool
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "scaph_host_power_microwatts = ") && strings.Contains(l, `{"value_source":"powercap_rapl_pkg"} # `) {
			power = true
		}
	}
	if !power {
		t.Errorf("no scaph_host_power_microwatts line:\n%s", stdout)
	}
}

// `prometheus -a ADDRESS -p PORT -s SUFFIX` serves at http://ADDRESS:PORT/SUFFIX.
func TestPrometheusScaphandreListen(t *testing.T) {
	sys := fakeRAPL(t)
	port := strconv.Itoa(porttest.Free(t))
	done := make(chan int, 1)
	var stderr string
	go func() {
		var code int
		code, _, stderr = runWattlens(t, "--path.sysfs", sys, "-s", "powercap_rapl", "prometheus", "-a", "127.0.0.1", "-p", port, "-s", "scaph", "-t", "8", "--step", "0.25")
		done <- code
	}()
	var body []byte
	polltest.Within(t, 7*time.Second, 50*time.Millisecond, "/scaph to serve wattlens_host_power_watts", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/scaph")
		if err != nil {
			return false
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ = io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), "wattlens_host_power_watts")
	})
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d: %s", code, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("prometheus -t 8 still running after 30 s")
	}
}
