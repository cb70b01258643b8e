package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

// chartCaps reads the capabilities the rendered chart adds by default
// (deploy/kubernetes/wattlens.yaml) and adds what ebpf.enabled=true adds
// (BPF; deploy/chart_test.go checks that), as setpriv names them.
func chartCaps(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/kubernetes/wattlens.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`capabilities:\s*\n\s*add:\s*\n((?:\s*- \S+\n)+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the rendered chart adds no capability")
	}
	var caps []string
	for _, l := range strings.Split(strings.TrimSpace(string(m[1])), "\n") {
		caps = append(caps, strings.ToLower(strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- ")), `"`)))
	}
	if !slices.Contains(caps, "perfmon") {
		t.Fatalf("the chart adds %v, not PERFMON", caps)
	}
	if !slices.Contains(caps, "bpf") {
		caps = append(caps, "bpf") // ebpf.enabled=true
	}
	slices.Sort(caps)
	return caps
}

// asNobody is the command line that runs wattlens as uid 65534 with only
// caps: inheritable, ambient and bounding sets, no groups.
func asNobody(caps []string, args ...string) []string {
	set := "-all"
	for _, c := range caps {
		set += ",+" + c
	}
	return append([]string{"setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
		"--inh-caps=" + set, "--ambient-caps=" + set, "--bounding-set=" + set, wattlensBin}, args...)
}

