// Command agentperf is the whole-agent benchmark: it measures what the
// built wattlens binary costs as a running process, side by side with the
// procfs floor (bench/floor), on a host with N sleeping processes.
//
// For each process count N it starts N sleeping processes (and fake qemu
// guests), a fake powercap tree driven by fakerapl, the floor and one
// wattlens per exporter, all at once. After a warm-up (start-up and the
// first metadata read of every process are not steady state) it measures,
// over a window, the CPU time of every thread of each (from
// /proc/<pid>/task/*/schedstat), and prints per process-tick cost, ratio
// to the floor, share of a core and RssAnon; for prometheus also the time
// and size of a scrape every -scrape-every, and what a burst of
// -concurrent simultaneous scrapes costs. Last, it measures what
// `wattlens run` adds to the CPU time of a command that burns the CPU.
//
// It is not a test: run it with `make perf` on a machine that is as quiet
// as you can make it, and read the load average it prints.
//
// Every process it starts is in a process group of its own that it kills
// and reaps on the way out (and on SIGINT/SIGTERM); each also dies with
// the harness (PR_SET_PDEATHSIG) and the sleepers end by themselves after
// the run's planned length in any case.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	bin, base, floor, fakerapl string
	procs                      []int
	rounds                     int
	warmup, window, step       time.Duration
	exporters                  []string
	cpuSources                 []string
	churnRate                  int
	churnBurn                  time.Duration
	guests                     int
	scrapeEvery                time.Duration
	concurrent                 int
	burn                       time.Duration
	qemuDir                    string
}

func main() {
	if filepath.Base(os.Args[0]) == "qemu-system-x86_64" {
		fakeGuest(os.Args[1:])
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "sleepers" {
		n, err1 := strconv.Atoi(os.Args[2])
		secs, err2 := strconv.ParseInt(os.Args[3], 10, 64)
		err := errors.Join(err1, err2)
		if err == nil {
			err = forkSleepers(n, secs)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "agentperf sleepers:", err)
			os.Exit(1)
		}
		return
	}
	if filepath.Base(os.Args[0]) == churnName {
		churnChild(os.Args[1:])
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "burn" {
		d, err := time.ParseDuration(os.Args[2])
		if err == nil {
			err = burn(d, os.Args[3])
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "agentperf burn:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	var procs, exps string
	flag.StringVar(&o.bin, "bin", "bin/wattlens", "wattlens binary")
	flag.StringVar(&o.base, "base", "", "a second wattlens binary (say, main's) run beside -bin with every exporter, for a before/after in one run")
	flag.StringVar(&o.floor, "floor", "bin/floor", "floor binary (bench/floor)")
	flag.StringVar(&o.fakerapl, "fakerapl", "bin/fakerapl", "fakerapl binary (internal/sensor/powercap/powercaptest/cmd/fakerapl)")
	flag.StringVar(&procs, "procs", "2000,10000", "sleeping processes to start, one run per figure")
	flag.IntVar(&o.rounds, "rounds", 1, "times to repeat every process count (the order alternates)")
	flag.DurationVar(&o.warmup, "warmup", 6*time.Second, "time between start and measurement")
	flag.DurationVar(&o.window, "window", 20*time.Second, "measurement window")
	flag.DurationVar(&o.step, "step", time.Second, "--step of every agent and of the floor")
	flag.StringVar(&exps, "exporters", "stdout,json,prometheus,qemu", "exporters to run, side by side")
	var sources string
	flag.StringVar(&sources, "cpu-sources", "procfs,ebpf", "--cpu-source of each -bin agent: one agent per exporter and source (ebpf needs root)")
	flag.IntVar(&o.churnRate, "churn", 50, "short processes started per second in the churn run, after the sleeper runs (0: skip it)")
	flag.DurationVar(&o.churnBurn, "churn-burn", 20*time.Millisecond, "CPU time each churn process burns")
	flag.IntVar(&o.guests, "guests", 20, "fake qemu guests among the sleepers")
	flag.DurationVar(&o.scrapeEvery, "scrape-every", 15*time.Second, "scrape interval of the prometheus exporter during the window")
	flag.IntVar(&o.concurrent, "concurrent", 100, "simultaneous scrapes in the burst phase (0: skip it)")
	flag.StringVar(&o.qemuDir, "qemu-dir", "", "where the qemu exporter writes (a tmpfs, as on a hypervisor; default: a directory in /dev/shm, else in the temporary directory)")
	flag.DurationVar(&o.burn, "burn", 10*time.Second, "length of the command measured by `wattlens run` (0: skip it)")
	flag.Parse()
	for _, s := range strings.Split(procs, ",") {
		if strings.TrimSpace(s) == "" {
			continue // -procs "": the churn run only
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			fmt.Fprintf(os.Stderr, "agentperf: bad -procs %q\n", procs)
			os.Exit(2)
		}
		o.procs = append(o.procs, n)
	}
	o.exporters = strings.Split(exps, ",")
	o.cpuSources = strings.Split(sources, ",")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "agentperf:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	for _, p := range []*string{&o.bin, &o.base, &o.floor, &o.fakerapl} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%w (make perf builds it)", err)
		}
		*p = abs
	}
	tmp, err := os.MkdirTemp("", "agentperf-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	qemuPath := filepath.Join(tmp, "qemu-system-x86_64")
	if err := os.Symlink(self, qemuPath); err != nil {
		return err
	}
	if o.qemuDir == "" {
		parent := os.TempDir()
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			parent = "/dev/shm"
		}
		if o.qemuDir, err = os.MkdirTemp(parent, "agentperf-vms-"); err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(o.qemuDir) }()
	}
	header(o)

	rapl := &group{}
	defer rapl.kill(syscall.SIGTERM, 2*time.Second)
	sysfs := filepath.Join(tmp, "sys")
	if err := startRAPL(ctx, rapl, o.fakerapl, sysfs, tmp); err != nil {
		return err
	}

	for r := 0; r < o.rounds; r++ {
		order := append([]int(nil), o.procs...)
		if r%2 == 1 {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, n := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := oneRun(ctx, o, r+1, n, tmp, sysfs, self, qemuPath); err != nil {
				return err
			}
		}
		if o.churnRate > 0 {
			if err := churnRun(ctx, o, r+1, tmp, sysfs, self); err != nil {
				return err
			}
		}
	}
	return nil
}

