package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/porttest"
	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

// cpuMeter drives package-0 of a fixture tree with a power whose truth is
// known: idle + perCPU watts for every busy CPU of this machine, read from
// the real /proc/stat (user + nice + system + irq + softirq) every 20 ms.
// Every other zone stays still. Whatever wattlens is told, a process that
// used c CPU-seconds drew perCPU × c joules above idle.
type cpuMeter struct {
	path         string // resolved energy_uj of intel-rapl:0
	rangeUJ      uint64
	idle, perCPU float64

	mu      sync.Mutex
	written float64 // joules
	stop    chan struct{}
	done    chan struct{}
}

func startCPUMeter(t *testing.T, idle, perCPU float64) (sysfs string, m *cpuMeter) {
	t.Helper()
	root := t.TempDir()
	if err := powercaptest.Build(root, powercaptest.IntelServer2S()); err != nil {
		t.Fatal(err)
	}
	zone, err := filepath.EvalSymlinks(filepath.Join(powercaptest.PowercapDir(root), "intel-rapl:0"))
	if err != nil {
		t.Fatal(err)
	}
	m = &cpuMeter{path: filepath.Join(zone, "energy_uj"), idle: idle, perCPU: perCPU, stop: make(chan struct{}), done: make(chan struct{})}
	b, err := os.ReadFile(filepath.Join(zone, "max_energy_range_uj"))
	if err != nil {
		t.Fatal(err)
	}
	if m.rangeUJ, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil {
		t.Fatal(err)
	}
	go m.loop(t)
	t.Cleanup(m.halt)
	return root, m
}

func (m *cpuMeter) halt() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

// busyTicks reads the machine's busy CPU time, in USER_HZ ticks.
func busyTicks() (uint64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: %q", line)
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		busy += v
	}
	return busy, nil
}

func (m *cpuMeter) loop(t *testing.T) {
	defer close(m.done)
	b, err := os.ReadFile(m.path)
	if err != nil {
		t.Errorf("meter: %v", err)
		return
	}
	raw, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	lastBusy, err := busyTicks()
	if err != nil {
		t.Errorf("meter: %v", err)
		return
	}
	last := time.Now()
	var carry float64 // µJ below one
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tk.C:
		}
		busy, err := busyTicks()
		if err != nil {
			t.Errorf("meter: %v", err)
			return
		}
		now := time.Now()
		j := m.idle*now.Sub(last).Seconds() + m.perCPU*float64(busy-lastBusy)/100
		last, lastBusy = now, busy
		uj := j*1e6 + carry
		whole := math.Floor(uj)
		carry = uj - whole
		raw = (raw + uint64(whole)) % m.rangeUJ
		tmp := m.path + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.FormatUint(raw, 10)+"\n"), 0o444); err != nil {
			t.Errorf("meter: %v", err)
			return
		}
		if err := os.Rename(tmp, m.path); err != nil {
			t.Errorf("meter: %v", err)
			return
		}
		m.mu.Lock()
		m.written += whole / 1e6
		m.mu.Unlock()
	}
}

// startOrphanChurn starts, every period until ctx is done, a process that
// burns for burn and whose parent exits at once: it is reaped by init (or
// the nearest subreaper), outside the processes the agent can follow.
// It returns how many were started when ctx ends.
func startOrphanChurn(ctx context.Context, t *testing.T, period, burn time.Duration) <-chan int {
	t.Helper()
	n := make(chan int, 1)
	go func() {
		count := 0
		defer func() { n <- count }()
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			cmd := exec.Command("sh", "-c", fmt.Sprintf("%q -duty 1 -for %s >/dev/null 2>&1 &", burnerBin, burn))
			if err := cmd.Run(); err == nil {
				count++
			}
		}
	}()
	return n
}

