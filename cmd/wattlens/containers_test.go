package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/config"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/procstat/procfstest"
	"github.com/wattlens/wattlens/internal/units"
)

const benchContainers = 500

// containerID returns the ID of container c of a generated tree.
func containerID(c int) string { return fmt.Sprintf("%064x", 0xc0ffee000+c) }

// containerCgroup returns the cgroup file of a process of container c:
// even containers are Docker's (systemd driver), odd ones a pod's
// (containerd, systemd driver), two containers a pod.
func containerCgroup(c int) string {
	if c%2 == 0 {
		return procfstest.CgroupV2("/system.slice/docker-" + containerID(c) + ".scope")
	}
	uid := fmt.Sprintf("%08x_1b2c_4d5e_8f90_%012x", c/4, c/4)
	return procfstest.CgroupV2("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid +
		".slice/cri-containerd-" + containerID(c) + ".scope")
}

// containerTree builds a procfs tree of n processes spread round-robin
// over containers (none when containers is 0: a plain service each).
func containerTree(t testing.TB, root string, n, containers int) *procfstest.FS {
	t.Helper()
	procs := make([]procfstest.Proc, n)
	for i := range procs {
		cg := procfstest.CgroupV2("/system.slice/worker.service")
		if containers > 0 {
			cg = containerCgroup(i % containers)
		}
		procs[i] = procfstest.Proc{
			PID: 1000 + i, PPID: 1, Comm: "worker", UTime: uint64(i), StartTime: uint64(5000 + i),
			Cmdline: []string{"/usr/bin/worker", fmt.Sprint(i)}, Exe: "/usr/bin/worker", Cgroup: cg,
		}
	}
	return procfstest.Build(t, root, procs)
}

func TestContainerFlagErrors(t *testing.T) {
	tests := [][]string{
		{"json", "--containers", "--containers.kubelet", "--containers.apiserver"},
		{"stdout", "--containers", "--containers.refresh", "0"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, stderr := runWattlens(t, append([]string{"--path.sysfs", t.TempDir()}, args...)...)
			if code != 2 || !strings.Contains(stderr, "wattlens: error: --containers") {
				t.Errorf("exit %d, stderr %q; want 2 and the flag named", code, stderr)
			}
		})
	}
}

