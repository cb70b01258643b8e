//go:build soak

// Package soak runs wattlens prometheus for a long while against a fake
// RAPL tree whose counter wraps every few seconds, beside a churn of
// short processes, scrapes it every second, and
// checks that its memory, goroutines and open files stay flat and that
// its books add up. Beside it, an agent pushes to a Pushgateway that
// flaps, and another reads a BMC (redfishtest) that flaps between
// answering, closing connections, 401, 503 and answering too late, and
// exports over OTLP/HTTP to a collector that restarts (flap_test.go). Not
// in CI (build tag soak):
//
//	SOAK_DURATION=2m go test -tags soak -count=1 -v -timeout 40m ./test/soak/
//	SOAK_DURATION=30m go test -tags soak -count=1 -v -timeout 40m ./test/soak/
package soak

import (
	"bufio"
	"context"
	"fmt"
	"io"
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
	// 30 W into a 100 J range: a wrap every ~3 s.
	adv := powercaptest.Start(t, sysfs, powercaptest.IntelServer2S(), map[string]float64{"intel-rapl:0": 30}, 100_000_000)

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

	// Counter resets: package-1 (not driven, 0 W) steps back by 50 J every
	// 20 s, which only a reset explains; its zone books nothing for it.
	pkg1 := filepath.Join(sysfs, "devices", "virtual", "powercap", "intel-rapl", "intel-rapl:1", "energy_uj")
	resetsDone := 0
	go func() {
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Second):
			}
			b, err := os.ReadFile(pkg1)
			if err != nil {
				continue
			}
			v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
			if v < 50_000_000 {
				v += 200_000_000
			} else {
				v -= 50_000_000
			}
			tmp := pkg1 + ".tmp"
			if os.WriteFile(tmp, []byte(strconv.FormatUint(v, 10)+"\n"), 0o444) == nil && os.Rename(tmp, pkg1) == nil {
				resetsDone++
			}
		}
	}()

	// A second agent pushes to a Pushgateway that is down 10 s of every 30.
	gwStop := flappingPushgateway(ctx, t, bin, sysfs)
	// A third reads a flapping BMC and exports to a restarting collector.
	flapStop := flappingBMC(ctx, t, bin, sysfs, 10*time.Second)

	// Process churn: a short shell every 100 ms.
	go func() {
		for ctx.Err() == nil {
			_ = exec.CommandContext(ctx, "sh", "-c", "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done").Run()
			time.Sleep(100 * time.Millisecond)
		}
	}()

	type fig struct{ rss, goroutines, fds, hostJ, resets float64 }
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
			case strings.HasPrefix(line, "wattlens_energy_resets_total "):
				f.resets = val()
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
	pushes, pushAlive := gwStop()
	flap := flapStop()
	written := adv.Written("intel-rapl:0") - firstWritten
	booked := last.hostJ - first.hostJ
	report := fmt.Sprintf("soak %s: %d scrapes (%d failed); RSS %.1f → %.1f MiB; goroutines %.0f → %.0f; open fds %.0f → %.0f; host energy booked %.1f J, written %.1f J; counter resets made %d, counted %.0f; pushes through a flapping gateway %d, pushing agent alive %v",
		dur, scrapes, failed, first.rss/(1<<20), last.rss/(1<<20), first.goroutines, last.goroutines, first.fds, last.fds, booked, written,
		resetsDone, last.resets, pushes, pushAlive)
	t.Log(report)
	t.Log(flap)
	flap.check(t, dur)
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
	if int(last.resets) < resetsDone-1 || int(last.resets) > resetsDone {
		t.Errorf("%d counter resets made, %.0f counted", resetsDone, last.resets)
	}
	if !pushAlive {
		t.Error("the pushing agent died while its gateway flapped")
	}
	if dur >= time.Minute && pushes < 2 {
		t.Errorf("%d pushes reached the gateway while it was up", pushes)
	}
}

// flappingPushgateway runs Debian's prometheus-pushgateway on 127.0.0.1,
// stopped for 10 s of every 30, and a wattlens prometheus-push agent
// pushing to it every second. The returned function stops both and says
// how many times the gateway held a push from the agent and whether the
// agent was still running.
func flappingPushgateway(ctx context.Context, t *testing.T, bin, sysfs string) func() (int, bool) {
	t.Helper()
	gwBin, err := exec.LookPath("prometheus-pushgateway")
	if err != nil {
		t.Skipf("prometheus-pushgateway not installed (bash test/setup.sh installs it): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	agent := exec.CommandContext(ctx, bin, "-s", "powercap_rapl", "--path.sysfs", sysfs, "prometheus-push",
		"--url", "http://"+addr, "--step", "1")
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = agent.Wait(); close(exited) }()
	pushes := 0
	done := make(chan struct{})
	ctx, stop := context.WithCancel(ctx)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			gw := exec.Command(gwBin, "--web.listen-address="+addr, "--persistence.file=")
			if gw.Start() != nil {
				return
			}
			up := time.Now()
			for time.Since(up) < 20*time.Second && ctx.Err() == nil {
				time.Sleep(time.Second)
				if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
					b := new(strings.Builder)
					_, _ = io.Copy(b, resp.Body)
					_ = resp.Body.Close()
					if strings.Contains(b.String(), "wattlens_host_energy_joules_total") {
						pushes++
					}
				}
			}
			_ = gw.Process.Kill()
			_ = gw.Wait()
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
		}
	}()
	return func() (int, bool) {
		alive := true
		select {
		case <-exited:
			alive = false
		default:
		}
		_ = agent.Process.Kill()
		<-exited
		stop()
		<-done // the gateway is stopped too
		return pushes, alive
	}
}