// TestBusyHostPricesEachCPUSecond is issue 10's yardstick: on a host whose
// power is idle + 15 W per busy CPU, two burners beside a churn of short
// orphaned processes draw 15 W × their own CPU seconds — CPU time they do
// not hold is never handed to them — and the books add up on every line.
//
// In "host view" the orphans are reaped by init, which the agent reads:
// their time is init's reaped children's. In "pid namespace" the agent and
// the burners run in a PID namespace of their own with its own /proc, as
// in a container: the churn, this test and every other process of the
// machine are invisible, yet /proc/stat counts their CPU time, so most of
// the busy time is unattributed and the burners must still get only their
// own.
func TestBusyHostPricesEachCPUSecond(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const idle, perCPU = 10.0, 15.0
	for _, ns := range []bool{false, true} {
		name := map[bool]string{false: "host view", true: "pid namespace"}[ns]
		t.Run(name, func(t *testing.T) {
			if ns {
				if err := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "true").Run(); err != nil {
					t.Skipf("cannot make a PID namespace here (unshare needs root and util-linux): %v", err)
				}
			}
			sysfs, _ := startCPUMeter(t, idle, perCPU)
			dir := t.TempDir()
			traces := []string{filepath.Join(dir, "trace-full"), filepath.Join(dir, "trace-half")}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			churned := startOrphanChurn(ctx, t, 15*time.Millisecond, 8*time.Millisecond)
			args := []string{"-s", "powercap_rapl", "--path.sysfs", sysfs, "--idle-power", fmt.Sprint(idle),
				"json", "--step", "2", "--timeout", "14", "--max-top-consumers", "100000"}
			var out []byte
			if ns {
				script := fmt.Sprintf("%[1]q -duty 1 -for 25s -trace %[2]q & %[1]q -duty 0.5 -for 25s -trace %[3]q & exec %[4]q \"$@\"",
					burnerBin, traces[0], traces[1], wattlensBin)
				out = runCommand(t, 60*time.Second, "unshare", append([]string{"--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", script, "sh"}, args...)...)
			} else {
				startBurner(t, 1, 25*time.Second, "-trace", traces[0])
				startBurner(t, 0.5, 25*time.Second, "-trace", traces[1])
				out = runWattlens(t, 60*time.Second, args...)
			}
			cancel()
			t.Logf("orphaned processes started: %d", <-churned)
			checkPricedPerCPUSecond(t, decode(t, out), traces, perCPU, ns)
		})
	}
}

// checkPricedPerCPUSecond checks every line's books and that each burner
// (told by its trace file on its command line) drew perCPU × its own CPU
// seconds, within 5 %.
func checkPricedPerCPUSecond(t *testing.T, recs []record, traces []string, perCPU float64, hidden bool) {
	t.Helper()
	if len(recs) < 5 {
		t.Fatalf("got %d lines, want at least 5", len(recs))
	}
	energy := map[string]float64{}
	var unattributed, minCoverage float64 = 0, 1
	for i, r := range recs {
		var total, interval int64
		var sawUnattributed bool
		for _, c := range r.Consumers {
			total += µJ(c.EnergyJoules)
			interval += µJ(c.IntervalEnergyJoules)
			sawUnattributed = sawUnattributed || c.Kind == "unattributed"
			for _, tr := range traces {
				if c.Kind == "process" && i > 0 && strings.Contains(c.Cmdline, tr) {
					energy[tr] += c.IntervalEnergyJoules
				}
			}
			if c.Kind == "unattributed" && i > 0 {
				unattributed += c.IntervalEnergyJoules
			}
		}
		if total+µJ(r.Idle.EnergyJoules) != µJ(r.Host.EnergyJoules) || interval+µJ(r.Idle.IntervalEnergyJoules) != µJ(r.Host.IntervalEnergyJoules) {
			t.Errorf("line %d: consumers + idle = %d µJ (interval %d), host %d µJ (interval %d)", i,
				total+µJ(r.Idle.EnergyJoules), interval+µJ(r.Idle.IntervalEnergyJoules), µJ(r.Host.EnergyJoules), µJ(r.Host.IntervalEnergyJoules))
		}
		if !sawUnattributed {
			t.Errorf("line %d: no unattributed consumer", i)
		}
		c := r.Attribution.Coverage
		if c == nil || *c <= 0 || *c > 1 {
			t.Errorf("line %d: coverage %v, want in (0, 1]", i, c)
			continue
		}
		minCoverage = min(minCoverage, *c)
		t.Logf("line %d: busy %.2f s, processes %.2f s, coverage %.3f, unattributed so far %.2f J", i,
			r.Attribution.BusyCPUSeconds, r.Attribution.ProcessCPUSeconds, *c, unattributed)
	}
	if hidden && minCoverage > 0.9 {
		t.Errorf("coverage never below 0.9 with the churn and the rest of the machine out of view: the hidden CPU time was not seen")
	}
	first, last := recs[0], recs[len(recs)-1]
	for _, tr := range traces {
		cpu := cpuTrace(t, tr, last.Timestamp) - cpuTrace(t, tr, first.Timestamp)
		want := perCPU * cpu
		t.Logf("burner %s: %.2f J for %.2f CPU-s; truth %.2f J", filepath.Base(tr), energy[tr], cpu, want)
		if e := relErr(energy[tr], want); e > 0.05 {
			t.Errorf("burner %s: %.2f J, truth 15 W × %.2f CPU-s = %.2f J: off by %.1f %% (> 5 %%)", filepath.Base(tr), energy[tr], cpu, want, 100*e)
		}
	}
}

