// Command burner burns CPU at a known duty cycle, for end-to-end tests.
//
//	burner -duty 0.6 -for 10s              # one process
//	burner -duty 0.5 -for 3s -children 1   # plus a child, which has a child of its own
//
// It busy-loops for duty × 10 ms of every 10 ms period and sleeps the rest.
// With -children N it starts N copies of itself with -children N-1, waits
// for them, and exits with -exit. On exit it prints its own CPU time
// (getrusage, self and reaped children) to -report when given.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

func main() {
	duty := flag.Float64("duty", 1, "share of one CPU to burn, 0..1")
	dur := flag.Duration("for", 5*time.Second, "how long to run")
	children := flag.Int("children", 0, "depth of descendants to start (each burns the same)")
	exit := flag.Int("exit", 0, "exit status")
	report := flag.String("report", "", "file to write the CPU seconds used to")
	trace := flag.String("trace", "", "file to append \"<unix ns> <cpu seconds>\" to every 50 ms (own CPU time, getrusage)")
	flag.Parse()
	if *trace != "" {
		go traceCPU(*trace)
	}

	var kids []*exec.Cmd
	if *children > 0 {
		args := []string{"-duty", fmt.Sprint(*duty), "-for", dur.String(), "-children", strconv.Itoa(*children - 1)}
		c := exec.Command(os.Args[0], args...)
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "burner:", err)
			os.Exit(1)
		}
		kids = append(kids, c)
	}
	burn(*duty, *dur)
	for _, k := range kids {
		_ = k.Wait()
	}
	if *report != "" {
		var self, kids syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
		_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
		cpu := tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
		_ = os.WriteFile(*report, []byte(strconv.FormatFloat(cpu, 'f', 6, 64)), 0o644)
	}
	os.Exit(*exit)
}

// traceCPU appends the process's own CPU time with the time it was read,
// so a test can tell how much CPU the burner used between any two instants
// without asking procfs.
func traceCPU(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "burner:", err)
		return
	}
	for {
		var self syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
		_, _ = fmt.Fprintf(f, "%d %.6f\n", time.Now().UnixNano(), tv(self.Utime)+tv(self.Stime))
		time.Sleep(50 * time.Millisecond)
	}
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// burn keeps to an absolute schedule — period k starts at start + k×10 ms —
// so that oversleeping in one period is made up in the next and the duty
// cycle holds on average.
func burn(duty float64, d time.Duration) {
	const period = 10 * time.Millisecond
	start := time.Now()
	end := start.Add(d)
	busy := time.Duration(duty * float64(period))
	x := 0
	for k := 0; ; k++ {
		p := start.Add(time.Duration(k) * period)
		if !p.Before(end) {
			break
		}
		for time.Now().Before(p.Add(busy)) {
			x++
		}
		if rest := time.Until(p.Add(period)); rest > 0 {
			time.Sleep(rest)
		}
	}
	_ = x
}
