package promexp

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/attribution/attributiontest"
	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

var (
	ctrBench = strings.Repeat("a1", 32) // Docker, named only by the lookup
	ctrAPI   = strings.Repeat("b2", 32) // a pod's, named when looked up
	podShop  = "7d4f3c2a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
)

// containerSnapshot is fixedSnapshot with its processes placed in
// containers, a pod and a service, and the groups attribution would keep:
//
//	container bench = pid 100 (30 J) + an exited process (5 J)  = 35 J
//	container api   = pid 300                                    = 10 J
//	pod shop        = container api                              = 10 J
//	service qemu-web.service = pid 200                           = 20 J
//
// so for containers 35 + 10 + in none (pid 200 20 + pid 400 5 + exited 2)
// + unattributed 3 + idle 25 = host 100 J.
func containerSnapshot() *snapshot.Snapshot {
	s := fixedSnapshot()
	bench := &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeDocker, ID: ctrBench}
	api := &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeContainerd, ID: ctrAPI,
		PodUID: podShop, QoS: container.QoSBurstable, Name: "api", Pod: "shop-api-7f9c4", Namespace: "shop"}
	svc := &container.Workload{Kind: container.KindService, Runtime: container.RuntimeSystemd, ID: "qemu-web.service"}
	for i := range s.Processes {
		p := &s.Processes[i]
		m := *p.Meta
		switch p.PID {
		case 100:
			m.Workload = bench
		case 200:
			m.Workload = svc
		case 300:
			m.Workload = api
		}
		p.Meta = &m
	}
	e := func(total, delta units.Energy) snapshot.Energy {
		return snapshot.Energy{Total: total * units.Joule, Delta: delta * units.Joule, Power: units.PowerOf(delta*units.Joule, 2*time.Second), Source: power.Measured}
	}
	s.Groups = []snapshot.Group{
		{Kind: "container", ID: ctrBench, Workload: bench, Energy: e(35, 8), Processes: 1},
		{Kind: "container", ID: ctrAPI, Workload: api, Energy: e(10, 1), Processes: 1},
		{Kind: "pod", ID: podShop, Workload: api, Energy: e(10, 1), Processes: 1},
		{Kind: "service", ID: "qemu-web.service", Workload: svc, Energy: e(20, 4), Processes: 1},
	}
	return s
}

// benchName is what the bench container's name becomes as a label.
const benchName = "bench job\uFFFD"

// ctrNames is an Enricher.Name that knows the bench container only, by a
// name that needs cleaning.
func ctrNames(id string) (name, pod, namespace string, ok bool) {
	if id == ctrBench {
		return "bench\tjob\xff", "", "", true
	}
	return "", "", "", false
}

var containerNamesOf = []string{
	"wattlens_process_energy_joules_total", "wattlens_process_power_watts",
	"wattlens_container_energy_joules_total", "wattlens_container_power_watts",
	"wattlens_pod_energy_joules_total", "wattlens_pod_power_watts",
	"wattlens_service_energy_joules_total", "wattlens_service_power_watts",
}