// TestNarrowCounterLongStep: a 40 J counter at 31 W wraps about every
// 1.3 s, more than once in the default 2 s step. The agent reads it often
// enough to see every wrap, so the power is right with json and with
// prometheus.
func TestNarrowCounterLongStep(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	watts := map[string]float64{"intel-rapl:0": 31, "intel-rapl:1": 4}
	const hostWatts = 35.0
	sysfs, _ := fakeRAPL(t, watts, 40_000_000)

	t.Run("json", func(t *testing.T) {
		out := runWattlens(t, 40*time.Second, "-s", "powercap_rapl", "--path.sysfs", sysfs, "--idle-power", "5",
			"json", "--step", "2", "--timeout", "9")
		recs := decode(t, out)
		if len(recs) < 3 {
			t.Fatalf("got %d lines:\n%s", len(recs), out)
		}
		first, last := recs[0], recs[len(recs)-1]
		rate := (last.Host.EnergyJoules - first.Host.EnergyJoules) / last.Timestamp.Sub(first.Timestamp).Seconds()
		t.Logf("host %.2f W, written %.1f W", rate, hostWatts)
		if e := relErr(rate, hostWatts); e > 0.10 {
			t.Errorf("host %.2f W, written %.1f W: off by %.1f %% (> 10 %%)", rate, hostWatts, 100*e)
		}
		for i, r := range recs[1:] {
			if e := relErr(r.Host.PowerWatts, hostWatts); e > 0.10 {
				t.Errorf("line %d: host %.2f W, written %.1f W", i+1, r.Host.PowerWatts, hostWatts)
			}
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		port := porttest.Free(t)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		promStart(t, "wattlens", wattlensBin, "-s", "powercap_rapl", "--path.sysfs", sysfs, "--idle-power", "5", "prometheus",
			"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port), "--step", "2")
		read := func() float64 {
			_, _, body := promGet(base+"/metrics", "")
			return promSum(promParse(t, body), "wattlens_host_energy_joules_total")
		}
		promWaitFor(t, 15*time.Second, "a first snapshot", func() bool {
			status, _, body := promGet(base+"/metrics", "")
			return status == 200 && bytes.Contains(body, []byte("wattlens_host_energy_joules_total"))
		})
		e0, t0 := read(), time.Now()
		time.Sleep(8 * time.Second)
		e1, t1 := read(), time.Now()
		rate := (e1 - e0) / t1.Sub(t0).Seconds()
		t.Logf("prometheus: host %.2f W, written %.1f W", rate, hostWatts)
		if e := relErr(rate, hostWatts); e > 0.10 {
			t.Errorf("prometheus: host %.2f W, written %.1f W: off by %.1f %% (> 10 %%)", rate, hostWatts, 100*e)
		}
	})
}