// openTree makes a directory every user can read, for the fixtures.
func openTree(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wattlens-priv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func needNobody(t *testing.T) {
	t.Helper()
	needEBPF(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("no setpriv (util-linux)")
	}
	// The binary must be reachable by uid 65534.
	for d := filepath.Dir(wattlensBin); d != "/"; d = filepath.Dir(d) {
		if unix.Access(d, unix.X_OK) != nil {
			break
		}
		fi, err := os.Stat(d)
		if err == nil && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestNonRootLikeTheChart runs the agent as uid 65534 with exactly the
// chart's capabilities beside a root run on the same simulated RAPL: the
// eBPF source loads, a root-owned process keeps its name, and both runs
// measure the same power.
func TestNonRootLikeTheChart(t *testing.T) {
	needNobody(t)
	caps := chartCaps(t)
	root := openTree(t)
	watts := map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20, "intel-rapl:0:0": 5, "intel-rapl:1:0": 3}
	startFakeRAPL(t, root, watts)
	b := startBurner(t, 0.3, 20*time.Second) // root's

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	args := []string{"--cpu-source", "ebpf", "-s", "powercap_rapl", "--path.sysfs", root, "--idle-power", "10",
		"json", "--step", "1", "--timeout", "7", "--max-top-consumers", "100000"}
	type run struct {
		out    []byte
		stderr strings.Builder
		err    error
	}
	var runs [2]run
	done := make(chan int, 2)
	for i, argv := range [][]string{append([]string{wattlensBin}, args...), asNobody(caps, args...)} {
		go func() {
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Stderr = &runs[i].stderr
			runs[i].out, runs[i].err = cmd.Output()
			done <- i
		}()
	}
	<-done
	<-done
	var mean [2]float64
	for i, who := range []string{"root", "uid 65534 with " + strings.Join(caps, ",")} {
		r := &runs[i]
		if r.err != nil {
			t.Fatalf("%s: %v\n%s", who, r.err, r.stderr.String())
		}
		if !strings.Contains(r.stderr.String(), "per-process cpu time from ebpf") {
			t.Errorf("%s: the eBPF source is not used:\n%s", who, r.stderr.String())
		}
		recs := decode(t, r.out)
		if len(recs) < 5 {
			t.Fatalf("%s: %d lines", who, len(recs))
		}
		var sum float64
		for _, rec := range recs[1:] {
			sum += rec.Host.PowerWatts
		}
		mean[i] = sum / float64(len(recs)-1)
		if e := relErr(mean[i], 58); e > 0.03 {
			t.Errorf("%s: mean host power %.2f W, the fake draws 58 W", who, mean[i])
		}
		// The root-owned burner keeps its name (cmdline); its exe needs
		// CAP_SYS_PTRACE, which the chart does not grant.
		last := recs[len(recs)-1]
		k := slices.IndexFunc(last.Consumers, func(c consumer) bool { return c.PID == b.Process.Pid })
		if k < 0 {
			t.Fatalf("%s: burner %d not among the consumers", who, b.Process.Pid)
		}
		if c := last.Consumers[k]; !strings.Contains(c.Cmdline, "burner") || c.EnergyJoules <= 0 {
			t.Errorf("%s: root's burner reported as %+v", who, c)
		}
		t.Logf("%s: mean host power %.3f W over %d lines; burner %q exe %q", who, mean[i], len(recs)-1, last.Consumers[k].Cmdline, last.Consumers[k].Exe)
	}
	if e := relErr(mean[1], mean[0]); e > 0.02 {
		t.Errorf("uid 65534 measured %.3f W, root %.3f W", mean[1], mean[0])
	}
}

// startFakeRAPL is fakeRAPL at a given root: an Intel two-socket tree
// whose energy_uj files are mode 0444 (powercaptest's default), so that
// uid 65534 reads them.
func startFakeRAPL(t *testing.T, root string, watts map[string]float64) {
	t.Helper()
	powercaptest.Start(t, root, powercaptest.IntelServer2S(), watts, 70_000_000)
}

type infoJSON struct {
	Sensors []struct {
		Name       string `json:"name"`
		Works      bool   `json:"works"`
		Reason     string `json:"reason"`
		Permission bool   `json:"permission_denied"`
	} `json:"sensors"`
	CPUSource struct {
		Use string `json:"use"`
	} `json:"cpu_source"`
	Privileges struct {
		UID       uint64   `json:"uid"`
		Effective []string `json:"effective_capabilities"`
		Missing   []struct {
			Source string `json:"source"`
			Needs  string `json:"needs"`
		} `json:"missing"`
	} `json:"privileges"`
}

// TestInfoNamesTheMissingCapability takes each of the chart's
// capabilities away in turn and checks that info names it. The sysfs tree
// has a "power" PMU whose energy-pkg is the software event cpu-clock, so
// that perf_rapl goes through the kernel's real perf_event_open checks
// (perf_event_paranoid is 2 here: CPU-wide events need CAP_PERFMON).
func TestInfoNamesTheMissingCapability(t *testing.T) {
	needNobody(t)
	paranoid, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		t.Fatal(err)
	}
	level, _ := strconv.Atoi(strings.TrimSpace(string(paranoid)))
	if level <= 0 {
		t.Skipf("perf_event_paranoid is %d: CPU-wide events need no capability here", level)
	}
	caps := chartCaps(t)
	root := openTree(t)
	startFakeRAPL(t, root, map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20})
	pmu := filepath.Join(root, "bus/event_source/devices/power")
	for path, content := range map[string]string{
		"type": "1\n", "cpumask": "0\n", "format/event": "config:0-7\n",
		"events/energy-pkg": "event=0x00\n", "events/energy-pkg.scale": "2.3283064365386962890625e-10\n",
		"events/energy-pkg.unit": "Joules\n",
	} {
		writeFile(t, filepath.Join(pmu, path), content)
	}
	topo := filepath.Join(root, "devices/system/cpu/cpu0/topology/physical_package_id")
	if _, err := os.Stat(topo); err != nil {
		writeFile(t, topo, "0\n")
	}

	for _, tt := range []struct {
		name  string
		caps  []string
		needs map[string]string // source → what info says it needs
	}{
		{"the chart's", caps, map[string]string{"process exe and I/O of other users": "CAP_SYS_PTRACE"}},
		{"without perfmon", without(caps, "perfmon"), map[string]string{
			"perf_rapl": "CAP_PERFMON", "ebpf (--cpu-source ebpf)": "CAP_PERFMON", "process exe and I/O of other users": "CAP_SYS_PTRACE"}},
		{"without bpf", without(caps, "bpf"), map[string]string{
			"ebpf (--cpu-source ebpf)": "CAP_BPF", "process exe and I/O of other users": "CAP_SYS_PTRACE"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			argv := asNobody(tt.caps, "--path.sysfs", root, "info", "--json")
			cmd := exec.Command(argv[0], argv[1:]...)
			out, err := cmd.Output()
			var rep infoJSON
			if jerr := json.Unmarshal(out, &rep); jerr != nil {
				t.Fatalf("%v / %v in %s", err, jerr, out)
			}
			if rep.Privileges.UID != 65534 {
				t.Errorf("uid %d", rep.Privileges.UID)
			}
			got := map[string]string{}
			for _, m := range rep.Privileges.Missing {
				got[m.Source] = m.Needs
			}
			delete(got, "containers (Docker)") // this machine's Docker socket
			for src, needs := range tt.needs {
				if got[src] != needs {
					t.Errorf("info says %s needs %q, want %q (all: %v)", src, got[src], needs, got)
				}
			}
			if len(got) != len(tt.needs) {
				t.Errorf("info lists %v, want %v", got, tt.needs)
			}
			for _, s := range rep.Sensors {
				if s.Name != "perf_rapl" {
					continue
				}
				_, needsPerfmon := tt.needs["perf_rapl"]
				want := fmt.Sprintf("perf_event_paranoid is %d; grant CAP_PERFMON, or run as root", level)
				if s.Works == needsPerfmon || needsPerfmon && (!s.Permission || !strings.Contains(s.Reason, want)) {
					t.Errorf("perf_rapl: works %v, reason %q", s.Works, s.Reason)
				}
			}
		})
	}
}

func without(caps []string, c string) []string {
	return slices.DeleteFunc(slices.Clone(caps), func(x string) bool { return x == c })
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