var containerWant = `
# HELP wattlens_container_energy_joules_total ` + families()[containerEnergy].help + `
# TYPE wattlens_container_energy_joules_total counter
wattlens_container_energy_joules_total{container_id="` + ctrBench + `",container_name="` + benchName + `",namespace="",pod="",resource="cpu",runtime="docker",source="measured"} 24.5
wattlens_container_energy_joules_total{container_id="` + ctrBench + `",container_name="` + benchName + `",namespace="",pod="",resource="memory",runtime="docker",source="measured"} 3.5
wattlens_container_energy_joules_total{container_id="` + ctrBench + `",container_name="` + benchName + `",namespace="",pod="",resource="network",runtime="docker",source="measured"} 3.5
wattlens_container_energy_joules_total{container_id="` + ctrBench + `",container_name="` + benchName + `",namespace="",pod="",resource="storage",runtime="docker",source="measured"} 3.5
wattlens_container_energy_joules_total{container_id="` + ctrAPI + `",container_name="api",namespace="shop",pod="shop-api-7f9c4",resource="cpu",runtime="containerd",source="measured"} 7
wattlens_container_energy_joules_total{container_id="` + ctrAPI + `",container_name="api",namespace="shop",pod="shop-api-7f9c4",resource="memory",runtime="containerd",source="measured"} 1
wattlens_container_energy_joules_total{container_id="` + ctrAPI + `",container_name="api",namespace="shop",pod="shop-api-7f9c4",resource="network",runtime="containerd",source="measured"} 1
wattlens_container_energy_joules_total{container_id="` + ctrAPI + `",container_name="api",namespace="shop",pod="shop-api-7f9c4",resource="storage",runtime="containerd",source="measured"} 1
# HELP wattlens_container_power_watts ` + families()[containerPower].help + `
# TYPE wattlens_container_power_watts gauge
wattlens_container_power_watts{container_id="` + ctrBench + `",container_name="` + benchName + `",namespace="",pod="",resource="cpu",runtime="docker",source="measured"} 2.8
wattlens_container_power_watts{container_id="` + ctrBench + `",container_name="` + benchName + `",namespace="",pod="",resource="memory",runtime="docker",source="measured"} 0.4
wattlens_container_power_watts{container_id="` + ctrBench + `",container_name="` + benchName + `",namespace="",pod="",resource="network",runtime="docker",source="measured"} 0.4
wattlens_container_power_watts{container_id="` + ctrBench + `",container_name="` + benchName + `",namespace="",pod="",resource="storage",runtime="docker",source="measured"} 0.4
wattlens_container_power_watts{container_id="` + ctrAPI + `",container_name="api",namespace="shop",pod="shop-api-7f9c4",resource="cpu",runtime="containerd",source="measured"} 0.35
wattlens_container_power_watts{container_id="` + ctrAPI + `",container_name="api",namespace="shop",pod="shop-api-7f9c4",resource="memory",runtime="containerd",source="measured"} 0.05
wattlens_container_power_watts{container_id="` + ctrAPI + `",container_name="api",namespace="shop",pod="shop-api-7f9c4",resource="network",runtime="containerd",source="measured"} 0.05
wattlens_container_power_watts{container_id="` + ctrAPI + `",container_name="api",namespace="shop",pod="shop-api-7f9c4",resource="storage",runtime="containerd",source="measured"} 0.05
# HELP wattlens_pod_energy_joules_total ` + families()[podEnergy].help + `
# TYPE wattlens_pod_energy_joules_total counter
wattlens_pod_energy_joules_total{namespace="shop",pod="shop-api-7f9c4",pod_uid="` + podShop + `",resource="cpu",source="measured"} 7
wattlens_pod_energy_joules_total{namespace="shop",pod="shop-api-7f9c4",pod_uid="` + podShop + `",resource="memory",source="measured"} 1
wattlens_pod_energy_joules_total{namespace="shop",pod="shop-api-7f9c4",pod_uid="` + podShop + `",resource="network",source="measured"} 1
wattlens_pod_energy_joules_total{namespace="shop",pod="shop-api-7f9c4",pod_uid="` + podShop + `",resource="storage",source="measured"} 1
# HELP wattlens_pod_power_watts ` + families()[podPower].help + `
# TYPE wattlens_pod_power_watts gauge
wattlens_pod_power_watts{namespace="shop",pod="shop-api-7f9c4",pod_uid="` + podShop + `",resource="cpu",source="measured"} 0.35
wattlens_pod_power_watts{namespace="shop",pod="shop-api-7f9c4",pod_uid="` + podShop + `",resource="memory",source="measured"} 0.05
wattlens_pod_power_watts{namespace="shop",pod="shop-api-7f9c4",pod_uid="` + podShop + `",resource="network",source="measured"} 0.05
wattlens_pod_power_watts{namespace="shop",pod="shop-api-7f9c4",pod_uid="` + podShop + `",resource="storage",source="measured"} 0.05
# HELP wattlens_process_energy_joules_total ` + families()[processEnergy].help + `
# TYPE wattlens_process_energy_joules_total counter
wattlens_process_energy_joules_total{cmdline="",comm="kworker/0:1",container_id="",container_name="",exe="",namespace="",pid="400",pod="",resource="cpu",source="measured"} 3.5
wattlens_process_energy_joules_total{cmdline="",comm="kworker/0:1",container_id="",container_name="",exe="",namespace="",pid="400",pod="",resource="memory",source="measured"} 0.5
wattlens_process_energy_joules_total{cmdline="",comm="kworker/0:1",container_id="",container_name="",exe="",namespace="",pid="400",pod="",resource="network",source="measured"} 0.5
wattlens_process_energy_joules_total{cmdline="",comm="kworker/0:1",container_id="",container_name="",exe="",namespace="",pid="400",pod="",resource="storage",source="measured"} 0.5
wattlens_process_energy_joules_total{cmdline="python3 serve.py",comm="python3",container_id="` + ctrAPI + `",container_name="api",exe="/usr/bin/python3",namespace="shop",pid="300",pod="shop-api-7f9c4",resource="cpu",source="measured"} 7
wattlens_process_energy_joules_total{cmdline="python3 serve.py",comm="python3",container_id="` + ctrAPI + `",container_name="api",exe="/usr/bin/python3",namespace="shop",pid="300",pod="shop-api-7f9c4",resource="memory",source="measured"} 1
wattlens_process_energy_joules_total{cmdline="python3 serve.py",comm="python3",container_id="` + ctrAPI + `",container_name="api",exe="/usr/bin/python3",namespace="shop",pid="300",pod="shop-api-7f9c4",resource="network",source="measured"} 1
wattlens_process_energy_joules_total{cmdline="python3 serve.py",comm="python3",container_id="` + ctrAPI + `",container_name="api",exe="/usr/bin/python3",namespace="shop",pid="300",pod="shop-api-7f9c4",resource="storage",source="measured"} 1
wattlens_process_energy_joules_total{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",container_id="",container_name="",exe="/usr/bin/qemu-system-x86_64",namespace="",pid="200",pod="",resource="cpu",source="measured"} 14
wattlens_process_energy_joules_total{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",container_id="",container_name="",exe="/usr/bin/qemu-system-x86_64",namespace="",pid="200",pod="",resource="memory",source="measured"} 2
wattlens_process_energy_joules_total{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",container_id="",container_name="",exe="/usr/bin/qemu-system-x86_64",namespace="",pid="200",pod="",resource="network",source="measured"} 2
wattlens_process_energy_joules_total{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",container_id="",container_name="",exe="/usr/bin/qemu-system-x86_64",namespace="",pid="200",pod="",resource="storage",source="measured"} 2
wattlens_process_energy_joules_total{cmdline="stress-ng --cpu 2",comm="stress-ng",container_id="` + ctrBench + `",container_name="` + benchName + `",exe="/usr/bin/stress-ng",namespace="",pid="100",pod="",resource="cpu",source="measured"} 21
wattlens_process_energy_joules_total{cmdline="stress-ng --cpu 2",comm="stress-ng",container_id="` + ctrBench + `",container_name="` + benchName + `",exe="/usr/bin/stress-ng",namespace="",pid="100",pod="",resource="memory",source="measured"} 3
wattlens_process_energy_joules_total{cmdline="stress-ng --cpu 2",comm="stress-ng",container_id="` + ctrBench + `",container_name="` + benchName + `",exe="/usr/bin/stress-ng",namespace="",pid="100",pod="",resource="network",source="measured"} 3
wattlens_process_energy_joules_total{cmdline="stress-ng --cpu 2",comm="stress-ng",container_id="` + ctrBench + `",container_name="` + benchName + `",exe="/usr/bin/stress-ng",namespace="",pid="100",pod="",resource="storage",source="measured"} 3
# HELP wattlens_process_power_watts ` + families()[processPower].help + `
# TYPE wattlens_process_power_watts gauge
wattlens_process_power_watts{cmdline="",comm="kworker/0:1",container_id="",container_name="",exe="",namespace="",pid="400",pod="",resource="cpu",source="measured"} 0.35
wattlens_process_power_watts{cmdline="",comm="kworker/0:1",container_id="",container_name="",exe="",namespace="",pid="400",pod="",resource="memory",source="measured"} 0.05
wattlens_process_power_watts{cmdline="",comm="kworker/0:1",container_id="",container_name="",exe="",namespace="",pid="400",pod="",resource="network",source="measured"} 0.05
wattlens_process_power_watts{cmdline="",comm="kworker/0:1",container_id="",container_name="",exe="",namespace="",pid="400",pod="",resource="storage",source="measured"} 0.05
wattlens_process_power_watts{cmdline="python3 serve.py",comm="python3",container_id="` + ctrAPI + `",container_name="api",exe="/usr/bin/python3",namespace="shop",pid="300",pod="shop-api-7f9c4",resource="cpu",source="measured"} 0.35
wattlens_process_power_watts{cmdline="python3 serve.py",comm="python3",container_id="` + ctrAPI + `",container_name="api",exe="/usr/bin/python3",namespace="shop",pid="300",pod="shop-api-7f9c4",resource="memory",source="measured"} 0.05
wattlens_process_power_watts{cmdline="python3 serve.py",comm="python3",container_id="` + ctrAPI + `",container_name="api",exe="/usr/bin/python3",namespace="shop",pid="300",pod="shop-api-7f9c4",resource="network",source="measured"} 0.05
wattlens_process_power_watts{cmdline="python3 serve.py",comm="python3",container_id="` + ctrAPI + `",container_name="api",exe="/usr/bin/python3",namespace="shop",pid="300",pod="shop-api-7f9c4",resource="storage",source="measured"} 0.05
wattlens_process_power_watts{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",container_id="",container_name="",exe="/usr/bin/qemu-system-x86_64",namespace="",pid="200",pod="",resource="cpu",source="measured"} 1.4
wattlens_process_power_watts{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",container_id="",container_name="",exe="/usr/bin/qemu-system-x86_64",namespace="",pid="200",pod="",resource="memory",source="measured"} 0.2
wattlens_process_power_watts{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",container_id="",container_name="",exe="/usr/bin/qemu-system-x86_64",namespace="",pid="200",pod="",resource="network",source="measured"} 0.2
wattlens_process_power_watts{cmdline="qemu-system-x86_64 -name guest=web",comm="qemu-system-x86",container_id="",container_name="",exe="/usr/bin/qemu-system-x86_64",namespace="",pid="200",pod="",resource="storage",source="measured"} 0.2
wattlens_process_power_watts{cmdline="stress-ng --cpu 2",comm="stress-ng",container_id="` + ctrBench + `",container_name="` + benchName + `",exe="/usr/bin/stress-ng",namespace="",pid="100",pod="",resource="cpu",source="measured"} 2.8
wattlens_process_power_watts{cmdline="stress-ng --cpu 2",comm="stress-ng",container_id="` + ctrBench + `",container_name="` + benchName + `",exe="/usr/bin/stress-ng",namespace="",pid="100",pod="",resource="memory",source="measured"} 0.4
wattlens_process_power_watts{cmdline="stress-ng --cpu 2",comm="stress-ng",container_id="` + ctrBench + `",container_name="` + benchName + `",exe="/usr/bin/stress-ng",namespace="",pid="100",pod="",resource="network",source="measured"} 0.4
wattlens_process_power_watts{cmdline="stress-ng --cpu 2",comm="stress-ng",container_id="` + ctrBench + `",container_name="` + benchName + `",exe="/usr/bin/stress-ng",namespace="",pid="100",pod="",resource="storage",source="measured"} 0.4
# HELP wattlens_service_energy_joules_total ` + families()[serviceEnergy].help + `
# TYPE wattlens_service_energy_joules_total counter
wattlens_service_energy_joules_total{resource="cpu",service="qemu-web.service",source="measured"} 14
wattlens_service_energy_joules_total{resource="memory",service="qemu-web.service",source="measured"} 2
wattlens_service_energy_joules_total{resource="network",service="qemu-web.service",source="measured"} 2
wattlens_service_energy_joules_total{resource="storage",service="qemu-web.service",source="measured"} 2
# HELP wattlens_service_power_watts ` + families()[servicePower].help + `
# TYPE wattlens_service_power_watts gauge
wattlens_service_power_watts{resource="cpu",service="qemu-web.service",source="measured"} 1.4
wattlens_service_power_watts{resource="memory",service="qemu-web.service",source="measured"} 0.2
wattlens_service_power_watts{resource="network",service="qemu-web.service",source="measured"} 0.2
wattlens_service_power_watts{resource="storage",service="qemu-web.service",source="measured"} 0.2
`

