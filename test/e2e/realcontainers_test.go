package e2e

// End-to-end tests of --containers against real container runtimes:
// Debian's docker.io and podman, which test/setup-containers.sh installs
// and starts, with the busybox image it imports offline. Real containers
// burn CPU; the agent reads the host's real /proc and names them through
// the runtimes' APIs. The power is a fixture whose truth follows this
// machine's real CPU time (startCPUMeter: idle + 15 W per busy CPU), so a
// container that used c CPU-seconds, as its own cgroup counts them, drew
// 15 × c joules whatever else the machine runs.
//
// What a real daemon cannot produce (Kubernetes labels, a kubelet, API
// version changes, a daemon that goes away) stays with the fake one
// (containers_test.go, internal/container/dockertest).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/citest"
)

// rcImage is the image test/setup-containers.sh imports into both runtimes.
const rcImage = "wattlens-e2e-busybox:latest"

// rcRuntime is one real container runtime, driven through its CLI.
type rcRuntime struct {
	name  string // "docker" or "podman": also the runtime wattlens reports
	bin   string
	image string
	run   []string // flags of every "run"
}

// needRuntime returns the runtime when its daemon (Docker) or API service
// (podman) answers and the busybox image is there; otherwise the test is
// skipped, or fails under CI (citest).
func needRuntime(t *testing.T, name string) *rcRuntime {
	t.Helper()
	setup := "; run test/setup-containers.sh (as root)"
	rt := &rcRuntime{name: name, bin: name, image: rcImage, run: []string{"--network", "none"}}
	if name == "docker" {
		// Debian's client; any other on PATH negotiates the API too.
		if _, err := os.Stat("/usr/bin/docker"); err == nil {
			rt.bin = "/usr/bin/docker"
		}
	} else {
		rt.image = "localhost/" + rcImage
		// podman sets the containers' open-file and process limits to the
		// maximum by default; where the tests run without
		// CAP_SYS_RESOURCE (inside a sandbox) raising them fails. Modest
		// limits keep the runtime's behaviour otherwise unchanged.
		rt.run = append(rt.run, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
	}
	if _, err := exec.LookPath(rt.bin); err != nil {
		citest.Missing(t, name+" is not installed"+setup)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, rt.bin, "info").CombinedOutput(); err != nil {
		citest.Missing(t, fmt.Sprintf("%s info: %v: %s%s", name, err, lastLine(out), setup))
	}
	if out, err := exec.CommandContext(ctx, rt.bin, "image", "inspect", rt.image).CombinedOutput(); err != nil {
		citest.Missing(t, fmt.Sprintf("%s has no image %s: %v: %s%s", name, rt.image, err, lastLine(out), setup))
	}
	if name == "podman" {
		if _, err := os.Stat("/run/podman/podman.sock"); err != nil {
			citest.Missing(t, "podman's API socket /run/podman/podman.sock is missing (podman system service)"+setup)
		}
	}
	return rt
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// cli runs the runtime's command and returns its trimmed standard output.
func (rt *rcRuntime) cli(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, rt.bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", rt.name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// rcContainer is a running container and its CPU counter's samples.
type rcContainer struct {
	name, id string
	pid      int

	mu      sync.Mutex
	samples []rcSample
	stop    chan struct{}
	done    chan struct{}
}

type rcSample struct {
	at  time.Time
	cpu float64 // seconds
}

// start runs a detached container of the busybox image that runs script
// with sh, and starts sampling its cgroup's CPU counter every 50 ms. The
// container is removed when the test ends.
func (rt *rcRuntime) start(t *testing.T, name, script string) *rcContainer {
	t.Helper()
	args := append([]string{"run", "-d", "--name", name}, rt.run...)
	args = append(args, rt.image, "sh", "-c", script)
	id := rt.cli(t, args...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = exec.CommandContext(ctx, rt.bin, "rm", "-f", name).Run()
	})
	if !isContainerID(id) {
		t.Fatalf("%s run printed %q, want a 64-hex container ID", rt.name, id)
	}
	pid, err := strconv.Atoi(rt.cli(t, "inspect", "-f", "{{.State.Pid}}", id))
	if err != nil || pid <= 0 {
		t.Fatalf("%s inspect %s: pid %d, %v", rt.name, name, pid, err)
	}
	counter, err := cgroupCPUCounter(pid)
	if err != nil {
		t.Fatal(err)
	}
	c := &rcContainer{name: name, id: id, pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go c.sample(counter)
	t.Cleanup(c.halt)
	return c
}

func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// cgroupCPUCounter returns a function reading the CPU seconds of pid's
// cgroup, from the cgroup's own accounting (not from /proc, which the
// agent reads): cpuacct.usage on cgroup v1, cpu.stat's usage_usec on v2.
func cgroupCPUCounter(pid int) (func() (float64, error), error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	var unified string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			unified = f[2]
		}
		for _, ctrl := range strings.Split(f[1], ",") {
			if ctrl != "cpuacct" {
				continue
			}
			for _, mnt := range []string{"cpuacct", "cpu,cpuacct", "cpuacct,cpu"} {
				file := filepath.Join("/sys/fs/cgroup", mnt, f[2], "cpuacct.usage")
				if _, err := os.Stat(file); err == nil {
					return func() (float64, error) {
						b, err := os.ReadFile(file)
						if err != nil {
							return 0, err
						}
						ns, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
						return float64(ns) / 1e9, err
					}, nil
				}
			}
		}
	}
	for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		file := filepath.Join(root, unified, "cpu.stat")
		if _, err := os.Stat(file); unified == "" || err != nil {
			continue
		}
		return func() (float64, error) {
			b, err := os.ReadFile(file)
			if err != nil {
				return 0, err
			}
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
					us, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
					return float64(us) / 1e6, err
				}
			}
			return 0, fmt.Errorf("%s: no usage_usec", file)
		}, nil
	}
	return nil, fmt.Errorf("pid %d: no cpuacct or cpu.stat file for its cgroup (%s)", pid, strings.TrimSpace(string(b)))
}

