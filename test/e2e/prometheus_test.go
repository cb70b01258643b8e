package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wattlens/wattlens/internal/citest"
	"github.com/wattlens/wattlens/internal/exporter/promexp"
	"github.com/wattlens/wattlens/internal/polltest"
	"github.com/wattlens/wattlens/internal/porttest"
)

// The Prometheus end-to-end tests run the real binary against a generated
// powercap tree and a real Prometheus server or Pushgateway (Debian's
// packages; test/setup-prometheus.sh installs them). Without them the
// tests skip, unless CI is set: then they fail.

// promWatts drive the fake RAPL zones; the host is packages + dram.
var promWatts = map[string]float64{"intel-rapl:0": 40, "intel-rapl:0:0": 6, "intel-rapl:1": 25, "intel-rapl:1:0": 4}

const (
	promHostWatts = 75.0
	// promRange is the counters' range, 100 J: package-0 wraps every
	// 2.5 s, and a 1 s step never misses a wrap.
	promRange = 100_000_000
)

// promTool returns the path of a tool the test needs, or skips (fails
// under CI) when it is not installed.
func promTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not installed; run test/setup-prometheus.sh (Debian's prometheus and prometheus-pushgateway)", strings.Join(names, " or "))
	citest.Missing(t, msg)
	return ""
}

// promLog is a goroutine-safe buffer for a child's output.
type promLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *promLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *promLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// promProc is a child process the test started.
type promProc struct {
	name string
	cmd  *exec.Cmd
	out  *promLog
	done chan struct{}
	err  error
}