// TestCollectContainers: with --containers, process series carry their
// container's labels (names as the lookup knows them now, cleaned), and
// containers, pods and services have series of their own.
func TestCollectContainers(t *testing.T) {
	c := mustNew(t, Options{TopN: 0, Containers: true, Names: ctrNames})
	exportAll(t, c, containerSnapshot())
	if err := testutil.CollectAndCompare(c, strings.NewReader(containerWant), containerNamesOf...); err != nil {
		t.Error(err)
	}
	// The rest of the native set is unchanged.
	c = mustNew(t, Options{TopN: 2, Containers: true, Names: ctrNames})
	exportAll(t, c, containerSnapshot())
	if err := testutil.CollectAndCompare(c, strings.NewReader(nativeWantExcept(t, "wattlens_process_", "wattlens_scrape_series")),
		nativeNamesExcept("wattlens_process_", "wattlens_scrape_series")...); err != nil {
		t.Error(err)
	}
}

// nativeNamesExcept is nativeNames less those with one of the prefixes.
func nativeNamesExcept(prefixes ...string) []string {
	return slices.DeleteFunc(slices.Clone(nativeNames), func(n string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(n, p) })
	})
}

// nativeWantExcept is nativeWant less the families with one of the
// prefixes.
func nativeWantExcept(t *testing.T, prefixes ...string) string {
	t.Helper()
	var out []string
	skip := false
	for _, l := range strings.Split(nativeWant, "\n") {
		if strings.HasPrefix(l, "# HELP ") {
			name := strings.Fields(l)[2]
			skip = slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) })
		}
		if !skip {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestContainersOff: without --containers a snapshot with groups and
// workloads gives exactly what it gives without them: no container
// families, described or collected, and process series with their usual
// labels.
func TestContainersOff(t *testing.T) {
	plain := mustNew(t, Options{TopN: 2})
	exportAll(t, plain, fixedSnapshot())
	off := mustNew(t, Options{TopN: 2})
	exportAll(t, off, containerSnapshot())

	if err := testutil.CollectAndCompare(off, strings.NewReader(nativeWant), nativeNames...); err != nil {
		t.Error(err)
	}
	if diff := cmp.Diff(names(gather(t, plain)), names(gather(t, off))); diff != "" {
		t.Errorf("families with groups but no --containers (-without groups +with):\n%s", diff)
	}
	if diff := cmp.Diff(describe(plain), describe(off)); diff != "" {
		t.Errorf("descriptors without --containers (-plain +with groups):\n%s", diff)
	}
	for _, d := range describe(off) {
		name, _, _ := strings.Cut(d, ", help:")
		_, labels, _ := strings.Cut(d, "variableLabels:")
		for _, n := range []string{"container", "pod", "namespace", "service", "runtime"} {
			if strings.Contains(name, n) || strings.Contains(labels, n) {
				t.Errorf("descriptor without --containers has %q: %s", n, d)
			}
		}
	}
	var body strings.Builder
	for _, mf := range gather(t, off) {
		body.WriteString(mf.String())
	}
	for _, s := range []string{ctrBench, ctrAPI, podShop, "qemu-web.service", `name:"container_`, `name:"pod`, `name:"namespace"`} {
		if strings.Contains(body.String(), s) {
			t.Errorf("the exposition without --containers holds %q", s)
		}
	}
}

// describe returns the descriptors' strings, sorted.
func describe(c prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc, 100)
	go func() { c.Describe(ch); close(ch) }()
	var out []string
	for d := range ch {
		out = append(out, d.String())
	}
	slices.Sort(out)
	return out
}

