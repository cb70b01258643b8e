package e2e

// The otlp end-to-end tests run the real binary against a generated
// powercap tree and a real OpenTelemetry Collector (OTLP receiver, file
// exporter) that test/setup-otelcol.sh builds from the collector's own Go
// modules into test/.bin/otelcol. The tests read what the collector wrote.
// When the collector is not built yet they run the script; they skip only
// when it cannot be built (and fail then under CI).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/citest"
	"github.com/wattlens/wattlens/internal/porttest"
)

// otelcolBin returns the test collector, building it when needed.
func otelcolBin(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs("../.bin/otelcol")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "../setup-otelcol.sh")
	out, err := cmd.CombinedOutput()
	if err == nil {
		if _, err = os.Stat(bin); err == nil {
			return bin
		}
	}
	msg := fmt.Sprintf("the test OpenTelemetry Collector could not be built (test/setup-otelcol.sh: %v):\n%s", err, out)
	citest.Missing(t, msg)
	return ""
}

// otelCollector is a running collector and where its file exporter writes.
type otelCollector struct {
	grpc, http string // host:port of the OTLP receivers
	out        string // the file exporter's output, one JSON request a line
	proc       *promProc
}

// otelStart starts the collector on 127.0.0.1 with the given receiver
// ports (0: free ones) and waits until both receivers listen.
func otelStart(t *testing.T, bin string, grpcPort, httpPort int, out string) *otelCollector {
	t.Helper()
	if grpcPort == 0 {
		grpcPort = porttest.Free(t)
	}
	if httpPort == 0 {
		httpPort = porttest.Free(t)
	}
	c := &otelCollector{grpc: fmt.Sprintf("127.0.0.1:%d", grpcPort), http: fmt.Sprintf("127.0.0.1:%d", httpPort), out: out}
	cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  file:
    path: %s
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [file]
`, c.grpc, c.http, out)
	path := filepath.Join(t.TempDir(), "otelcol.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c.proc = promStart(t, "otelcol", bin, "--config", "file:"+path)
	promWaitFor(t, 30*time.Second, "the collector to be ready", func() bool {
		return strings.Contains(c.proc.out.String(), "Everything is ready")
	}, c.proc)
	return c
}

// OTLP JSON, as the file exporter writes it (the parts the tests read).
type otlpRequest struct {
	ResourceMetrics []struct {
		Resource     struct{ Attributes []otlpKV }
		ScopeMetrics []struct {
			Scope   struct{ Name string }
			Metrics []otlpMetric
		}
	}
}

type otlpKV struct {
	Key   string
	Value struct {
		StringValue *string
		IntValue    *string // int64 is a string in OTLP JSON
	}
}

type otlpMetric struct {
	Name, Unit string
	Sum        *struct {
		DataPoints             []otlpPoint
		AggregationTemporality int
		IsMonotonic            bool
	}
	Gauge *struct{ DataPoints []otlpPoint }
}

type otlpPoint struct {
	Attributes        []otlpKV
	StartTimeUnixNano string
	TimeUnixNano      string
	AsDouble          float64
}

func otlpAttrs(kvs []otlpKV) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch {
		case kv.Value.StringValue != nil:
			m[kv.Key] = *kv.Value.StringValue
		case kv.Value.IntValue != nil:
			m[kv.Key] = *kv.Value.IntValue
		}
	}
	return m
}

func (p otlpPoint) time(t *testing.T) time.Time {
	ns, err := strconv.ParseInt(p.TimeUnixNano, 10, 64)
	if err != nil {
		t.Fatalf("timeUnixNano %q: %v", p.TimeUnixNano, err)
	}
	return time.Unix(0, ns)
}

func (p otlpPoint) start(t *testing.T) time.Time {
	ns, err := strconv.ParseInt(p.StartTimeUnixNano, 10, 64)
	if err != nil {
		t.Fatalf("startTimeUnixNano %q: %v", p.StartTimeUnixNano, err)
	}
	return time.Unix(0, ns)
}

// otlpExport is one export of one wattlens, as the collector received it.
type otlpExport struct {
	resource map[string]string
	scope    string
	metrics  map[string]otlpMetric
}

// otlpExports reads the collector's output and returns the exports whose
// resource has wattlens.e2e=run, in order.
func otlpExports(t *testing.T, path, run string) []otlpExport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []otlpExport
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var req otlpRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			continue // a line being written
		}
		for _, rm := range req.ResourceMetrics {
			res := otlpAttrs(rm.Resource.Attributes)
			if res["wattlens.e2e"] != run {
				continue
			}
			for _, sm := range rm.ScopeMetrics {
				e := otlpExport{resource: res, scope: sm.Scope.Name, metrics: map[string]otlpMetric{}}
				for _, m := range sm.Metrics {
					e.metrics[m.Name] = m
				}
				out = append(out, e)
			}
		}
	}
	return out
}

// hostPoint returns the export's hw.host.energy point.
func (e otlpExport) hostPoint(t *testing.T) (otlpPoint, bool) {
	m, ok := e.metrics["hw.host.energy"]
	if !ok || m.Sum == nil || len(m.Sum.DataPoints) != 1 {
		return otlpPoint{}, false
	}
	return m.Sum.DataPoints[0], true
}

// otlpWattlens starts wattlens's otlp exporter, marked by a resource
// attribute wattlens.e2e=run, with env added to its environment.
func otlpWattlens(t *testing.T, sysfs, run string, env []string, args ...string) *promProc {
	t.Helper()
	all := append([]string{"-s", "powercap_rapl", "--path.sysfs", sysfs, "otlp", "--step", "1"}, args...)
	return promStartEnv(t, "wattlens", wattlensBin, append(env, "OTEL_RESOURCE_ATTRIBUTES=wattlens.e2e="+run), all...)
}

// promStartEnv is promStart with variables added to the environment (for
// the test's duration: t.Setenv).
func promStartEnv(t *testing.T, name, bin string, env []string, args ...string) *promProc {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return promStart(t, name, bin, args...)
}

// TestOTLPEndToEnd: the real binary pushes to a real collector over gRPC
// and over HTTP; the collector receives the metric set with its names,
// units, temporality and attributes, the consumer series add up to the
// host, and the host's energy rate matches the simulated RAPL zones.
func TestOTLPEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	bin := otelcolBin(t)
	out := filepath.Join(t.TempDir(), "metrics.json")
	col := otelStart(t, bin, 0, 0, out)
	sysfs, _ := fakeRAPL(t, promWatts, promRange)
	burner := startBurner(t, 0.5, 60*time.Second)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"grpc", nil, []string{"--otlp.endpoint", col.grpc, "--otlp.insecure", "--otlp.header", "x-wattlens-test=1"}},
		// The flags win over the variables, which point nowhere.
		{"http", []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"},
			[]string{"--otlp.protocol", "http", "--otlp.endpoint", "http://" + col.http}},
		// The variables alone.
		{"env", []string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://" + col.http + "/v1/metrics", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wl := otlpWattlens(t, sysfs, tc.name, tc.env, tc.args...)
			var exports []otlpExport
			promWaitFor(t, 40*time.Second, "eight exports in the collector's file", func() bool {
				exports = otlpExports(t, out, tc.name)
				return len(exports) >= 8
			}, wl, col.proc)
			_ = wl.stop()
			otlpCheck(t, exports, host, burner.Process.Pid)
		})
	}
}

// otlpCheck checks what a collector received from one wattlens.
func otlpCheck(t *testing.T, exports []otlpExport, host string, burnerPID int) {
	t.Helper()
	last := exports[len(exports)-1]
	if last.resource["host.name"] != host || last.resource["service.name"] != "wattlens" {
		t.Errorf("resource: %v, want host.name %q and service.name wattlens", last.resource, host)
	}
	if last.scope != "github.com/wattlens/wattlens/internal/exporter/otlp" {
		t.Errorf("scope %q", last.scope)
	}

	sums := map[string]string{"hw.host.energy": "J", "hw.energy": "J", "wattlens.consumer.energy": "J"}
	gauges := map[string]string{"hw.host.power": "W", "hw.power": "W", "wattlens.consumer.power": "W", "wattlens.host.idle_power": "W", "wattlens.sensor.up": "1"}
	for name, unit := range sums {
		m, ok := last.metrics[name]
		switch {
		case !ok:
			t.Errorf("%s missing", name)
		case m.Sum == nil || m.Unit != unit || m.Sum.AggregationTemporality != 2 || !m.Sum.IsMonotonic:
			t.Errorf("%s: unit %q, sum %v: want a monotonic cumulative (2) sum in %s", name, m.Unit, m.Sum != nil, unit)
		}
	}
	for name, unit := range gauges {
		if m, ok := last.metrics[name]; !ok || m.Gauge == nil || m.Unit != unit {
			t.Errorf("%s: present %v, unit %q: want a gauge in %s", name, ok, m.Unit, unit)
		}
	}

	zones := map[string]map[string]string{}
	for _, p := range last.metrics["hw.energy"].Sum.DataPoints {
		a := otlpAttrs(p.Attributes)
		zones[a["hw.id"]] = a
	}
	if a := zones["intel-rapl:0"]; a["hw.type"] != "cpu" || a["wattlens.zone"] != "package" || a["hw.name"] != "package-0" {
		t.Errorf("package zone attributes: %v", a)
	}
	if a := zones["intel-rapl:0:0"]; a["hw.type"] != "memory" || a["hw.parent"] != "intel-rapl:0" {
		t.Errorf("dram zone attributes: %v", a)
	}

	// The consumer series add up to the host, at every export.
	consumers := map[string]bool{}
	var burnerSeen bool
	for i, e := range exports {
		hp, ok := e.hostPoint(t)
		if !ok {
			t.Fatalf("export %d: no hw.host.energy", i)
		}
		var sum float64
		for _, p := range e.metrics["wattlens.consumer.energy"].Sum.DataPoints {
			a := otlpAttrs(p.Attributes)
			consumers[a["wattlens.consumer"]] = true
			sum += p.AsDouble
			if a["process.pid"] == strconv.Itoa(burnerPID) {
				burnerSeen = true
				if a["process.executable.path"] != burnerBin || p.AsDouble <= 0 {
					t.Errorf("burner series: %v = %v J, want executable %s and energy", a, p.AsDouble, burnerBin)
				}
			}
		}
		if math.Abs(sum-hp.AsDouble) > 1e-6*max(1, hp.AsDouble) {
			t.Errorf("export %d: Σ wattlens.consumer.energy = %.6f J, hw.host.energy = %.6f J", i, sum, hp.AsDouble)
		}
	}
	for _, c := range []string{"process", "other", "unattributed", "idle"} {
		if !consumers[c] {
			t.Errorf("no wattlens.consumer=%s series", c)
		}
	}
	if !burnerSeen {
		t.Errorf("the burner (pid %d) has no series of its own", burnerPID)
	}

	// The host's rate between the second and the last export matches the
	// simulated zones (packages + dram: 75 W).
	first, _ := exports[1].hostPoint(t)
	lastP, _ := last.hostPoint(t)
	dt := lastP.time(t).Sub(first.time(t)).Seconds()
	rate := (lastP.AsDouble - first.AsDouble) / dt
	if dt < 2 || promRelErr(rate, promHostWatts) > 0.10 {
		t.Errorf("host energy rate %.2f W over %.1f s, want %.0f W ± 10 %%", rate, dt, promHostWatts)
	}
	t.Logf("host energy rate %.2f W over %.1f s (simulated %.0f W), %d exports", rate, dt, promHostWatts, len(exports))
}

// TestOTLPCollectorDown: wattlens starts while no collector listens; it
// logs the failure once, keeps measuring, and once the collector is up the
// first export carries all the energy since start: nothing is lost.
func TestOTLPCollectorDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	bin := otelcolBin(t)
	sysfs, _ := fakeRAPL(t, promWatts, promRange)
	grpcPort := porttest.Free(t)
	endpoint := fmt.Sprintf("127.0.0.1:%d", grpcPort)
	wl := otlpWattlens(t, sysfs, "down", nil, "--otlp.endpoint", endpoint, "--otlp.insecure", "--otlp.timeout", "500ms")
	promWaitFor(t, 15*time.Second, "the failure to be logged", func() bool {
		return strings.Contains(wl.out.String(), "otlp export failed")
	}, wl)
	time.Sleep(5 * time.Second) // ticks that only the sums carry

	out := filepath.Join(t.TempDir(), "metrics.json")
	col := otelStart(t, bin, grpcPort, 0, out)
	var exports []otlpExport
	promWaitFor(t, 60*time.Second, "exports after the collector came up", func() bool {
		exports = otlpExports(t, out, "down")
		return len(exports) >= 2
	}, wl, col.proc)
	promWaitFor(t, 10*time.Second, "the recovery to be logged", func() bool {
		return strings.Contains(wl.out.String(), "otlp export recovered")
	}, wl)

	logs := wl.out.String()
	if n := strings.Count(logs, "otlp export failed"); n != 1 {
		t.Errorf("%d failure lines, want 1:\n%s", n, logs)
	}
	// The first export received covers the whole run since the start:
	// the energy over (time − start) is the simulated power.
	p, ok := exports[0].hostPoint(t)
	if !ok {
		t.Fatal("first export: no hw.host.energy")
	}
	span := p.time(t).Sub(p.start(t)).Seconds()
	if span < 5 {
		t.Fatalf("first export received spans %.1f s since start: the collector was not down long", span)
	}
	if rate := p.AsDouble / span; promRelErr(rate, promHostWatts) > 0.10 {
		t.Errorf("first export after the outage: %.2f J over %.1f s since start = %.2f W, want %.0f W ± 10 %%", p.AsDouble, span, rate, promHostWatts)
	} else {
		t.Logf("first export after the outage: %.2f J over %.1f s since start = %.2f W (simulated %.0f W)", p.AsDouble, span, rate, promHostWatts)
	}
}
