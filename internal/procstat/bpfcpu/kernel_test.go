//go:build linux && (386 || amd64 || arm64)

package bpfcpu

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/procinfo"
)

// helperEnv makes the test binary a helper process: "burn:<ms>" burns
// that much CPU time and exits, "burn:<ms>:hold" then waits for its
// standard input to close.
const helperEnv = "WATTLENS_BPFCPU_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		helper(h)
		return
	}
	os.Exit(m.Run())
}

func helper(spec string) {
	f := strings.Split(spec, ":")
	ms, _ := strconv.Atoi(f[1])
	want := time.Duration(ms) * time.Millisecond
	for x := 0; ; x++ {
		if x%4096 == 0 {
			var ru unix.Rusage
			_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
			if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= want {
				break
			}
		}
	}
	if len(f) > 2 && f[2] == "hold" {
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
}

// needKernel skips unless the program can be loaded here: root and a
// kernel with BTF.
func needKernel(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading the BPF program needs root (CAP_BPF and CAP_PERFMON); run the tests as root to cover it")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("the kernel has no BTF (/sys/kernel/btf/vmlinux): the BPF program cannot be loaded here")
	}
}

func newKernelReader(t *testing.T) *Reader {
	t.Helper()
	r, err := New("/proc", "/sys")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func helperCmd(t *testing.T, spec string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"="+spec)
	return cmd
}