// sample reads the counter every 50 ms until halted or the cgroup goes
// (the container stopped): the last value then holds.
func (c *rcContainer) sample(read func() (float64, error)) {
	defer close(c.done)
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for {
		v, err := read()
		if err != nil {
			return
		}
		c.mu.Lock()
		c.samples = append(c.samples, rcSample{time.Now(), v})
		c.mu.Unlock()
		select {
		case <-c.stop:
			return
		case <-tk.C:
		}
	}
}

func (c *rcContainer) halt() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

// cpuAt returns the container's CPU seconds at t, interpolated between
// samples, the last after the cgroup went; ok is false before the first
// sample (the container ran before its counter was found).
func (c *rcContainer) cpuAt(at time.Time) (cpu float64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.samples
	if len(s) == 0 || at.Before(s[0].at) {
		return 0, false
	}
	for i := 1; i < len(s); i++ {
		if !s[i].at.Before(at) {
			f := float64(at.Sub(s[i-1].at)) / float64(s[i].at.Sub(s[i-1].at))
			return s[i-1].cpu + f*(s[i].cpu-s[i-1].cpu), true
		}
	}
	return s[len(s)-1].cpu, true
}

// rcRecord is the part of a json line these tests read.
type rcRecord struct {
	Timestamp time.Time    `json:"timestamp"`
	Seq       int          `json:"seq"`
	Consumers []ctConsumer `json:"consumers"`
	Workloads []rcWorkload `json:"workloads"`
	Host      struct {
		EnergyJoules float64 `json:"energy_joules"`
	} `json:"host"`
	Idle struct {
		EnergyJoules float64 `json:"energy_joules"`
	} `json:"idle"`
}

type rcWorkload struct {
	ctWorkload
	CPUSeconds float64 `json:"cpu_seconds"`
}

func (r rcRecord) container(id string) (rcWorkload, bool) {
	for _, w := range r.Workloads {
		if w.Kind == "container" && w.ID == id {
			return w, true
		}
	}
	return rcWorkload{}, false
}

// rcAgent is wattlens json running in the background, its lines read as
// they come.
type rcAgent struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	lines  chan rcRecord
	bad    chan error
	done   chan error
}

func startAgent(t *testing.T, args ...string) *rcAgent {
	t.Helper()
	a := &rcAgent{cmd: exec.Command(wattlensBin, args...), lines: make(chan rcRecord, 100), bad: make(chan error, 1), done: make(chan error, 1)}
	a.cmd.Stderr = &a.stderr
	out, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(a.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var r rcRecord
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				a.bad <- fmt.Errorf("bad json line %q: %w", sc.Text(), err)
				return
			}
			a.lines <- r
		}
	}()
	t.Cleanup(func() {
		_ = a.cmd.Process.Kill()
		for range a.lines {
		}
		_ = a.cmd.Wait()
	})
	return a
}