var scaphNames = []string{
	"scaph_host_power_microwatts", "scaph_host_energy_microjoules",
	"scaph_socket_power_microwatts", "scaph_socket_energy_microjoules",
	"scaph_domain_power_microwatts", "scaph_domain_energy_microjoules",
	"scaph_process_power_consumption_microwatts", "scaph_process_cpu_usage_percentage",
	"scaph_self_version", "scaph_self_topo_procs_nb",
}

func TestLintContainers(t *testing.T) {
	c := mustNew(t, Options{TopN: 3, Containers: true, Names: ctrNames})
	exportAll(t, c, containerSnapshot())
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestContainersScaphandreUntouched: --containers changes no scaph_
// series: same names, same labels.
func TestContainersScaphandreUntouched(t *testing.T) {
	c := mustNew(t, Options{TopN: 0, Compat: []string{CompatScaphandre}, Containers: true, Names: ctrNames})
	exportAll(t, c, containerSnapshot())
	if err := testutil.CollectAndCompare(c, strings.NewReader(scaphWant), scaphNames...); err != nil {
		t.Error(err)
	}
}

// TestContainersSensorDown: while the sensor is down the group counters
// are held and their power gauges left out, like the host's.
func TestContainersSensorDown(t *testing.T) {
	c := mustNew(t, Options{Containers: true})
	up := containerSnapshot()
	down := *up
	down.SensorUp = false
	exportAll(t, c, up, &down)
	mfs := gather(t, c)
	for _, n := range []string{"wattlens_container_energy_joules_total", "wattlens_pod_energy_joules_total", "wattlens_service_energy_joules_total"} {
		if mfs[n] == nil {
			t.Errorf("%s gone while the sensor is down", n)
		}
	}
	if got := sumFamily(mfs, "wattlens_container_energy_joules_total"); got != 45 {
		t.Errorf("containers hold %v J while down, want 45", got)
	}
	for _, n := range []string{"wattlens_container_power_watts", "wattlens_pod_power_watts", "wattlens_service_power_watts"} {
		if mfs[n] != nil {
			t.Errorf("%s served while the sensor is down", n)
		}
	}
}

// TestContainerLabelsUnique: two groups whose labels become the same once
// cut do not make the scrape fail.
func TestContainerLabelsUnique(t *testing.T) {
	s := containerSnapshot()
	long := strings.Repeat("x", 2*maxLabelBytes)
	s.Groups = append(s.Groups,
		snapshot.Group{Kind: "service", ID: long + "a.service", Energy: s.Groups[3].Energy},
		snapshot.Group{Kind: "service", ID: long + "b.service", Energy: s.Groups[3].Energy},
		snapshot.Group{Kind: "vm", ID: "unknown kind", Energy: s.Groups[3].Energy},
	)
	c := mustNew(t, Options{Containers: true})
	exportAll(t, c, s)
	// Per service, one series for each of the 4 resources of the fixture.
	if n := len(gather(t, c)["wattlens_service_energy_joules_total"].GetMetric()); n != 2*4 {
		t.Errorf("%d service series, want 8: 2 services × 4 resources (the two long ones are one once cut)", n)
	}
}

// ctrPool is the containers world: two pods (two containers and one),
// a Docker container, a batch container whose ID changes every 100 s
// (so old ones empty and are forgotten), a systemd service, and plain
// processes. Names arrive late for the first pod.
type ctrPool struct{}

const ctrPodA, ctrPodB = "aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b"

func ctrID(k int) string { return fmt.Sprintf("%064x", k) }

// pick returns the workload of a new process.
func (ctrPool) pick(w *attributiontest.World) any {
	switch k := w.Rand().IntN(8); k {
	case 0, 1:
		return &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeContainerd, ID: ctrID(k), PodUID: ctrPodA}
	case 2:
		return &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeCRIO, ID: ctrID(k), PodUID: ctrPodB,
			Name: "db", Pod: "db-0", Namespace: "data"}
	case 3:
		return &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeDocker, ID: ctrID(k)}
	case 4:
		return &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeDocker, ID: ctrID(1000 + w.Seconds()/100)}
	case 5:
		return &container.Workload{Kind: container.KindService, Runtime: container.RuntimeSystemd, ID: "nginx.service"}
	}
	return nil
}

