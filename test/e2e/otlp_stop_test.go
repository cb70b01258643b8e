package e2e

// How the otlp exporter stops: the last, partial interval reaches the
// collector on SIGTERM every time, and a collector that accepts
// connections but never answers cannot hold the stop.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	collpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP receiver on 127.0.0.1 that keeps, for each
// export, the time of its hw.host.energy point and its value.
type otlpReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []hostPoint
}

type hostPoint struct {
	at     time.Time
	joules float64
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(req.Body)
		var msg collpb.ExportMetricsServiceRequest
		if err != nil || proto.Unmarshal(b, &msg) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		for _, rm := range msg.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name != "hw.host.energy" {
						continue
					}
					for _, p := range m.GetSum().GetDataPoints() {
						r.mu.Lock()
						r.got = append(r.got, hostPoint{at: time.Unix(0, int64(p.TimeUnixNano)), joules: p.GetAsDouble()})
						r.mu.Unlock()
					}
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collpb.ExportMetricsServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *otlpReceiver) points() []hostPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hostPoint(nil), r.got...)
}

// TestOTLPLastIntervalOnStop: 50 times in a row, wattlens otlp with a 10 s
// step gets SIGTERM before its first full interval ends; every time the
// collector receives the last, partial interval: an export dated after
// the signal whose host energy is the simulated power over the time run.
func TestOTLPLastIntervalOnStop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sysfs, _ := fakeRAPL(t, promWatts, promRange)
	recv := newOTLPReceiver(t)
	const runs = 50
	var lost []string
	for i := range runs {
		before := len(recv.points())
		started := time.Now()
		wl := promStart(t, "wattlens", wattlensBin, "-s", "powercap_rapl", "--path.sysfs", sysfs,
			"otlp", "--step", "10", "--otlp.protocol", "http", "--otlp.endpoint", recv.srv.URL)
		promWaitFor(t, 15*time.Second, "wattlens to start pushing", func() bool {
			return strings.Contains(wl.out.String(), "pushing OTLP metrics")
		}, wl)
		time.Sleep(300 * time.Millisecond) // the first interval, cut short
		signalled := time.Now()
		if err := wl.stop(); err != nil {
			t.Fatalf("run %d: exit %v\n%s", i, err, wl.out.String())
		}
		pts := recv.points()[before:]
		var last *hostPoint
		for j := range pts {
			if pts[j].at.After(signalled) && pts[j].joules > 0 {
				last = &pts[j]
			}
		}
		if last == nil {
			lost = append(lost, fmt.Sprintf("run %d: %d exports, none after the signal with energy; log:\n%s", i, len(pts), wl.out.String()))
			continue
		}
		// At most the whole run, start-up included, at the simulated
		// power: the figure is the partial interval, nothing else.
		if bound := 1.1 * promHostWatts * time.Since(started).Seconds(); last.joules > bound {
			t.Errorf("run %d: last export %.1f J, more than %.0f W over the run (%.1f J)", i, last.joules, promHostWatts, bound)
		}
	}
	if len(lost) > 0 {
		t.Errorf("the last interval was lost in %d of %d runs:\n%s", len(lost), runs, strings.Join(lost, "\n"))
	}
}

// TestOTLPSilentCollectorStop: over HTTP, to a collector that accepts TCP
// connections and never answers, wattlens still stops on SIGTERM with
// exit 0, before its own stop watchdog, and says the last export failed.
func TestOTLPSilentCollectorStop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read nor answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	sysfs, _ := fakeRAPL(t, promWatts, promRange)
	for _, proto := range []string{"http", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			endpoint := "http://" + ln.Addr().String()
			wl := promStart(t, "wattlens", wattlensBin, "-s", "powercap_rapl", "--path.sysfs", sysfs,
				"otlp", "--step", "500ms", "--otlp.protocol", proto, "--otlp.endpoint", endpoint, "--otlp.timeout", "20s")
			promWaitFor(t, 15*time.Second, "wattlens to start pushing", func() bool {
				return strings.Contains(wl.out.String(), "pushing OTLP metrics")
			}, wl)
			time.Sleep(1500 * time.Millisecond) // an export in flight, others waiting
			err := wl.stop()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					t.Fatalf("killed by %v: the stop hung\n%s", ws.Signal(), wl.out.String())
				}
			}
			// Nothing ever reached the collector: the run says so and
			// exits 1 (a stop that hung would have been killed above).
			if exit == nil || exit.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1 (nothing delivered)\n%s", err, wl.out.String())
			}
			logs := wl.out.String()
			if !strings.Contains(logs, "nothing was delivered") {
				t.Errorf("no line says nothing was delivered:\n%s", logs)
			}
			if strings.Contains(logs, "a read is blocked") {
				t.Errorf("the stop watchdog fired:\n%s", logs)
			}
			if !strings.Contains(logs, "last export before stopping failed") {
				t.Errorf("no line says the last export failed:\n%s", logs)
			}
		})
	}
}
