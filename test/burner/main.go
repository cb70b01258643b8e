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
	flag.Parse()

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

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func burn(duty float64, d time.Duration) {
	const period = 10 * time.Millisecond
	end := time.Now().Add(d)
	busy := time.Duration(duty * float64(period))
	x := 0
	for time.Now().Before(end) {
		start := time.Now()
		for time.Since(start) < busy {
			x++
		}
		if rest := period - time.Since(start); rest > 0 {
			time.Sleep(rest)
		}
	}
	_ = x
}