func header(o options) {
	var u syscall.Utsname
	_ = syscall.Uname(&u)
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	var rl syscall.Rlimit
	_ = syscall.Getrlimit(6 /* RLIMIT_NPROC */, &rl)
	fmt.Printf("# agentperf %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("machine: %s, %d CPUs (%s), kernel %s\n", hostname(), cpuCount(), cpu, utsString(u.Release[:]))
	fmt.Printf("limits: pid_max %d, threads-max %d, RLIMIT_NPROC %d\n",
		limit("/proc/sys/kernel/pid_max"), limit("/proc/sys/kernel/threads-max"), int64(rl.Cur))
	fmt.Printf("binary: %s (base: %q); step %s, warm-up %s, window %s, %d fake qemu guests writing below %s, scrape every %s\n\n",
		o.bin, o.base, o.step, o.warmup, o.window, o.guests, o.qemuDir, o.scrapeEvery)
}

func hostname() string { h, _ := os.Hostname(); return h }

func cpuCount() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\nprocessor") + 1
}

func utsString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// startRAPL builds a fake two-socket powercap tree under sysfs and drives
// its counters for the whole run.
func startRAPL(ctx context.Context, g *group, bin, sysfs, tmp string) error {
	report := filepath.Join(tmp, "rapl.json")
	log, err := os.Create(filepath.Join(tmp, "fakerapl.log"))
	if err != nil {
		return err
	}
	defer func() { _ = log.Close() }()
	if _, err := g.spawn([]string{bin, "--root", sysfs, "--layout", "intel-server-2s",
		"--watts", "intel-rapl:0=40,intel-rapl:1=25", "--duration", "0", "--report", report}, nil, log); err != nil {
		return err
	}
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := os.Stat(report); err == nil {
			return nil
		}
	}
	b, _ := os.ReadFile(filepath.Join(tmp, "fakerapl.log"))
	return fmt.Errorf("fakerapl did not start within 20 s: %s", b)
}
