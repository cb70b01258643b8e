package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one measured program.
type proc struct {
	name string
	pid  int
	port int // prometheus only

	cpu0, tick0 uint64
}

type scrape struct {
	d     time.Duration
	bytes int
	code  int
	err   error
}

func oneRun(ctx context.Context, o options, round, n int, tmp, sysfs, self, qemuPath string) error {
	life := o.warmup + o.window + 3*time.Minute + o.burn
	if err := checkLimits(n + o.guests); err != nil {
		return err
	}
	start := time.Now()
	sleepers, err := startSleepers(ctx, n, o.guests, self, qemuPath, life)
	if err != nil {
		return err
	}
	defer sleepers.kill(syscall.SIGKILL, 0)
	fmt.Printf("## round %d: %d sleepers + %d fake qemu guests: %d processes in /proc (started in %s)\n\n",
		round, n, o.guests, countProcs(), time.Since(start).Round(time.Millisecond))

	agents := &group{}
	defer agents.kill(syscall.SIGTERM, 5*time.Second)
	procs, err := startAgents(o, agents, tmp, sysfs)
	if err != nil {
		return err
	}
	if err := sleep(ctx, o.warmup); err != nil {
		return err
	}
	for _, p := range procs {
		if err := alive(p); err != nil {
			return fmt.Errorf("%w; see %s", err, filepath.Join(tmp, p.name+".log"))
		}
	}

	// The window.
	load0, n0 := loadavg(), countProcs()
	for _, p := range procs {
		p.cpu0, _ = cpuNS(p.pid)
		p.tick0, _ = statTicksNS(p.pid)
	}
	t0 := time.Now()
	var scrapes []scrape
	var mu sync.Mutex
	var wg sync.WaitGroup
	if prom := find(procs, "prometheus"); prom != nil && o.scrapeEvery > 0 {
		wg.Go(func() {
			c := client(1)
			for at := time.Duration(0); at < o.window; at += o.scrapeEvery {
				if sleepUntil(ctx, t0.Add(at)) != nil || time.Until(t0.Add(o.window)) < time.Second {
					return
				}
				s := get(c, prom.port)
				mu.Lock()
				scrapes = append(scrapes, s)
				mu.Unlock()
			}
		})
	}
	if err := sleep(ctx, o.window); err != nil {
		return err
	}
	took := time.Since(t0)
	type result struct {
		name               string
		cpu, ticks, rss, t uint64
	}
	var res []result
	for _, p := range procs {
		c, err := cpuNS(p.pid)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		tk, _ := statTicksNS(p.pid)
		rss, _ := status(p.pid, "RssAnon")
		th, _ := status(p.pid, "Threads")
		res = append(res, result{p.name, c - p.cpu0, tk - p.tick0, rss, th})
	}
	wg.Wait()
	load1, n1 := loadavg(), countProcs()
	nprocs := float64(n0+n1) / 2
	ticks := took.Seconds() / o.step.Seconds()
	fmt.Printf("window %s, %.0f ticks, %.0f processes read per tick; load average %s → %s\n\n", took.Round(time.Millisecond), ticks, nprocs, load0, load1)
	fmt.Printf("| program | CPU ms (schedstat) | CPU ms (stat ticks) | µs per process-tick | × floor | × floor -raw | %% of a core | RssAnon MiB | threads |\n")
	fmt.Printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var floorCost, rawCost float64
	for _, r := range res {
		cost := float64(r.cpu) / 1e3 / ticks / nprocs
		switch r.name {
		case "floor":
			floorCost = cost
		case "floor -raw":
			rawCost = cost
		}
		ratio, ratioRaw := "—", "—"
		if !strings.HasPrefix(r.name, "floor") && floorCost > 0 && rawCost > 0 {
			ratio, ratioRaw = fmt.Sprintf("%.2f", cost/floorCost), fmt.Sprintf("%.2f", cost/rawCost)
		}
		fmt.Printf("| %s | %.1f | %.0f | %.2f | %s | %s | %.2f | %.1f | %d |\n", r.name, float64(r.cpu)/1e6, float64(r.ticks)/1e6,
			cost, ratio, ratioRaw, float64(r.cpu)/float64(took.Nanoseconds())*100, float64(r.rss)/1024, r.t)
	}
	fmt.Println()
	for _, s := range scrapes {
		if s.err != nil {
			fmt.Printf("scrape: error %v\n", s.err)
			continue
		}
		fmt.Printf("scrape (default settings, text, no gzip): %d, %.2f ms, %d bytes\n", s.code, float64(s.d.Microseconds())/1e3, s.bytes)
	}
	if len(scrapes) > 0 {
		fmt.Println()
	}

	if prom := find(procs, "prometheus"); prom != nil && o.concurrent > 0 {
		if err := burst(ctx, o, prom, find(procs, "floor")); err != nil {
			return err
		}
	}
	agents.kill(syscall.SIGTERM, 5*time.Second)
	if o.burn > 0 {
		for _, bin := range []string{o.bin, o.base} {
			if bin == "" {
				continue
			}
			if err := runOverhead(ctx, o, bin, tmp, sysfs); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkLimits(want int) error {
	have := countProcs()
	var rl syscall.Rlimit
	_ = syscall.Getrlimit(6 /* RLIMIT_NPROC */, &rl)
	caps := []int{limit("/proc/sys/kernel/pid_max"), limit("/proc/sys/kernel/threads-max")}
	if rl.Cur < 1<<31 {
		caps = append(caps, int(rl.Cur))
	}
	for _, c := range caps {
		// Leave room for what else runs: every Go program has several threads.
		if c > 0 && have+want+1000 > c {
			return fmt.Errorf("%d more processes would pass a limit of %d (pid_max, threads-max or ulimit -u); %d run now", want, c, have)
		}
	}
	return nil
}

func startAgents(o options, g *group, tmp, sysfs string) ([]*proc, error) {
	var procs []*proc
	pid, err := g.spawn([]string{o.floor, "-step", o.step.String()}, nil, nil)
	if err != nil {
		return nil, err
	}
	procs = append(procs, &proc{name: "floor", pid: pid})
	pid, err = g.spawn([]string{o.floor, "-step", o.step.String(), "-raw"}, nil, nil)
	if err != nil {
		return nil, err
	}
	procs = append(procs, &proc{name: "floor -raw", pid: pid})
	for _, x := range o.exporters {
		for _, src := range o.cpuSources {
			p, err := startAgent(o, g, o.bin, x, agentName(x, src), src, tmp, sysfs)
			if err != nil {
				return nil, err
			}
			procs = append(procs, p)
		}
		if o.base != "" {
			p, err := startAgent(o, g, o.base, x, x+" (base)", "", tmp, sysfs)
			if err != nil {
				return nil, err
			}
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// agentName names an agent by its exporter and, but for procfs, its CPU
// source: "json", "json ebpf".
func agentName(x, src string) string {
	if src == "procfs" {
		return x
	}
	return x + " " + src
}

// startAgent starts bin with exporter x; src, when not empty, is its
// --cpu-source (the base binary may predate the flag).
func startAgent(o options, g *group, bin, x, name, src, tmp, sysfs string) (*proc, error) {
	step := o.step.String()
	args := []string{bin, "-s", "powercap_rapl", "--path.sysfs", sysfs, "--log.level", "warn"}
	if src != "" {
		args = append(args, "--cpu-source", src)
	}
	p := &proc{name: name}
	switch x {
	case "stdout":
		args = append(args, "stdout", "-t", "0", "--step", step)
	case "json":
		args = append(args, "json", "--step", step)
	case "prometheus":
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p.port = port
		args = append(args, "prometheus", "--step", step, "--web.listen-address", "127.0.0.1:"+strconv.Itoa(port))
	case "qemu":
		args = append(args, "qemu", "--step", step, "--qemu.dir", filepath.Join(o.qemuDir, "vms-"+strings.ReplaceAll(name, " ", "")))
	default:
		return nil, fmt.Errorf("unknown exporter %q", x)
	}
	log, err := os.Create(filepath.Join(tmp, strings.ReplaceAll(name, " ", "")+".log"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = log.Close() }()
	pid, err := g.spawn(args, nil, log)
	if err != nil {
		return nil, err
	}
	p.pid = pid
	return p, nil
}

func alive(p *proc) error {
	var ws syscall.WaitStatus
	if pid, _ := syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil); pid == p.pid {
		return fmt.Errorf("%s exited during the warm-up: %v", p.name, ws)
	}
	return nil
}

func find(ps []*proc, name string) *proc {
	i := slices.IndexFunc(ps, func(p *proc) bool { return p.name == name })
	if i < 0 {
		return nil
	}
	return ps[i]
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func client(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DisableCompression: true, MaxIdleConnsPerHost: conns, MaxConnsPerHost: 0,
	}}
}

// get scrapes /metrics as a plain client: text format, no gzip.
func get(c *http.Client, port int) scrape {
	start := time.Now()
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		return scrape{err: err}
	}
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return scrape{d: time.Since(start), bytes: int(n), code: resp.StatusCode, err: err}
}

func sleep(ctx context.Context, d time.Duration) error { return sleepUntil(ctx, time.Now().Add(d)) }

func sleepUntil(ctx context.Context, t time.Time) error {
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// burst measures the prometheus agent's CPU over two windows of 10 s,
// one without scrapes and one that starts with o.concurrent simultaneous
// scrapes, beside the floor's over the same windows.
func burst(ctx context.Context, o options, prom, floor *proc) error {
	const w = 10 * time.Second
	measure := func(during func()) (agent, fl uint64, took time.Duration, err error) {
		a0, _ := cpuNS(prom.pid)
		f0, _ := cpuNS(floor.pid)
		t0 := time.Now()
		if during != nil {
			during()
		}
		if err := sleepUntil(ctx, t0.Add(w)); err != nil {
			return 0, 0, 0, err
		}
		a1, _ := cpuNS(prom.pid)
		f1, _ := cpuNS(floor.pid)
		return a1 - a0, f1 - f0, time.Since(t0), nil
	}
	quietA, quietF, quietT, err := measure(nil)
	if err != nil {
		return err
	}
	var got []scrape
	busyA, busyF, busyT, err := measure(func() {
		c := client(o.concurrent)
		var mu sync.Mutex
		var wg sync.WaitGroup
		startGate := make(chan struct{})
		for i := 0; i < o.concurrent; i++ {
			wg.Go(func() {
				<-startGate
				s := get(c, prom.port)
				mu.Lock()
				got = append(got, s)
				mu.Unlock()
			})
		}
		close(startGate)
		wg.Wait()
	})
	if err != nil {
		return err
	}
	codes := map[int]int{}
	var ds []time.Duration
	errs := 0
	for _, s := range got {
		if s.err != nil {
			errs++
			continue
		}
		codes[s.code]++
		ds = append(ds, s.d)
	}
	slices.Sort(ds)
	var parts []string
	for c, k := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", k, c))
	}
	slices.Sort(parts)
	fmt.Printf("%d concurrent scrapes: status %s, %d errors", o.concurrent, strings.Join(parts, " "), errs)
	if len(ds) > 0 {
		fmt.Printf(", latency median %.1f ms, max %.1f ms", ms(ds[len(ds)/2]), ms(ds[len(ds)-1]))
	}
	fmt.Println()
	fmt.Printf("prometheus CPU over %s: %.1f ms without scrapes, %.1f ms with the burst (floor: %.1f ms and %.1f ms); the burst cost %.2f ms of CPU per scrape\n\n",
		w, float64(quietA)/1e6*float64(w)/float64(quietT), float64(busyA)/1e6*float64(w)/float64(busyT),
		float64(quietF)/1e6*float64(w)/float64(quietT), float64(busyF)/1e6*float64(w)/float64(busyT),
		(float64(busyA)-float64(quietA))/1e6/float64(o.concurrent))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// runOverhead runs `wattlens run -- agentperf burn` and compares the CPU
// time of wattlens itself (wait4's rusage of wattlens, which includes the
// command it reaped, less the command's own) with the command's.
func runOverhead(ctx context.Context, o options, bin, tmp, sysfs string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	out := filepath.Join(tmp, "burn.cpu")
	cmd := exec.CommandContext(ctx, bin, "-s", "powercap_rapl", "--path.sysfs", sysfs, "run", "--step", o.step.String(),
		"--output", filepath.Join(tmp, "run.txt"), "--", self, "burn", o.burn.String(), out)
	cmd.Stdout, cmd.Stderr = devnull, devnull
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wattlens run: %w", err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return fmt.Errorf("no rusage for wattlens run")
	}
	total := ru.Utime.Nano() + ru.Stime.Nano()
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	f := strings.Fields(string(b))
	burnNS, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return err
	}
	own := total - burnNS
	fmt.Printf("%s run -- burn %s: the command used %.0f ms of CPU, wattlens itself %.1f ms (%.2f %% of the command's)\n\n",
		filepath.Base(bin), o.burn, float64(burnNS)/1e6, float64(own)/1e6, float64(own)/float64(burnNS)*100)
	return nil
}