// TestKernelBurner checks a burning child's CPU time from the program
// against its own /proc/<pid>/stat, within 5 %.
func TestKernelBurner(t *testing.T) {
	needKernel(t)
	r := newKernelReader(t)
	if _, _, err := r.Read(nil); err != nil {
		t.Fatal(err)
	}
	cmd := helperCmd(t, "burn:600:hold")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	// Read while it burns (its slice is counted while it runs) and after.
	var got procinfo.Proc
	var found bool
	for i := 0; i < 40; i++ {
		time.Sleep(100 * time.Millisecond)
		procs, _, err := r.Read(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range procs {
			if p.PID == pid {
				got, found = p, true
			}
		}
		if found && got.CPU >= 60 {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // it is waiting on stdin now
	procs, _, err := r.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.PID == pid {
			got, found = p, true
		}
	}
	want := procCPU(t, pid)
	if !found {
		t.Fatalf("the burner (pid %d) is not among the %d processes read", pid, len(procs))
	}
	wantComm := filepath.Base(os.Args[0])
	wantComm = wantComm[:min(len(wantComm), commLen-1)]
	if got.Meta == nil || got.Meta.Comm != wantComm {
		t.Errorf("meta = %+v, want comm %s", got.Meta, wantComm)
	}
	if got.StartTime != want.start {
		t.Errorf("start time = %d, /proc/%d/stat says %d", got.StartTime, pid, want.start)
	}
	t.Logf("burner cpu: ebpf %d ticks, /proc/%d/stat %d ticks", got.CPU, pid, want.cpu)
	if want.cpu < 50 {
		t.Fatalf("the burner used %d ticks, want at least 50", want.cpu)
	}
	if d := float64(got.CPU) - float64(want.cpu); d > 0.05*float64(want.cpu) || -d > 0.05*float64(want.cpu) {
		t.Errorf("ebpf says %d ticks, procfs %d: more than 5 %% apart", got.CPU, want.cpu)
	}
}

type statCPU struct{ cpu, start uint64 }

// procCPU reads utime + stime and the start time from /proc/<pid>/stat.
func procCPU(t *testing.T, pid int) statCPU {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // from field 3
	num := func(field int) uint64 {
		v, err := strconv.ParseUint(f[field-3], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return statCPU{cpu: num(14) + num(15), start: num(22)}
}

// churnScript burns about 20 ms of CPU in dash: a small program, so that
// the churn is of short processes whatever the test binary costs to start
// (under -race, 80 ms).
const churnScript = `i=0; while [ $i -lt 6000 ]; do i=$((i+1)); done`

// TestKernelChurn runs 200 processes of about 20 ms of CPU each, two at a
// time, while the Reader reads every 500 ms: their CPU time as the Reader
// hands it out must cover at least 98 % of what the kernel reports for
// them (their rusage), though most live and die between two reads.
func TestKernelChurn(t *testing.T) {
	needKernel(t)
	r := newKernelReader(t)
	if _, _, err := r.Read(nil); err != nil {
		t.Fatal(err)
	}
	const n = 200
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run the churn with")
	}
	var (
		mu    sync.Mutex
		pids  = map[int]bool{}
		truth time.Duration
	)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Go(func() {
			for range next {
				cmd := exec.Command("sh", "-c", churnScript)
				if err := cmd.Start(); err != nil {
					t.Error(err)
					continue
				}
				mu.Lock()
				pids[cmd.Process.Pid] = true
				mu.Unlock()
				if err := cmd.Wait(); err != nil {
					t.Error(err)
				}
				mu.Lock()
				truth += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
				mu.Unlock()
			}
		})
	}
	seen := map[procinfo.Key]uint64{}
	read := func() {
		procs, _, err := r.Read(nil)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range procs {
			if pids[p.PID] {
				seen[p.Key] = p.CPU
			}
		}
	}
	done := make(chan struct{})
	go func() {
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			read()
		}
	}
	time.Sleep(50 * time.Millisecond)
	read()
	read()
	var got uint64
	for _, c := range seen {
		got += c
	}
	gotD := procinfo.TicksToDuration(got)
	cover := gotD.Seconds() / truth.Seconds()
	t.Logf("%d processes: rusage %v, ebpf %v in %d processes (coverage %.2f %%)", n, truth, gotD, len(seen), 100*cover)
	if len(seen) < n {
		t.Errorf("the Reader showed %d of the %d processes", len(seen), n)
	}
	if cover < 0.98 || cover > 1.02 {
		t.Errorf("coverage %.3f, want 0.98..1.02", cover)
	}
}

// TestKernelNoOvercount checks, under a churn of orphaned short processes,
// that the CPU time the Reader hands out over an interval is not more than
// the machine's busy time (/proc/stat): every slice counted once, to the
// thread that ran it.
func TestKernelNoOvercount(t *testing.T) {
	needKernel(t)
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run the churn with")
	}
	r := newKernelReader(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = exec.Command("sh", "-c", "("+churnScript+") >/dev/null 2>&1 &").Run()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()
	last := map[procinfo.Key]uint64{}
	procs, _, err := r.Read(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		last[p.Key] = p.CPU
	}
	prevCPU, err := r.CPUTimes()
	if err != nil {
		t.Fatal(err)
	}
	prevBoot := bootTicks()
	for i := range 3 {
		time.Sleep(time.Second)
		cpu, err := r.CPUTimes()
		if err != nil {
			t.Fatal(err)
		}
		boot := bootTicks()
		if procs, _, err = r.Read(procs); err != nil {
			t.Fatal(err)
		}
		var held uint64
		next := map[procinfo.Key]uint64{}
		for _, p := range procs {
			next[p.Key] = p.CPU
			if was, ok := last[p.Key]; ok {
				held += p.CPU - was
			} else if p.StartTime >= prevBoot {
				held += p.CPU // born in the interval: all of it
			}
		}
		busy := cpu.Work - prevCPU.Work
		t.Logf("interval %d: busy %d ticks, processes %d ticks", i, busy, held)
		// A few ticks of slack: /proc/stat samples at the scheduler tick,
		// the processes' figures are exact, and both are cut at slightly
		// different instants.
		if float64(held) > 1.05*float64(busy)+5 {
			t.Errorf("interval %d: processes hold %d ticks of CPU, the machine was busy %d", i, held, busy)
		}
		last, prevCPU, prevBoot = next, cpu, boot
	}
}

// bootTicks is CLOCK_BOOTTIME in USER_HZ ticks, the clock of start times.
func bootTicks() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano()) / nsPerTick
}
