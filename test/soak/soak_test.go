//go:build soak

// Package soak runs wattlens prometheus for a long while against a fake
// RAPL tree whose counter wraps every few seconds, beside a churn of
// short processes, scrapes it every second, and
// checks that its memory, goroutines and open files stay flat and that
// its books add up. Not in CI (build tag soak):
//
//	SOAK_DURATION=2m go test -tags soak -count=1 -v -timeout 40m ./test/soak/
//	SOAK_DURATION=30m go test -tags soak -count=1 -v -timeout 40m ./test/soak/
package soak

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

func TestSoak(t *testing.T) {
	dur := 2 * time.Minute
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	bin := filepath.Join(t.TempDir(), "wattlens")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/wattlens").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	sysfs := t.TempDir()
	if err := powercaptest.Build(sysfs, powercaptest.IntelServer2S()); err != nil {
		t.Fatal(err)
	}
	// 30 W into a 100 J range: a wrap every ~3 s.
	adv := powercaptest.NewAdvancer(sysfs, map[string]float64{"intel-rapl:0": 30}, 100_000_000)
	if err := adv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = adv.Stop() }()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-s", "powercap_rapl", "--path.sysfs", sysfs, "prometheus",
		"--web.listen-address", addr, "--step", "1", "--process.top", "0")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	// Process churn: a short shell every 100 ms.
	go func() {
		for ctx.Err() == nil {
			_ = exec.CommandContext(ctx, "sh", "-c", "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done").Run()
			time.Sleep(100 * time.Millisecond)
		}
	}()

	type fig struct{ rss, goroutines, fds, hostJ float64 }
	read := func() (fig, error) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return fig{}, err
		}
		defer func() { _ = resp.Body.Close() }()
		var f fig
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			val := func() float64 {
				v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				return v
			}
			switch {
			case strings.HasPrefix(line, "go_goroutines "):
				f.goroutines = val()
			case strings.HasPrefix(line, "wattlens_host_energy_joules_total"):
				f.hostJ = val()
			}
		}
		// RSS and open files from /proc/<pid>: the agent's own metrics
		// leave the process collector out.
		pid := cmd.Process.Pid
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if fs := strings.Fields(l); len(fs) >= 2 && fs[0] == "VmRSS:" {
					kb, _ := strconv.ParseFloat(fs[1], 64)
					f.rss = kb * 1024
				}
			}
		}
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			f.fds = float64(len(ents))
		}
		return f, sc.Err()
	}

	var first, last fig
	var haveFirst bool
	var firstWritten float64
	start := time.Now()
	scrapes, failed := 0, 0
	for time.Since(start) < dur {
		time.Sleep(time.Second)
		f, err := read()
		scrapes++
		if err != nil {
			failed++
			continue
		}
		if !haveFirst && time.Since(start) > 10*time.Second { // after warm-up
			first, firstWritten, haveFirst = f, adv.Written("intel-rapl:0"), true
		}
		last = f
	}
	written := adv.Written("intel-rapl:0") - firstWritten
	booked := last.hostJ - first.hostJ
	report := fmt.Sprintf("soak %s: %d scrapes (%d failed); RSS %.1f → %.1f MiB; goroutines %.0f → %.0f; open fds %.0f → %.0f; host energy booked %.1f J, written %.1f J",
		dur, scrapes, failed, first.rss/(1<<20), last.rss/(1<<20), first.goroutines, last.goroutines, first.fds, last.fds, booked, written)
	t.Log(report)
	if !haveFirst || first.rss == 0 || first.fds == 0 || written <= 0 || booked <= 0 {
		t.Fatalf("the soak measured nothing: %s", report)
	}
	if failed > scrapes/20 {
		t.Errorf("%d of %d scrapes failed", failed, scrapes)
	}
	if last.rss > 1.5*first.rss+8<<20 {
		t.Errorf("RSS grew: %.1f → %.1f MiB", first.rss/(1<<20), last.rss/(1<<20))
	}
	if last.goroutines > first.goroutines+10 || last.fds > first.fds+10 {
		t.Errorf("goroutines %.0f → %.0f, fds %.0f → %.0f", first.goroutines, last.goroutines, first.fds, last.fds)
	}
	if booked < 0.9*written || booked > 1.1*written {
		t.Errorf("host energy booked %.1f J, written %.1f J (wraps included)", booked, written)
	}
}