// podOf is the pod UID of a container of the pool.
func (ctrPool) podOf(id string) string {
	switch id {
	case ctrID(0), ctrID(1):
		return ctrPodA
	case ctrID(2):
		return ctrPodB
	}
	return ""
}

// names is the pool's Enricher.Name: the first pod is named from 20 s on.
func (ctrPool) names(w *attributiontest.World) container.NameFunc {
	return func(id string) (name, pod, namespace string, ok bool) {
		switch {
		case id == ctrID(0) && w.Seconds() >= 20:
			return "api", "api-7f9c4-x2x9k", "shop", true
		case id == ctrID(1) && w.Seconds() >= 20:
			return "sidecar", "api-7f9c4-x2x9k", "shop", true
		case id == ctrID(3):
			return "web", "", "", true
		}
		return "", "", "", false
	}
}

// TestContainerSeriesMonotonicAndConserving drives the real attribution,
// with processes in containers, pods and a service coming and going and
// groups being forgotten, through hundreds of ticks. At every tick:
// every container, pod and service counter that was there the tick before
// has not gone down; for each kind, the groups + processes in none (alive
// and exited) + the groups already forgotten + unattributed + idle = host,
// exactly; a pod is the sum of its containers (forgotten ones included);
// each process series carries its container's labels; and the process
// sums of TestLedgerMonotonicAndConserving still add up.
func TestContainerSeriesMonotonicAndConserving(t *testing.T) {
	for _, topN := range []int{3, 0} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("top%d/seed%d", topN, seed), func(t *testing.T) {
				checkContainerSeries(t, topN, seed)
			})
		}
	}
}