// TestStdoutContainers runs stdout --containers on a fixture procfs with
// no metadata source: containers show by ID, in both views.
func TestStdoutContainers(t *testing.T) {
	fs := containerTree(t, t.TempDir(), 6, 3)
	code, out, stderr := runWattlens(t, "--path.sysfs", fakeRAPL(t), "--path.procfs", fs.Root, "-s", "powercap_rapl",
		"stdout", "-t", "0.7", "--step", "0.2", "-p", "0", "--containers", "--containers.docker-socket", "none")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"container", "All 3 containers", containerID(0)[:12], containerID(1)[:12], "processes in no container"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// BenchmarkTick measures one steady-state tick as the sampler makes it —
// procstat's Read of every /proc/<pid>/stat, then attribution — on 10 000
// processes spread over 500 containers (250 Docker, 250 in 125 pods),
// without and with --containers. The Meta hook (cgroup → container) runs
// once per process lifetime, in the first, untimed, Read; what
// --containers adds to a tick is the group books. CPU times advance
// between ticks (added to what Read returns, rather than rewriting 10 000
// files).
//
// Each iteration makes one tick of each, alternating which goes first,
// and times them by the CPU time of the benchmark's thread, which leaves
// out the time other programs hold the CPU: on a shared machine the ratio
// on/off is steadier than two benchmarks run a minute apart.
func BenchmarkTick(b *testing.B) {
	const n = 10000
	root := filepath.Join(b.TempDir(), "proc")
	containerTree(b, root, n, benchContainers)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	type agent struct {
		r     *procstat.Reader
		a     *attribution.Attributor
		procs []procinfo.Proc
		cpu   time.Duration
		wall  time.Duration
	}
	var agents [2]*agent // off, on
	for k, on := range []bool{false, true} {
		r, stop := benchReader(b, root, on)
		defer stop()
		ag := &agent{r: r, a: attribution.New(attribution.Options{IdlePower: units.Watt, IdleOrigin: attribution.IdleFromFlag})}
		procs, _, err := r.Read(nil)
		if err != nil || len(procs) != n {
			b.Fatalf("read %d procs: %v", len(procs), err)
		}
		ag.procs = procs
		ag.a.Observe(benchSample(0, procs))
		agents[k] = ag
	}
	tick := func(ag *agent, i int, on bool) {
		c0, w0 := threadCPU(b), time.Now()
		var err error
		if ag.procs, _, err = ag.r.Read(ag.procs); err != nil {
			b.Fatal(err)
		}
		for j := range ag.procs {
			ag.procs[j].CPU += uint64(i * (1 + j%7))
		}
		s := ag.a.Observe(benchSample(i, ag.procs))
		ag.cpu += threadCPU(b) - c0
		ag.wall += time.Since(w0)
		if want := benchContainers + benchContainers/4; on && len(s.Groups) != want {
			b.Fatalf("%d groups, want %d: %d containers and %d pods", len(s.Groups), want, benchContainers, benchContainers/4)
		}
	}
	b.ReportAllocs()
	for i := 1; b.Loop(); i++ {
		if i%2 == 0 {
			tick(agents[0], i, false)
			tick(agents[1], i, true)
		} else {
			tick(agents[1], i, true)
			tick(agents[0], i, false)
		}
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(per(agents[0].wall)/1e6, "ms/tick-off")
	b.ReportMetric(per(agents[1].wall)/1e6, "ms/tick-on")
	b.ReportMetric(per(agents[0].cpu)/1e6, "cpu-ms/tick-off")
	b.ReportMetric(per(agents[1].cpu)/1e6, "cpu-ms/tick-on")
	b.ReportMetric(float64(agents[1].cpu)/float64(agents[0].cpu), "cpu-on/off")
}

func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// BenchmarkFirstTick measures the first Read of the same tree, which reads
// every process's Meta once and, with --containers, runs the hook.
func BenchmarkFirstTick(b *testing.B) {
	const n = 10000
	root := filepath.Join(b.TempDir(), "proc")
	containerTree(b, root, n, benchContainers)
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("procs=%d/containers=%v", n, on), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, stop := benchReader(b, root, on)
				if procs, _, err := r.Read(nil); err != nil || len(procs) != n {
					b.Fatalf("read %d procs: %v", len(procs), err)
				}
				stop()
			}
		})
	}
}

// benchReader returns a procstat Reader of root, with the --containers hook
// (no metadata source: names play no part in a tick) when on.
func benchReader(b *testing.B, root string, on bool) (*procstat.Reader, func()) {
	b.Helper()
	if !on {
		return procstat.NewReader(root), func() {}
	}
	o := &containerOpts{enabled: true, refresh: new(time.Duration)}
	*o.refresh = time.Minute
	o.cfg.DockerSocket = "none"
	cfg := config.Default()
	cfg.ProcFS = root
	e := &env{cfg: cfg, log: slog.New(slog.DiscardHandler), stdout: os.Stdout, stderr: os.Stderr}
	hook, stop, err := o.hook(context.Background(), e)
	if err != nil {
		b.Fatal(err)
	}
	return procstat.NewReader(root, procstat.WithMetaHook(hook)), stop
}

func benchSample(i int, procs []procinfo.Proc) attribution.Sample {
	return attribution.Sample{
		Time:  time.Unix(0, 0).Add(time.Duration(i) * 2 * time.Second),
		Zones: []power.Zone{{ID: "p0", Kind: power.KindPackage, Energy: units.Energy(i) * 40 * units.Joule, Source: power.Measured}},
		Procs: procs,
	}
}
