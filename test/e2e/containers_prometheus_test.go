package e2e

// End-to-end tests of --containers in the prometheus and prometheus-push
// exporters: the real binary on the generated procfs of the containers
// tests (containers_fixture_test.go), names from the fake Docker Engine
// API and the fake kubelet, /metrics scraped directly (and, for push, a
// real Pushgateway).

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wattlens/wattlens/internal/container/dockertest"
	"github.com/wattlens/wattlens/internal/porttest"
)

// ctPromSources starts the fake Docker (web named) and kubelet, and
// returns the --containers flags that point at them.
func ctPromSources(t *testing.T) []string {
	t.Helper()
	docker := dockertest.New(t, "1.47")
	docker.Add(dockertest.Container{ID: ctWebID, Name: "web", Image: "nginx:1.27"})
	kube := ctNewKubelet(t)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte(ctToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--containers",
		"--containers.docker-socket", docker.Socket(),
		"--containers.kubelet", "--containers.kubelet-url", kube.URL,
		"--containers.ca-file", kube.caFile, "--containers.token-file", token}
}

// ctPromWattlens starts the prometheus exporter on the fixture and waits
// for its first snapshot.
func ctPromWattlens(t *testing.T, sysfs, procfs string, extra ...string) (base string, p *promProc) {
	t.Helper()
	port := porttest.Free(t)
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	args := append([]string{"-s", "powercap_rapl", "--path.sysfs", sysfs, "--path.procfs", procfs, "--idle-power", "5",
		"prometheus", "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port), "--step", "1", "--process.top", "0"}, extra...)
	p = promStart(t, "wattlens", wattlensBin, args...)
	promWaitFor(t, 15*time.Second, "the first snapshot on /metrics", func() bool {
		status, _, body := promGet(base+"/metrics", "")
		return status == http.StatusOK && strings.Contains(string(body), "wattlens_host_energy_joules_total")
	}, p)
	return base, p
}

// ctPromSeries finds the series of a family whose labels include want.
func ctPromSeries(mfs map[string]*dto.MetricFamily, family string, want map[string]string) (*dto.Metric, bool) {
	for _, m := range mfs[family].GetMetric() {
		ok := true
		for k, v := range want {
			ok = ok && promLabel(m, k) == v
		}
		if ok {
			return m, true
		}
	}
	return nil, false
}

// ctPromNamed says whether a scrape names the web container and the
// pod's: both sources have answered.
func ctPromNamed(mfs map[string]*dto.MetricFamily) bool {
	_, web := ctPromSeries(mfs, "wattlens_container_energy_joules_total", map[string]string{"container_id": ctWebID, "container_name": "web"})
	_, api := ctPromSeries(mfs, "wattlens_container_energy_joules_total", map[string]string{"container_id": ctAPIID, "container_name": "api"})
	return web && api
}

// TestPrometheusContainers: with --containers, /metrics has container,
// pod and service series named from the fake Docker and kubelet, process
// series carry their container's labels, a container's counter keeps its
// exited process's energy, a pod is the sum of its containers, and the
// exposition passes promtool. Without --containers, on the same fixture,
// nothing container-related appears.
func TestPrometheusContainers(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sysfs, _ := fakeRAPL(t, map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20}, 0)
	tl := ctFixture(t)
	tl.at(8*time.Second, exits(201))
	tl.start(t)

	base, wl := ctPromWattlens(t, sysfs, tl.root, ctPromSources(t)...)
	plain, _ := ctPromWattlens(t, sysfs, tl.root)

	var mfs map[string]*dto.MetricFamily
	promWaitFor(t, 10*time.Second, "container and pod names on /metrics", func() bool {
		_, _, body := promGet(base+"/metrics", "")
		mfs = promParse(t, body)
		return ctPromNamed(mfs)
	}, wl)

	t.Run("process series carry their container", func(t *testing.T) {
		want := map[string][4]string{ // pid → container_id, container_name, pod, namespace
			"100": {}, "150": {},
			"200": {ctWebID, "web", "", ""},
			"300": {ctAPIID, "api", ctPod, ctNamespace},
			"301": {ctSidecarID, "sidecar", ctPod, ctNamespace},
		}
		for _, family := range []string{"wattlens_process_energy_joules_total", "wattlens_process_power_watts"} {
			for pid, w := range want {
				m, ok := ctPromSeries(mfs, family, map[string]string{"pid": pid})
				if !ok {
					t.Errorf("%s: no series for pid %s", family, pid)
					continue
				}
				got := [4]string{promLabel(m, "container_id"), promLabel(m, "container_name"), promLabel(m, "pod"), promLabel(m, "namespace")}
				if got != w {
					t.Errorf("%s{pid=%q}: container labels %q, want %q", family, pid, got, w)
				}
			}
		}
	})

	t.Run("container, pod and service series", func(t *testing.T) {
		web, ok := ctPromSeries(mfs, "wattlens_container_energy_joules_total",
			map[string]string{"container_id": ctWebID, "container_name": "web", "runtime": "docker", "pod": "", "namespace": ""})
		if !ok || promValue(web) <= 0 {
			t.Errorf("web container series %v", web)
		}
		var containers float64
		for _, id := range []string{ctAPIID, ctSidecarID} {
			m, ok := ctPromSeries(mfs, "wattlens_container_energy_joules_total",
				map[string]string{"container_id": id, "runtime": "containerd", "pod": ctPod, "namespace": ctNamespace})
			if !ok {
				t.Errorf("no series for the pod's container %s", id)
				continue
			}
			containers += promValue(m)
		}
		pod, ok := ctPromSeries(mfs, "wattlens_pod_energy_joules_total",
			map[string]string{"pod_uid": ctPodUID, "pod": ctPod, "namespace": ctNamespace})
		if !ok || math.Abs(promValue(pod)-containers) > 1e-6 {
			t.Errorf("pod series %v, want the sum of its containers, %v J", pod, containers)
		}
		if m, ok := ctPromSeries(mfs, "wattlens_service_energy_joules_total", map[string]string{"service": "ssh.service"}); !ok || promValue(m) <= 0 {
			t.Errorf("ssh.service series %v", m)
		}
		for _, n := range []string{"wattlens_container_power_watts", "wattlens_pod_power_watts", "wattlens_service_power_watts"} {
			if len(mfs[n].GetMetric()) == 0 {
				t.Errorf("no %s series", n)
			}
		}
		host := promSum(mfs, "wattlens_host_energy_joules_total")
		idle := promSum(mfs, "wattlens_idle_energy_joules_total")
		if c := promSum(mfs, "wattlens_container_energy_joules_total"); c <= 0 || c > host-idle+1e-6 {
			t.Errorf("containers hold %v J; host %v J, idle %v J", c, host, idle)
		}
		// The process books are those of a run without --containers.
		parts := promSum(mfs, "wattlens_process_energy_joules_total") + promSum(mfs, "wattlens_other_energy_joules_total") + promSum(mfs, "wattlens_unattributed_energy_joules_total") + idle
		if math.Abs(parts-host) > 1e-9*host+1e-6 {
			t.Errorf("Σ process + other + idle = %.9f J, host %.9f J", parts, host)
		}
	})

	t.Run("promtool check metrics", func(t *testing.T) {
		promtool := promTool(t, "promtool")
		_, _, body := promGet(base+"/metrics", "")
		if problems, exit := promCheckMetrics(t, promtool, body); exit != 0 || len(problems) != 0 {
			t.Errorf("promtool check metrics: exit %d:\n%s", exit, strings.Join(problems, "\n"))
		}
	})

	t.Run("a container keeps its exited process's energy", func(t *testing.T) {
		webOf := func(mfs map[string]*dto.MetricFamily) float64 {
			m, _ := ctPromSeries(mfs, "wattlens_container_energy_joules_total", map[string]string{"container_id": ctWebID})
			return promValue(m)
		}
		var before, p201 float64
		var gone map[string]*dto.MetricFamily
		promWaitFor(t, 10*time.Second, "pid 201 to exit", func() bool {
			_, _, body := promGet(base+"/metrics", "")
			cur := promParse(t, body)
			if m, ok := ctPromSeries(cur, "wattlens_process_energy_joules_total", map[string]string{"pid": "201"}); ok {
				before, p201 = webOf(cur), promValue(m)
				return false
			}
			gone = cur
			return true
		}, wl)
		if p201 == 0 {
			t.Fatal("pid 201 was never seen with energy")
		}
		m, _ := ctPromSeries(gone, "wattlens_process_energy_joules_total", map[string]string{"pid": "200"})
		after := webOf(gone)
		if after < before || after < promValue(m)+p201-1e-6 {
			t.Errorf("web %v J after pid 201 (last %v J) exited, %v J before; pid 200 has %v J", after, p201, before, promValue(m))
		}
	})

	t.Run("nothing container-related without --containers", func(t *testing.T) {
		_, _, body := promGet(plain+"/metrics", "")
		for _, s := range []string{"wattlens_container_", "wattlens_pod_", "wattlens_service_", "container_id", "namespace=", ctWebID} {
			if strings.Contains(string(body), s) {
				t.Errorf("the exposition without --containers holds %q", s)
			}
		}
		m, ok := ctPromSeries(promParse(t, body), "wattlens_process_energy_joules_total", map[string]string{"pid": "200", "resource": "cpu"})
		if !ok || len(m.GetLabel()) != 6 {
			t.Errorf("pid 200 without --containers: %v, want pid, exe, comm, cmdline, resource, source", m)
		}
	})

	if err := wl.stop(); err != nil {
		t.Errorf("wattlens on SIGTERM: %v", err)
	}
}

// TestPushContainers: prometheus-push --containers pushes the container
// series, named, to a real Pushgateway.
func TestPushContainers(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	gwBin := promTool(t, "prometheus-pushgateway", "pushgateway")
	sysfs, _ := fakeRAPL(t, map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20}, 0)
	tl := ctFixture(t)
	tl.start(t)
	addr := fmt.Sprintf("127.0.0.1:%d", porttest.Free(t))
	gw := pushGatewayStart(t, gwBin, addr)

	args := append([]string{"-s", "powercap_rapl", "--path.sysfs", sysfs, "--path.procfs", tl.root,
		"prometheus-push", "--url", "http://" + addr, "--step", "1", "--push.timeout", "300ms",
		"--push.grouping", "instance=e2e-host", "--push.grouping", "site=lab"}, ctPromSources(t)...)
	wl := promStart(t, "wattlens", wattlensBin, args...)

	var mfs map[string]*dto.MetricFamily
	promWaitFor(t, 15*time.Second, "named container series on the Pushgateway", func() bool {
		status, _, body := promGet("http://"+addr+"/metrics", "")
		if status != http.StatusOK {
			return false
		}
		mfs = promParse(t, body)
		return ctPromNamed(mfs)
	}, wl, gw)
	for _, f := range []string{"wattlens_container_energy_joules_total", "wattlens_pod_energy_joules_total", "wattlens_service_energy_joules_total"} {
		var found bool
		for _, m := range mfs[f].GetMetric() {
			found = found || pushGroup(m) && promValue(m) > 0
		}
		if !found {
			t.Errorf("%s not in the pushed group", f)
		}
	}
	if m, ok := ctPromSeries(mfs, "wattlens_process_energy_joules_total", map[string]string{"container_id": ctAPIID}); !ok || promLabel(m, "pod") != ctPod {
		t.Errorf("the api container's process series %v, want pod %q", m, ctPod)
	}
	if err := wl.stop(); err != nil {
		t.Errorf("wattlens on SIGTERM: %v\n%s", err, wl.out.String())
	}
}