// promStart starts a child; it is killed at the end of the test and its
// output logged.
func promStart(t *testing.T, name, bin string, args ...string) *promProc {
	t.Helper()
	p := &promProc{name: name, cmd: exec.Command(bin, args...), out: &promLog{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.stop()
		if t.Failed() {
			t.Logf("%s %s output:\n%s", name, strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

func (p *promProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after 5 s, and returns the exit error.
func (p *promProc) stop() error {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.err
}

// promWaitFor polls cond every 100 ms until it holds or timeout passes;
// it fails early when a watched process exits.
func promWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, watched ...*promProc) {
	t.Helper()
	polltest.Within(t, timeout, 100*time.Millisecond, what, func() bool {
		if cond() {
			return true
		}
		for _, p := range watched {
			if p.exited() {
				t.Fatalf("waiting for %s: %s exited: %v\n%s", what, p.name, p.err, p.out.String())
			}
		}
		return false
	})
}

// promGet fetches url with an Accept header; errors give status 0.
func promGet(url, accept string) (status int, contentType string, body []byte) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", nil
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// promParse parses a text-format exposition.
func promParse(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, body)
	}
	return mfs
}

func promValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	return m.GetUntyped().GetValue()
}

func promSum(mfs map[string]*dto.MetricFamily, name string) float64 {
	var s float64
	for _, m := range mfs[name].GetMetric() {
		s += promValue(m)
	}
	return s
}

func promLabel(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func promRelErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// promWritten is the energy the fake RAPL wrote to the host's zones.
func promWritten(w interface{ Written(string) float64 }) float64 {
	var sum float64
	for id := range promWatts {
		sum += w.Written(id)
	}
	return sum
}

// promWattlens starts the exporter against sysfs and waits for its first
// snapshot.
func promWattlens(t *testing.T, sysfs string, extra ...string) (base string, p *promProc) {
	t.Helper()
	port := porttest.Free(t)
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	args := append([]string{"-s", "powercap_rapl", "--path.sysfs", sysfs, "prometheus",
		"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port), "--step", "1"}, extra...)
	p = promStart(t, "wattlens", wattlensBin, args...)
	promWaitFor(t, 15*time.Second, "the first snapshot on /metrics", func() bool {
		status, _, body := promGet(base+"/metrics", "")
		return status == http.StatusOK && bytes.Contains(body, []byte("wattlens_host_energy_joules_total"))
	}, p)
	return base, p
}

// promCheckMetrics runs `promtool check metrics` on an exposition and
// returns the problems it reports (one per line).
func promCheckMetrics(t *testing.T, promtool string, body []byte) (problems []string, exit int) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("promtool: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			problems = append(problems, l)
		}
	}
	return problems, exit
}

// TestPrometheusEndToEnd: the real binary on a fake two-socket RAPL tree
// that wraps every 2.5 s, scraped every second by a real Prometheus. The
// rate and increase Prometheus computes match the energy the fake wrote,
// the exposition passes promtool, the books add up, and the recording
// rules of deploy/prometheus/rules.yml load and evaluate.
func TestPrometheusEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	promBin := promTool(t, "prometheus")
	promtool := promTool(t, "promtool")

	sysfs, adv := fakeRAPL(t, promWatts, promRange)
	burner := startBurner(t, 0.5, 60*time.Second)
	base, wl := promWattlens(t, sysfs)
	compatBase, _ := promWattlens(t, sysfs, "--compat=scaphandre")

	t.Run("content type and OpenMetrics", func(t *testing.T) {
		status, ct, body := promGet(base+"/metrics", "")
		if status != 200 || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("plain scrape: %d, Content-Type %q", status, ct)
		}
		if len(body) == 0 {
			t.Error("empty body")
		}
		status, ct, body = promGet(base+"/metrics", "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5")
		if status != 200 || !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") || !bytes.HasSuffix(body, []byte("# EOF\n")) {
			t.Errorf("OpenMetrics scrape: %d, Content-Type %q, ends %q", status, ct, body[max(0, len(body)-20):])
		}
		status, ct, body = promGet(base+"/", "")
		if status != 200 || !strings.HasPrefix(ct, "text/html") || !bytes.Contains(body, []byte(`href="/metrics"`)) {
			t.Errorf("landing page: %d, %q", status, ct)
		}
	})

	t.Run("scrapes neither drive nor shift the sampler", func(t *testing.T) {
		// 20 scrapes within ~200 ms see at most two ticks (--step 1).
		ticks := map[float64]bool{}
		for range 20 {
			_, _, body := promGet(base+"/metrics", "")
			ticks[promSum(promParse(t, body), "wattlens_last_tick_timestamp_seconds")] = true
			time.Sleep(10 * time.Millisecond)
		}
		if len(ticks) > 2 {
			t.Errorf("20 quick scrapes saw %d different ticks: scrapes drive the sampler", len(ticks))
		}
		// Unscraped for 3 s, the sampler kept ticking every second.
		_, _, body := promGet(base+"/metrics", "")
		t0 := promSum(promParse(t, body), "wattlens_last_tick_timestamp_seconds")
		time.Sleep(3 * time.Second)
		_, _, body = promGet(base+"/metrics", "")
		if d := promSum(promParse(t, body), "wattlens_last_tick_timestamp_seconds") - t0; d < 2 || d > 4.5 {
			t.Errorf("the last tick moved by %.2f s in 3 s without scrapes, want about 3", d)
		}
	})

	t.Run("promtool check metrics", func(t *testing.T) {
		_, _, body := promGet(base+"/metrics", "")
		if problems, exit := promCheckMetrics(t, promtool, body); exit != 0 || len(problems) != 0 {
			t.Errorf("promtool check metrics: exit %d:\n%s", exit, strings.Join(problems, "\n"))
		}
	})

	t.Run("promtool check metrics with --compat=scaphandre", func(t *testing.T) {
		_, _, body := promGet(compatBase+"/metrics", "")
		mfs := promParse(t, body)
		if got := promSum(mfs, "scaph_host_power_microwatts") / 1e6; promRelErr(got, promHostWatts) > 0.1 {
			t.Errorf("scaph_host_power_microwatts = %v W, want %v W ± 10 %%", got, promHostWatts)
		}
		problems, _ := promCheckMetrics(t, promtool, body)
		var known int
		for _, p := range problems {
			metric, text, _ := strings.Cut(p, " ")
			if promexp.ScaphandreLintProblem(metric, text) {
				known++
				continue
			}
			t.Errorf("promtool: %s", p)
		}
		// Scaphandre's three microjoule counters, two remarks each: the
		// price of keeping its names; nothing else.
		if known != 6 {
			t.Errorf("%d known Scaphandre-name remarks, want 6: %q", known, problems)
		}
		t.Logf("promtool on the compat exposition: %d remarks, all on Scaphandre's own names", known)
	})

	t.Run("books add up on a real scrape", func(t *testing.T) {
		_, _, body := promGet(base+"/metrics", "")
		mfs := promParse(t, body)
		host := promSum(mfs, "wattlens_host_energy_joules_total")
		parts := promSum(mfs, "wattlens_process_energy_joules_total") + promSum(mfs, "wattlens_other_energy_joules_total") + promSum(mfs, "wattlens_unattributed_energy_joules_total") + promSum(mfs, "wattlens_idle_energy_joules_total")
		if host <= 0 || math.Abs(parts-host) > 1e-9*host+1e-6 {
			t.Errorf("Σ process + other + idle = %.9f J, host %.9f J", parts, host)
		}
		// One series per process and resource: count the processes.
		pids := map[string]bool{}
		for _, m := range mfs["wattlens_process_energy_joules_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "pid" {
					pids[l.GetValue()] = true
				}
			}
		}
		if n := len(pids); n == 0 || n > promexp.DefaultTopN {
			t.Errorf("%d processes in the process series with the default top %d", n, promexp.DefaultTopN)
		}
		if up := promSum(mfs, "wattlens_sensor_up"); up != 1 {
			t.Errorf("wattlens_sensor_up = %v", up)
		}
		var found bool
		for _, m := range mfs["wattlens_process_energy_joules_total"].GetMetric() {
			if promLabel(m, "pid") == strconv.Itoa(burner.Process.Pid) {
				found = promValue(m) > 0 && strings.Contains(promLabel(m, "cmdline"), "-duty 0.5")
			}
		}
		if !found {
			t.Errorf("the burner (pid %d, half a CPU) has no process series with energy", burner.Process.Pid)
		}
	})

	// A real Prometheus scrapes every second for ~15 s.
	api, _ := promServe(t, promBin, base, wl)

	start := time.Now()
	w0 := promWritten(adv)
	const window = 15 * time.Second
	time.Sleep(window)
	w1 := promWritten(adv)
	written := (w1 - w0) / time.Since(start).Seconds()
	t.Logf("fake RAPL wrote %.2f W on average (configured %.0f W)", written, promHostWatts)

	t.Run("rate matches the energy written", func(t *testing.T) {
		v, ok := promQuery(api, `rate(wattlens_host_energy_joules_total[10s])`)
		if !ok || promRelErr(v, written) > 0.1 {
			t.Errorf("rate(wattlens_host_energy_joules_total[10s]) = %v (ok %v), want %.2f W ± 10 %%", v, ok, written)
		}
		t.Logf("Prometheus: rate(wattlens_host_energy_joules_total[10s]) = %.3f W; fake RAPL wrote %.3f W", v, written)
		v, ok = promQuery(api, `increase(wattlens_host_energy_joules_total[12s])`)
		t.Logf("Prometheus: increase(…[12s]) = %.2f J; fake RAPL wrote %.2f J in 12 s", v, written*12)
		if want := written * 12; !ok || promRelErr(v, want) > 0.1 {
			t.Errorf("increase(…[12s]) = %v J (ok %v), want %.1f J ± 10 %%", v, ok, want)
		}
		// The rule's 1m window holds only ~15 s of data yet, so it reads
		// low; it must agree with the same expression queried directly.
		rule, ok := promQuery(api, `wattlens:host_power_watts:rate1m`)
		direct, ok2 := promQuery(api, `rate(wattlens_host_energy_joules_total[1m])`)
		if !ok || !ok2 || rule <= 0 || promRelErr(rule, direct) > 0.2 {
			t.Errorf("recording rule wattlens:host_power_watts:rate1m = %v (ok %v), the expression itself %v (ok %v)", rule, ok, direct, ok2)
		}
		if v, ok := promQuery(api, `max(wattlens_energy_wraps_total)`); !ok || v < 3 {
			t.Errorf("wattlens_energy_wraps_total = %v: the counters should have wrapped several times", v)
		}
	})

	t.Run("the dashboard's queries run", func(t *testing.T) {
		// No VM, no counter reset, no BMC and no --containers in this run: those
		// may be empty (TestPrometheusContainersDashboard has containers).
		promCheckDashboard(t, api, "wattlens_vm_", "resets", "wattlens_container_", "wattlens_pod_", "wattlens_service_", `zone="wall"`)
	})

	t.Run("every joules counter is monotonic in Prometheus", func(t *testing.T) {
		series := promQueryRange(t, api, `{__name__=~"wattlens_.*_joules_total"}[1m]`)
		if len(series) < 5 {
			t.Fatalf("only %d joules series in Prometheus", len(series))
		}
		for name, vals := range series {
			for i := 1; i < len(vals); i++ {
				if vals[i] < vals[i-1] && !strings.HasPrefix(name, "wattlens_process_") {
					t.Errorf("%s went down: %v → %v", name, vals[i-1], vals[i])
				}
				if vals[i] < vals[i-1] {
					t.Logf("%s restarted (left and re-entered the top N): %v → %v", name, vals[i-1], vals[i])
				}
			}
		}
		var host []float64
		for k, v := range series {
			if strings.HasPrefix(k, "wattlens_host_energy_joules_total{") {
				host = v
			}
		}
		if len(host) < 10 {
			t.Fatalf("%d host samples in Prometheus, want about 15: %v", len(host), keys(series))
		}
	})

	if wl.exited() {
		t.Fatalf("wattlens exited: %v", wl.err)
	}
	if err := wl.stop(); err != nil {
		t.Errorf("wattlens on SIGTERM: %v", err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// promQuery runs an instant query and returns the first sample's value.
func promQuery(api, q string) (float64, bool) {
	status, _, body := promGet(api+"/api/v1/query?query="+url.QueryEscape(q), "")
	if status != http.StatusOK {
		return 0, false
	}
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || len(r.Data.Result) == 0 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// promQueryRange runs a range-vector query and returns each series' values in
// time order, keyed by its labels in Prometheus's own notation.
func promQueryRange(t *testing.T, api, q string) map[string][]float64 {
	t.Helper()
	status, _, body := promGet(api+"/api/v1/query?query="+url.QueryEscape(q), "")
	if status != http.StatusOK {
		t.Fatalf("query %s: status %d: %s", q, status, body)
	}
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, s := range r.Data.Result {
		name := s.Metric["__name__"]
		delete(s.Metric, "__name__")
		lbl := model.LabelSet{}
		for k, v := range s.Metric {
			lbl[model.LabelName(k)] = model.LabelValue(v)
		}
		key := name + lbl.String()
		for _, v := range s.Values {
			str, _ := v[1].(string)
			f, err := strconv.ParseFloat(str, 64)
			if err != nil {
				t.Fatalf("value %v: %v", v[1], err)
			}
			out[key] = append(out[key], f)
		}
	}
	return out
}

// promServe starts a real Prometheus that scrapes the wattlens at base
// every second, as job wattlens, with the rules of
// deploy/prometheus/rules.yml evaluated every second, and waits for its
// first scrape. It returns the API's base URL.
func promServe(t *testing.T, promBin, base string, watched ...*promProc) (api string, prom *promProc) {
	t.Helper()
	promPort := porttest.Free(t)
	api = fmt.Sprintf("http://127.0.0.1:%d", promPort)
	dir := t.TempDir()
	rules, err := filepath.Abs("../../deploy/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: wattlens
    static_configs:
      - targets: [%q]
`, rules, strings.TrimPrefix(base, "http://"))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom = promStart(t, "prometheus", promBin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort),
		"--log.level=warn")
	promWaitFor(t, 20*time.Second, "Prometheus to scrape wattlens", func() bool {
		v, ok := promQuery(api, `up{job="wattlens"}`)
		return ok && v == 1
	}, append(watched, prom)...)
	return api, prom
}

// promDashboardVars replaces the dashboard's variables as Grafana would
// with every instance and namespace chosen, a 4 s rate interval and a 15 s
// range.
var promDashboardVars = strings.NewReplacer("$instance", ".*", "$namespace", ".*", "$__rate_interval", "4s", "$__range", "15s")

// promCheckDashboard runs every query of the dashboard against the
// Prometheus at api: each must succeed, and return data unless it holds
// one of mayBeEmpty.
func promCheckDashboard(t *testing.T, api string, mayBeEmpty ...string) {
	t.Helper()
	for _, q := range promDashboardQueries(t) {
		expr := promDashboardVars.Replace(q.expr)
		status, _, body := promGet(api+"/api/v1/query?query="+url.QueryEscape(expr), "")
		if status != http.StatusOK {
			t.Errorf("panel %q: %s: status %d: %s", q.panel, expr, status, body)
			continue
		}
		empty := bytes.Contains(body, []byte(`"result":[]`))
		for _, s := range mayBeEmpty {
			empty = empty && !strings.Contains(expr, s)
		}
		if empty {
			t.Errorf("panel %q: %s: no data", q.panel, expr)
		}
	}
}

type promPanelQuery struct{ panel, expr string }

// promDashboardQueries reads the expressions of deploy/grafana/wattlens.json.
func promDashboardQueries(t *testing.T) []promPanelQuery {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/wattlens.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var out []promPanelQuery
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, promPanelQuery{p.Title, tg.Expr})
		}
	}
	return out
}

// TestPrometheusRules checks deploy/prometheus/rules.yml with promtool:
// syntax (check rules) and behaviour (test rules with rules_test.yml).
func TestPrometheusRules(t *testing.T) {
	promtool := promTool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "../../deploy/prometheus/rules.yml"},
		{"test", "rules", "../../deploy/prometheus/rules_test.yml"},
	} {
		out, err := exec.CommandContext(context.Background(), promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// promDashboardLabelVars reads the label_values(selector, label) query
// variables of deploy/grafana/wattlens.json.
func promDashboardLabelVars(t *testing.T) (vars []struct{ name, match, label string }) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/wattlens.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		args, ok := strings.CutPrefix(v.Definition, "label_values(")
		args, ok2 := strings.CutSuffix(args, ")")
		i := strings.LastIndex(args, ",")
		if !ok || !ok2 || i < 0 {
			t.Errorf("variable %s: %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		vars = append(vars, struct{ name, match, label string }{v.Name, strings.TrimSpace(args[:i]), strings.TrimSpace(args[i+1:])})
	}
	return vars
}

// TestPrometheusContainersDashboard: the dashboard's container, pod and
// namespace panels and variables, and the container recording rules, on
// real data: wattlens --containers on the containers fixture (a Docker
// container, a pod of two containers in namespace shop, ssh.service),
// scraped every second by a real Prometheus that evaluates
// deploy/prometheus/rules.yml.
func TestPrometheusContainersDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	promBin := promTool(t, "prometheus")
	sysfs, _ := fakeRAPL(t, map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20}, 0)
	tl := ctFixture(t)
	tl.start(t)
	base, wl := ctPromWattlens(t, sysfs, tl.root, ctPromSources(t)...)
	api, prom := promServe(t, promBin, base, wl)

	// The rules' rates need two samples of the named series.
	promWaitFor(t, 20*time.Second, "the container rules to see the named api container", func() bool {
		v, ok := promQuery(api, `wattlens:container_power_watts:rate1m{container_name="api",namespace="shop"}`)
		return ok && v > 0
	}, wl, prom)
	time.Sleep(3 * time.Second) // a few more samples for the dashboard's 4 s rates

	t.Run("the dashboard's queries return data", func(t *testing.T) {
		promCheckDashboard(t, api, "wattlens_vm_", "resets", `zone="wall"`)
	})

	t.Run("the dashboard's variables have values", func(t *testing.T) {
		vars := promDashboardLabelVars(t)
		if len(vars) < 2 {
			t.Errorf("%d label_values variables, want instance and namespace", len(vars))
		}
		for _, v := range vars {
			match := promDashboardVars.Replace(v.match)
			status, _, body := promGet(api+"/api/v1/label/"+v.label+"/values?match[]="+url.QueryEscape(match), "")
			var r struct {
				Data []string `json:"data"`
			}
			if err := json.Unmarshal(body, &r); status != http.StatusOK || err != nil || len(r.Data) == 0 {
				t.Errorf("variable %s: label_values(%s, %s): status %d, %v: %s", v.name, match, v.label, status, err, body)
			}
			if v.name == "namespace" && !slices.Contains(r.Data, ctNamespace) {
				t.Errorf("variable namespace: %q, want %q", r.Data, ctNamespace)
			}
		}
	})

	t.Run("container recording rules", func(t *testing.T) {
		for _, q := range []string{
			`wattlens:container_power_watts:rate1m{container_name="web",runtime="docker",pod="",namespace=""}`,
			`wattlens:container_power_watts:rate1m{container_name="sidecar",pod="` + ctPod + `",namespace="shop"}`,
			`wattlens:pod_power_watts:rate1m{pod="` + ctPod + `",namespace="shop"}`,
			`wattlens:service_power_watts:rate1m{service="ssh.service"}`,
			`wattlens:namespace_power_watts:rate1m{namespace="shop"}`,
		} {
			if v, ok := promQuery(api, q); !ok || v <= 0 {
				t.Errorf("%s = %v (ok %v), want > 0", q, v, ok)
			}
		}
		if v, ok := promQuery(api, `count(wattlens:namespace_power_watts:rate1m)`); !ok || v != 1 {
			t.Errorf("%v namespaces (ok %v), want shop alone: a container in no pod has none", v, ok)
		}
		ns, ok := promQuery(api, `wattlens:namespace_power_watts:rate1m{namespace="shop"}`)
		pods, ok2 := promQuery(api, `sum(wattlens:pod_power_watts:rate1m{namespace="shop"})`)
		if !ok || !ok2 || promRelErr(ns, pods) > 0.05 {
			t.Errorf("namespace shop %v W (ok %v), its pods %v W (ok %v)", ns, ok, pods, ok2)
		}
	})

	if err := wl.stop(); err != nil {
		t.Errorf("wattlens on SIGTERM: %v", err)
	}
}
