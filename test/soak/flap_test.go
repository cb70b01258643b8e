//go:build soak

package soak

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/wattlens/wattlens/internal/sensor/redfish/redfishtest"
)

// bmcWatts is what the flapping BMC reports, always: while it does not
// answer, the agent holds its last figure, so the wall energy booked is
// bmcWatts × time however it flaps.
const bmcWatts = 120.0

// flapFigures is what the agent beside a flapping BMC and a restarting
// collector did.
type flapFigures struct {
	bmcCycles, collectorRestarts int
	exports, exportsWarm         int     // requests the collector took, in all and after warm-up
	wallJ, wallExpectedJ         float64 // host energy between the first and last export after warm-up, and bmcWatts × their span
	rssFirst, rssLast            float64 // bytes
	fdsFirst, fdsLast            float64
	alive                        bool
}

func (f flapFigures) String() string {
	return fmt.Sprintf("agent on a flapping bmc (%d cycles of up 20 s, connection closed 5 s, 401 5 s, 503 5 s, slow 5 s) exporting otlp/http to a collector restarted %d times (up 20 s, down 10 s): %d exports received (%d after warm-up); wall energy booked %.1f J, %.0f W × span %.1f J; RSS %.1f → %.1f MiB; open fds %.0f → %.0f; alive %v",
		f.bmcCycles, f.collectorRestarts, f.exports, f.exportsWarm, f.wallJ, bmcWatts, f.wallExpectedJ,
		f.rssFirst/(1<<20), f.rssLast/(1<<20), f.fdsFirst, f.fdsLast, f.alive)
}

// check fails t where the figures show a leak, a loss or a death.
func (f flapFigures) check(t *testing.T, dur time.Duration) {
	t.Helper()
	if !f.alive {
		t.Error("the agent beside the flapping bmc died")
	}
	if f.exportsWarm < 2 || f.rssFirst == 0 {
		t.Errorf("the agent beside the flapping bmc measured nothing: %s", f)
		return
	}
	if e := f.wallJ/f.wallExpectedJ - 1; e > 0.05 || e < -0.05 {
		t.Errorf("wall energy booked %.1f J, %.0f W over the span is %.1f J: off by %.1f %%", f.wallJ, bmcWatts, f.wallExpectedJ, 100*e)
	}
	if f.rssLast > 1.5*f.rssFirst+8<<20 {
		t.Errorf("RSS of the agent beside the flapping bmc grew: %.1f → %.1f MiB", f.rssFirst/(1<<20), f.rssLast/(1<<20))
	}
	if f.fdsLast > f.fdsFirst+10 {
		t.Errorf("open fds of the agent beside the flapping bmc: %.0f → %.0f", f.fdsFirst, f.fdsLast)
	}
	if dur >= time.Minute && f.collectorRestarts < 1 {
		t.Errorf("the collector was never restarted in %s", dur)
	}
}

