package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/exporter/promexp"
	"github.com/wattlens/wattlens/internal/porttest"
	"github.com/wattlens/wattlens/internal/procstat/procfstest"
)

// peerPanel is one target of a peer's dashboard (testdata/peer_dashboards.tsv).
type peerPanel struct{ dashboard, title, expr string }

// peerPanels reads the recorded panel queries of Scaphandre's and
// Kepler's dashboards.
func peerPanels(t *testing.T) []peerPanel {
	t.Helper()
	f, err := os.Open("testdata/peer_dashboards.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []peerPanel
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			t.Fatalf("peer_dashboards.tsv: %q: want dashboard, title, expression", line)
		}
		out = append(out, peerPanel{parts[0], parts[1], parts[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The fixture's extra processes: the ones Scaphandre's Kubernetes
// dashboard names (quiet ones among them, which Scaphandre exports because
// it exports every process), a qemu guest, and the agent's own PID, which
// <procfs>/self points at.
const (
	cdSelfPID = 4242
	cdQemuPID = 500
	cdProm    = 510
)

func cdProcs() []ctProc {
	mk := func(pid int, exe string, rate float64, args ...string) ctProc {
		comm := filepath.Base(exe)
		if len(comm) > 15 {
			comm = comm[:15]
		}
		return ctProc{Proc: procfstest.Proc{PID: pid, PPID: 1, Comm: comm, UTime: 1000, StartTime: uint64(100 + pid),
			Cmdline: append([]string{exe}, args...), Exe: exe, Cgroup: procfstest.CgroupV2("/system.slice/" + comm + ".service")}, rate: rate}
	}
	return []ctProc{
		mk(400, "/usr/bin/dockerd", 0, "-H", "fd://"),
		mk(401, "/usr/sbin/grafana-server", 0, "--homepath=/usr/share/grafana"),
		mk(402, "/usr/bin/scaphandre", 0, "prometheus"),
		mk(403, "/usr/bin/kubelet", 0, "--config=/var/lib/kubelet/config.yaml"),
		mk(cdQemuPID, "/usr/bin/qemu-system-x86_64", 20, "-name", "guest=web-vm,debug-threads=on", "-m", "2048"),
		mk(cdProm, "/usr/bin/prometheus", 5, "--config.file=/etc/prometheus/prometheus.yml"),
		mk(cdSelfPID, "/usr/bin/wattlens", 2, "prometheus"),
	}
}

// cdFixture is ctFixture's procfs with cdProcs added, a two-socket
// cpuinfo, a loadavg, and a
// self link to the agent's PID whose mountinfo is this test's own (real
// mount points, which statfs can read).
func cdFixture(t *testing.T) *ctTimeline {
	t.Helper()
	tl := ctFixture(t)
	for _, p := range cdProcs() {
		if err := tl.born(t, p)(tl); err != nil {
			t.Fatal(err)
		}
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"cpuinfo": "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\nphysical id\t: 0\ncore id\t\t: 0\n\n" +
			"processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\nphysical id\t: 1\ncore id\t\t: 0\n\n",
		"loadavg": "1.52 0.98 0.61 3/312 4242\n",
		filepath.Join(fmt.Sprint(cdSelfPID), "mountinfo"): string(mountinfo),
	} {
		if err := os.WriteFile(filepath.Join(tl.root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(fmt.Sprint(cdSelfPID), filepath.Join(tl.root, "self")); err != nil {
		t.Fatal(err)
	}
	return tl
}

// cdVars replaces the dashboards' variables as Grafana does with every
// value chosen: Kepler's $job is the scrape job, its $process one process's
// PID (nginx's), Scaphandre's process_filter text box empty.
var cdVars = strings.NewReplacer(
	`"$job"`, `"wattlens"`, "$zone", ".*", "$node", ".*", "$container", ".*", "$vm", ".*",
	"$namespace", ".*", "$pod", ".*", "${process}", "200", "${process_filter}", "")

// TestCompatDashboards runs every panel query of Scaphandre's three
// Grafana dashboards and of Kepler 0.11's default dashboard
// (testdata/peer_dashboards.tsv) through a real Prometheus scraping
// `wattlens prometheus --compat scaphandre,kepler`, on a fixture procfs
// whose processes burn CPU time (containers named by a fake Docker and a
// fake kubelet, a qemu guest, processes the dashboards name, quiet ones
// among them, with --process.top 3: only --process.include-regex gives
// those quiet ones series), and fails on any panel without data.
func TestCompatDashboards(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	promBin := promTool(t, "prometheus")
	sysfs, _ := fakeRAPL(t, map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20}, 0)
	tl := cdFixture(t)
	tl.start(t)

	port := porttest.Free(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	args := append([]string{"-s", "powercap_rapl", "--path.sysfs", sysfs, "--path.procfs", tl.root, "--cpu-source", "procfs",
		"--idle-power", "5", "prometheus", "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port), "--step", "1",
		"--compat", "scaphandre,kepler", "--process.top", "3",
		"--process.include-regex", `^(dockerd|grafana-server|scaphandre|prometheus|etcd|kube-apiserver|kube-controller|kube-proxy|kube-scheduler|kubelet)$`},
		ctPromSources(t)...)
	wl := promStart(t, "wattlens", wattlensBin, args...)
	promWaitFor(t, 15*time.Second, "the first snapshot on /metrics", func() bool {
		status, _, body := promGet(base+"/metrics", "")
		return status == http.StatusOK && bytes.Contains(body, []byte("kepler_container_cpu_watts")) &&
			bytes.Contains(body, []byte(`container_name="web"`)) && bytes.Contains(body, []byte(`pod_name="`+ctPod+`"`))
	}, wl)
	api, prom := promServe(t, promBin, base, wl)
	// A few scrapes, so that every series has samples with power.
	promWaitFor(t, 20*time.Second, "three scrapes", func() bool {
		v, ok := promQuery(api, `count_over_time(up{job="wattlens"}[1m])`)
		return ok && v >= 3
	}, wl, prom)

	// The exposition with both compat sets passes promtool, but for
	// Scaphandre's own microjoule counter names (promexp.ScaphandreLintProblem).
	_, _, body := promGet(base+"/metrics", "")
	problems, _ := promCheckMetrics(t, promTool(t, "promtool"), body)
	for _, p := range problems {
		if metric, text, _ := strings.Cut(p, " "); !promexp.ScaphandreLintProblem(metric, text) {
			t.Errorf("promtool: %s", p)
		}
	}

	panels := peerPanels(t)
	counts := map[string][2]int{}
	for _, p := range panels {
		expr := cdVars.Replace(p.expr)
		status, _, body := promGet(api+"/api/v1/query?query="+url.QueryEscape(expr), "")
		c := counts[p.dashboard]
		c[1]++
		switch {
		case status != http.StatusOK:
			t.Errorf("%s %q: %s: status %d: %s", p.dashboard, p.title, expr, status, body)
		case bytes.Contains(body, []byte(`"result":[]`)):
			t.Errorf("%s %q: %s: no data", p.dashboard, p.title, expr)
		default:
			c[0]++
		}
		counts[p.dashboard] = c
	}
	for d, c := range counts {
		t.Logf("%s: %d of %d panel queries return data", d, c[0], c[1])
	}
	if len(counts) != 4 {
		t.Errorf("dashboards tested: %v, want scaphandre-sample, scaphandre-compose, scaphandre-kubernetes, kepler", counts)
	}
}