// ctrKinds are the group kinds and the families of their series.
var ctrKinds = []struct {
	kind   string
	family string
	in     func(w *container.Workload) bool // whether a process of w is in a group of the kind
}{
	{"container", "wattlens_container_energy_joules_total", func(w *container.Workload) bool { return w != nil && w.Kind == container.KindContainer }},
	{"pod", "wattlens_pod_energy_joules_total", func(w *container.Workload) bool { return w != nil && w.PodUID != "" }},
	{"service", "wattlens_service_energy_joules_total", func(w *container.Workload) bool { return w != nil && w.Kind == container.KindService }},
}

func checkContainerSeries(t *testing.T, topN int, seed uint64) {
	var pool ctrPool
	w := attributiontest.NewWorld(seed, 0, attributiontest.Options{Start: t0, VMEvery: 7, Attribution: attribution.Options{
		Sensor: "powercap_rapl", IdlePower: 5 * units.Watt, IdleOrigin: attribution.IdleFromFlag, GroupRetention: 20 * time.Second}})
	w.Workload = pool.pick
	for range 25 {
		w.Spawn()
	}
	c := mustNew(t, Options{TopN: topN, Containers: true, Names: pool.names(w)})

	type kindSums struct {
		prev      map[string]units.Energy // group ID → counter, the tick before
		forgotten units.Energy            // last counters of the groups gone
		exited    units.Energy            // totals of exited processes in none
	}
	sums := map[string]*kindSums{}
	for _, k := range ctrKinds {
		sums[k.kind] = &kindSums{prev: map[string]units.Energy{}}
	}
	forgottenOfPod := map[string]units.Energy{}
	var prevSnap *snapshot.Snapshot
	var forgets, named, exits int
	prevScrape := map[string]float64{}
	for tick := 0; tick < 300; tick++ {
		s := w.Step()
		if s == nil {
			continue
		}
		exportAll(t, c, s)
		v := c.view.Load()

		// The process series are unchanged by --containers.
		var sum units.Energy
		for _, p := range v.procs {
			sum += p.energy
		}
		if sum+v.other.Total+s.Idle.Total != s.Host.Total {
			t.Fatalf("tick %d: Σ process %d + other %d + idle %d != host %d µJ", tick, sum, v.other.Total, s.Idle.Total, s.Host.Total)
		}

		cur := map[string]map[string]units.Energy{
			"container": seriesByID(v.containers), "pod": seriesByID(v.pods), "service": seriesByID(v.services),
		}
		if prevSnap != nil {
			alive := map[procinfo.Key]bool{}
			for _, p := range s.Processes {
				alive[p.Key] = true
			}
			for _, p := range prevSnap.Processes {
				if alive[p.Key] {
					continue
				}
				exits++
				wl, _ := p.Workload.(*container.Workload)
				for _, k := range ctrKinds {
					if !k.in(wl) {
						sums[k.kind].exited += p.Total
					}
				}
			}
		}
		for _, k := range ctrKinds {
			kb := sums[k.kind]
			for id, old := range kb.prev {
				now, ok := cur[k.kind][id]
				switch {
				case !ok:
					kb.forgotten += old
					forgets++
					if pod := pool.podOf(id); k.kind == "container" && pod != "" {
						forgottenOfPod[pod] += old
					}
					if k.kind == "pod" {
						// Its containers are gone too; should it come
						// back, it starts again from zero.
						forgottenOfPod[id] = 0
					}
				case now < old:
					t.Fatalf("tick %d: %s %s went from %d to %d µJ", tick, k.kind, id, old, now)
				}
			}
			total := kb.forgotten + kb.exited + s.Unattributed.Total + s.Idle.Total
			for _, e := range cur[k.kind] {
				total += e
			}
			for _, p := range s.Processes {
				if wl, _ := p.Workload.(*container.Workload); !k.in(wl) {
					total += p.Total
				}
			}
			if total != s.Host.Total {
				t.Fatalf("tick %d: %ss + in none + forgotten + unattributed + idle = %d µJ, host %d µJ", tick, k.kind, total, s.Host.Total)
			}
			kb.prev = cur[k.kind]
		}
		for pod, e := range cur["pod"] {
			sum := forgottenOfPod[pod]
			for id, ce := range cur["container"] {
				if pool.podOf(id) == pod {
					sum += ce
				}
			}
			if sum != e {
				t.Fatalf("tick %d: pod %s holds %d µJ, its containers %d µJ", tick, pod, e, sum)
			}
		}

		// Process series carry their container's labels, named as the
		// lookup knows them now.
		byPID := map[string]*snapshot.Process{}
		for i := range s.Processes {
			byPID[fmt.Sprint(s.Processes[i].PID)] = &s.Processes[i]
		}
		for _, ps := range v.procs {
			p := byPID[ps.labels.pid]
			wl, _ := p.Workload.(*container.Workload)
			var want ctrLabels
			if wl != nil && wl.Kind == container.KindContainer {
				name, pod, ns := wl.CurrentNames(pool.names(w))
				want = ctrLabels{wl.ID, name, pod, ns}
			}
			got := noContainer
			if ps.ctr != nil {
				got = *ps.ctr
			}
			if got != want {
				t.Fatalf("tick %d: pid %s container labels %+v, want %+v", tick, ps.labels.pid, got, want)
			}
			if got.name == "api" {
				named++
			}
		}

		// As a scraper sees it: every series of a group family is
		// monotonic, by its full label set.
		mfs := gather(t, c)
		scrape := map[string]float64{}
		for _, k := range ctrKinds {
			for _, m := range mfs[k.family].GetMetric() {
				key := k.family + labelString(m)
				scrape[key] = m.GetCounter().GetValue()
				if old, ok := prevScrape[key]; ok && scrape[key] < old {
					t.Fatalf("tick %d: %s went from %v to %v", tick, key, old, scrape[key])
				}
			}
		}
		prevScrape = scrape
		host := sumFamily(mfs, "wattlens_host_energy_joules_total")
		if got := sumFamily(mfs, "wattlens_container_energy_joules_total"); got > host-sumFamily(mfs, "wattlens_idle_energy_joules_total")+1e-6 {
			t.Fatalf("tick %d: containers hold %v J, more than host − idle", tick, got)
		}
		prevSnap = s
	}
	t.Logf("%d groups forgotten, %d exits, %d process series named late", forgets, exits, named)
	if forgets == 0 || exits == 0 || named == 0 {
		t.Errorf("%d groups forgotten, %d exits, %d process series named late: the run tests too little", forgets, exits, named)
	}
}

// seriesByID maps each group series' ID (its first label) to its counter.
func seriesByID(gs []groupSeries) map[string]units.Energy {
	out := make(map[string]units.Energy, len(gs))
	for _, g := range gs {
		out[g.labels[0]] = g.energy.Sum()
	}
	return out
}

func labelString(m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(ls, ",") + "}"
}