// flappingBMC runs a wattlens otlp agent with -s powercap_rapl,redfish
// against a fake BMC (redfishtest) that cycles through answering,
// closing connections, refusing the credentials (401), being unavailable
// (503) and answering too late, and exports over OTLP/HTTP every second
// to an in-process collector that is stopped for 10 s of every 30 and
// started again on the same port. The returned function stops it all and
// returns the figures; warm is when the figures' first sample is taken.
func flappingBMC(ctx context.Context, t *testing.T, bin, sysfs string, warm time.Duration) func() flapFigures {
	t.Helper()
	bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
	bmc.SetPower(bmcWatts)
	bmc.Delay = 3 * time.Second // Slow: past the 1 s timeout
	ca, creds := bmc.Files(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()

	var mu sync.Mutex
	var figs flapFigures
	type export struct {
		at    time.Time // the point's time
		hostJ float64
	}
	var exports []export
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var req collpb.ExportMetricsServiceRequest
		if err != nil || proto.Unmarshal(b, &req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name != "hw.host.energy" || m.GetSum() == nil || len(m.GetSum().DataPoints) != 1 {
						continue
					}
					p := m.GetSum().DataPoints[0]
					mu.Lock()
					exports = append(exports, export{at: time.Unix(0, int64(p.TimeUnixNano)), hostJ: p.GetAsDouble()})
					mu.Unlock()
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collpb.ExportMetricsServiceResponse{})
		_, _ = w.Write(out)
	})

	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// The collector: up 20 s, down 10 s, on the same address.
	wg.Go(func() {
		for first := true; ctx.Err() == nil; first = false {
			if !first {
				var err error
				if l, err = net.Listen("tcp", addr); err != nil {
					t.Errorf("the collector could not listen again on %s: %v", addr, err)
					return
				}
				mu.Lock()
				figs.collectorRestarts++
				mu.Unlock()
			}
			srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
			go func(l net.Listener) { _ = srv.Serve(l) }(l)
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Second):
			}
			_ = srv.Close()
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
		}
	})
	// The BMC: answering 20 s, then 5 s in each failure mode.
	wg.Go(func() {
		modes := []redfishtest.Mode{redfishtest.Down, redfishtest.Unauthorized, redfishtest.Unavailable, redfishtest.Slow}
		for ctx.Err() == nil {
			bmc.SetMode(redfishtest.OK)
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Second):
			}
			for _, m := range modes {
				bmc.SetMode(m)
				select {
				case <-ctx.Done():
					bmc.SetMode(redfishtest.OK)
					return
				case <-time.After(5 * time.Second):
				}
			}
			mu.Lock()
			figs.bmcCycles++
			mu.Unlock()
		}
	})

	agent := exec.CommandContext(ctx, bin, "-s", "powercap_rapl,redfish", "--path.sysfs", sysfs,
		"--redfish.endpoint", bmc.URL, "--redfish.credentials-file", creds, "--redfish.ca-file", ca,
		"--redfish.interval", "500ms", "--redfish.timeout", "1s",
		"otlp", "--otlp.protocol", "http", "--otlp.endpoint", "http://"+addr+"/v1/metrics", "--otlp.compression", "none",
		"--otlp.timeout", "2s", "--step", "1", "--process.top", "5")
	var stderr strings.Builder
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = agent.Wait(); close(exited) }()
	started := time.Now()
	wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-time.After(warm):
			mu.Lock()
			figs.rssFirst, figs.fdsFirst = procFigures(agent.Process.Pid)
			mu.Unlock()
		}
	})

	return func() flapFigures {
		mu.Lock()
		figs.rssLast, figs.fdsLast = procFigures(agent.Process.Pid)
		mu.Unlock()
		figs.alive = true
		select {
		case <-exited:
			figs.alive = false
		default:
		}
		_ = agent.Process.Kill()
		<-exited
		stop()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		figs.exports = len(exports)
		var warmed []export
		for _, e := range exports {
			if e.at.Sub(started) >= warm {
				warmed = append(warmed, e)
			}
		}
		figs.exportsWarm = len(warmed)
		if n := len(warmed); n >= 2 {
			first, last := warmed[0], warmed[n-1]
			figs.wallJ = last.hostJ - first.hostJ
			figs.wallExpectedJ = bmcWatts * last.at.Sub(first.at).Seconds()
		}
		if !figs.alive {
			t.Logf("the agent beside the flapping bmc exited; its stderr:\n%s", stderr.String())
		}
		if n := strings.Count(stderr.String(), "\n"); n > 0 {
			t.Logf("the agent beside the flapping bmc logged %d lines; the last ones:\n%s", n, tail(stderr.String(), 10))
		}
		return figs
	}
}

// procFigures reads a process's RSS (bytes) and open descriptors.
func procFigures(pid int) (rss, fds float64) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				rss = kb * 1024
			}
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		fds = float64(len(ents))
	}
	return rss, fds
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
