package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// churnName is the name (comm) of a churn process: agentperf run through
// a symbolic link of that name, so that every agent can tell them.
const churnName = "churnchild"

// churnRun is the churn workload: o.churnRate short processes a second,
// each burning o.churnBurn of CPU, for the window, with one json agent
// per CPU source listing every consumer. The harness reaps them, so what
// procfs cannot see of them goes to the harness (its reaped children's
// time), never to a churnchild: what an agent books to churnchild
// processes is what it saw of them. Coverage is that over what they used,
// as the kernel says when they are reaped (wait4's rusage).
func churnRun(ctx context.Context, o options, round int, tmp, sysfs, self string) error {
	link := filepath.Join(tmp, churnName)
	if _, err := os.Lstat(link); err != nil {
		if err := os.Symlink(self, link); err != nil {
			return err
		}
	}
	fmt.Printf("## round %d: churn, %d processes a second of %s CPU each, reaped by the harness; %d processes in /proc\n\n",
		round, o.churnRate, o.churnBurn, countProcs())

	agents := &group{}
	defer agents.kill(syscall.SIGTERM, 5*time.Second)
	var procs []*proc
	outs := map[string]string{}
	floorPID, err := agents.spawn([]string{o.floor, "-step", o.step.String()}, nil, nil)
	if err != nil {
		return err
	}
	procs = append(procs, &proc{name: "floor", pid: floorPID})
	for _, src := range o.cpuSources {
		name := agentName("json", src)
		out := filepath.Join(tmp, "churn-"+src+".ndjson")
		outs[name] = out
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		log, err := os.Create(filepath.Join(tmp, "churn-"+src+".log"))
		if err != nil {
			return err
		}
		pid, err := agents.spawn([]string{o.bin, "-s", "powercap_rapl", "--path.sysfs", sysfs, "--log.level", "warn",
			"--cpu-source", src, "json", "--step", o.step.String(), "--max-top-consumers", "1000000"}, f, log)
		_ = f.Close()
		_ = log.Close()
		if err != nil {
			return err
		}
		procs = append(procs, &proc{name: name, pid: pid})
	}
	if err := sleep(ctx, o.warmup); err != nil {
		return err
	}
	load0 := loadavg()
	for _, p := range procs {
		p.cpu0, _ = cpuNS(p.pid)
	}
	t0 := time.Now()
	started := 0
	var truthMu sync.Mutex
	var truth time.Duration
	var ended int
	var reaped sync.WaitGroup
	every := time.Second / time.Duration(o.churnRate)
	for at := time.Duration(0); at < o.window; at += every {
		if err := sleepUntil(ctx, t0.Add(at)); err != nil {
			return err
		}
		cmd := exec.Command(link, o.churnBurn.String())
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("churn: %w", err)
		}
		started++
		reaped.Go(func() {
			if err := cmd.Wait(); err != nil {
				return
			}
			truthMu.Lock()
			truth += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			ended++
			truthMu.Unlock()
		})
	}
	took := time.Since(t0)
	var cost []float64
	for _, p := range procs {
		c, err := cpuNS(p.pid)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		cost = append(cost, float64(c-p.cpu0))
	}
	// Let the last ones end and every agent report them.
	if err := sleep(ctx, o.churnBurn*20+3*o.step); err != nil {
		return err
	}
	reaped.Wait()
	agents.kill(syscall.SIGTERM, 5*time.Second)
	load1 := loadavg()
	fmt.Printf("window %s, %d churn processes started, %d ended; their CPU time (rusage when reaped) %.3f s; load average %s → %s\n\n",
		took.Round(time.Millisecond), started, ended, truth.Seconds(), load0, load1)
	fmt.Printf("| program | CPU ms in the window | %% of a core | churn CPU booked to churn processes, s | coverage | churn processes listed |\n")
	fmt.Printf("|---|---:|---:|---:|---:|---:|\n")
	for i, p := range procs {
		booked, listed := "—", "—"
		cover := "—"
		if out, ok := outs[p.name]; ok {
			cpu, n, err := churnBooked(out)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			booked, listed = fmt.Sprintf("%.3f", cpu), strconv.Itoa(n)
			if truth > 0 {
				cover = fmt.Sprintf("%.1f %%", 100*cpu/truth.Seconds())
			}
		}
		fmt.Printf("| %s | %.1f | %.2f | %s | %s | %s |\n", p.name, cost[i]/1e6, cost[i]/float64(took.Nanoseconds())*100, booked, cover, listed)
	}
	fmt.Println()
	return nil
}

// churnBooked sums, over the records of a json agent's output (the first,
// a baseline, left out), the interval CPU time of the consumers named
// churnchild, and counts the distinct ones.
func churnBooked(path string) (float64, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = f.Close() }()
	type rec struct {
		Consumers []struct {
			Kind       string  `json:"kind"`
			PID        int     `json:"pid"`
			Comm       string  `json:"comm"`
			CPUSeconds float64 `json:"cpu_seconds"`
		} `json:"consumers"`
	}
	var sum float64
	seen := map[int]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for first := true; sc.Scan(); first = false {
		var r rec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return 0, 0, err
		}
		if first {
			continue
		}
		for _, c := range r.Consumers {
			if c.Kind == "process" && c.Comm == churnName {
				sum += c.CPUSeconds
				seen[c.PID] = true
			}
		}
	}
	return sum, len(seen), sc.Err()
}

// churnChild burns the CPU time args[0] says (by its own getrusage) and
// exits.
func churnChild(args []string) {
	if len(args) != 1 {
		os.Exit(2)
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		os.Exit(2)
	}
	for x := 0; ; x++ {
		if x%1024 == 0 {
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= d {
				return
			}
		}
	}
}