// next returns the agent's next line, failing the test when none comes
// within limit.
func (a *rcAgent) next(t *testing.T, limit time.Duration) rcRecord {
	t.Helper()
	select {
	case r, ok := <-a.lines:
		if !ok {
			t.Fatalf("wattlens ended early; stderr:\n%s", a.stderr.String())
		}
		return r
	case err := <-a.bad:
		t.Fatal(err)
	case <-time.After(limit):
		t.Fatalf("no line from wattlens within %v; stderr:\n%s", limit, a.stderr.String())
	}
	return rcRecord{}
}

// stop interrupts the agent, as Ctrl-C does, and checks it ends cleanly.
func (a *rcAgent) stop(t *testing.T) {
	t.Helper()
	if err := a.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range a.lines {
	}
	err := a.cmd.Wait()
	t.Logf("wattlens %s\nstderr:\n%s", strings.Join(a.cmd.Args[1:], " "), a.stderr.String())
	if err != nil {
		t.Errorf("wattlens after an interrupt: %v", err)
	}
}

func TestDockerContainers(t *testing.T) { testRealContainers(t, "docker") }
func TestPodmanContainers(t *testing.T) { testRealContainers(t, "podman") }

// testRealContainers: a container burning CPU before the agent starts,
// another started after it, the first stopped while it runs. Every
// process of a container carries the container's ID, name and runtime;
// the late one is named within one step of its first line; each
// container's energy while it runs is 15 W × its own CPU seconds within
// 5 %; the stopped one keeps its total, with no process, to the end.
//
// The events follow the agent's lines, not the clock: on a loaded machine
// a runtime's command may take seconds.
func testRealContainers(t *testing.T, runtime string) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	rt := needRuntime(t, runtime)
	const idle, perCPU = 10.0, 15.0
	const lineLimit = 10 * time.Second
	sysfs, _ := startCPUMeter(t, idle, perCPU)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	tag := runtime + "-" + hex.EncodeToString(suffix)
	const burn = "while :; do :; done"

	early := rt.start(t, "wattlens-e2e-early-"+tag, burn)
	agent := startAgent(t, "-s", "powercap_rapl", "--path.sysfs", sysfs, "--idle-power", fmt.Sprint(idle),
		"json", "--step", "1", "--timeout", "120", "--max-top-consumers", "100000", "--containers",
		"--containers.refresh", "1m")
	var recs []rcRecord
	read := func(n int) {
		for range n {
			recs = append(recs, agent.next(t, lineLimit))
		}
	}
	// The late container starts after the agent's second line; the early
	// one stops once the late one has run through 8 lines; 3 lines after
	// its last process the agent is stopped.
	read(2)
	late := rt.start(t, "wattlens-e2e-late-"+tag, burn)
	lateLive := 0
	for lateLive < 8 {
		read(1)
		if w, ok := recs[len(recs)-1].container(late.id); ok && w.Processes > 0 {
			lateLive++
		}
		if len(recs) > 40 {
			t.Fatalf("%s not seen with a process in 40 lines", late.name)
		}
	}
	rt.cli(t, "stop", "-t", "0", early.name)
	for gone := 0; gone < 3; {
		read(1)
		if w, ok := recs[len(recs)-1].container(early.id); !ok || w.Processes == 0 {
			gone++
		}
		if len(recs) > 60 {
			t.Fatalf("%s still has a process 60 lines on, after its stop", early.name)
		}
	}
	agent.stop(t)

	// A line measures a container when it holds the same processes as
	// the line before: a process born or gone within the interval has
	// CPU time that no /proc reading shows (its birth, runc's and the
	// runtime's helpers at the start, the kill at the stop), which the
	// eBPF CPU source exists for.
	type books struct {
		first, last  int // its first line, its last with a live process
		lines        int // lines measured
		energy, cpus float64
	}
	seen := map[string]*books{}
	pidsOf := func(r rcRecord, id string) string {
		var pids []string
		for _, c := range r.Consumers {
			if c.Kind == "process" && c.ContainerID == id {
				pids = append(pids, strconv.Itoa(c.PID))
			}
		}
		sort.Strings(pids)
		return strings.Join(pids, ",")
	}
	var earlyPrev float64
	for i, r := range recs {
		for _, ct := range []*rcContainer{early, late} {
			w, ok := r.container(ct.id)
			if !ok {
				continue
			}
			bk := seen[ct.id]
			if bk == nil {
				bk = &books{first: i, last: -1}
				seen[ct.id] = bk
				t.Logf("%s (%s…) first in line %d, named %q", ct.name, ct.id[:12], i, w.ContainerName)
			}
			// Named at once, or (the late one) from its next line on:
			// its row and each of its processes.
			named := i > bk.first || ct == early
			if named && (w.ContainerName != ct.name || w.Runtime != runtime) {
				t.Errorf("seq %d: %s's row is named %q, runtime %q", r.Seq, ct.name, w.ContainerName, w.Runtime)
			}
			procs := 0
			for _, c := range r.Consumers {
				if c.Kind == "process" && c.ContainerID == ct.id {
					procs++
					if named && (c.ContainerName != ct.name || c.Runtime != runtime) {
						t.Errorf("seq %d: pid %d of %s: named %q, runtime %q", r.Seq, c.PID, ct.name, c.ContainerName, c.Runtime)
					}
				}
			}
			if procs != w.Processes {
				t.Errorf("seq %d: %s has %d processes listed, its row says %d", r.Seq, ct.name, procs, w.Processes)
			}
			if w.Processes > 0 {
				bk.last = i
			}
			c0, ok0 := ct.cpuAt(recs[max(i-1, 0)].Timestamp)
			c1, ok1 := ct.cpuAt(r.Timestamp)
			if pids := pidsOf(r, ct.id); i > 0 && ok0 && ok1 && pids != "" && pids == pidsOf(recs[i-1], ct.id) {
				cpu := c1 - c0
				bk.lines++
				bk.energy += w.IntervalEnergyJoules
				bk.cpus += cpu
				t.Logf("seq %d %s: %.3f J; %.3f CPU-s by wattlens, %.3f by its cgroup", r.Seq, ct.name, w.IntervalEnergyJoules, w.CPUSeconds, cpu)
			}
			if ct == early {
				if w.EnergyJoules < earlyPrev {
					t.Errorf("seq %d: %s's total went down: %.3f J after %.3f J", r.Seq, ct.name, w.EnergyJoules, earlyPrev)
				}
				earlyPrev = w.EnergyJoules
			}
		}
	}
	for _, ct := range []*rcContainer{early, late} {
		bk := seen[ct.id]
		if bk == nil {
			t.Fatalf("%s (%s…) never listed", ct.name, ct.id[:12])
		}
		if bk.lines < 5 {
			t.Fatalf("%s: %d lines with the same processes as the line before: too few to measure", ct.name, bk.lines)
		}
		want := perCPU * bk.cpus
		t.Logf("%s: %.2f J over %d lines for %.2f CPU-s by its cgroup; truth %.2f J", ct.name, bk.energy, bk.lines, bk.cpus, want)
		if e := relErr(bk.energy, want); e > 0.05 {
			t.Errorf("%s: %.2f J, truth %.0f W × %.2f CPU-s = %.2f J: off by %.1f %% (> 5 %%)", ct.name, bk.energy, perCPU, bk.cpus, want, 100*e)
		}
	}

	// The late one came after the agent's first lines; the early one's
	// row stays after its stop, with its name and its total.
	if w := seen[late.id]; w.first < 2 {
		t.Errorf("%s is in line %d: it was started after line 2", late.name, w.first)
	}
	stopLine := seen[early.id].last + 1
	if stopLine >= len(recs) {
		t.Fatalf("%s has a process in the last line", early.name)
	}
	total, _ := recs[stopLine].container(early.id)
	for _, r := range recs[stopLine:] {
		w, ok := r.container(early.id)
		if !ok {
			t.Errorf("seq %d: %s's row is gone after its stop: want it kept with its total", r.Seq, early.name)
			continue
		}
		if w.Processes != 0 || w.EnergyJoules != total.EnergyJoules || w.ContainerName != early.name {
			t.Errorf("seq %d: %s after its stop: %+v; want no process, its name, and its total %.6f J unchanged", r.Seq, early.name, w, total.EnergyJoules)
		}
	}
}
