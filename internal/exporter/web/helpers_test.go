package web

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/snapshot/snapshottest"
	"github.com/wattlens/wattlens/internal/units"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 2, 345678000, time.UTC)

func process(pid int, comm, vm string, total, delta units.Energy) snapshot.Process {
	return snapshot.Process{
		Key:      procinfo.Key{PID: pid, StartTime: uint64(1000 + pid)},
		Meta:     &procinfo.Meta{Exe: "/usr/bin/" + comm, Comm: comm, Cmdline: comm + " --flag", VM: vm},
		Energy:   snapshottest.Energy(total, delta),
		CPUDelta: time.Second,
		CPUTotal: 4 * time.Second,
	}
}

// tick is a snapshot whose figures balance: three processes (one a VM),
// unattributed energy and idle. seq moves the time on by 2 s a tick.
func tick(seq uint64) *snapshot.Snapshot {
	procs := []snapshot.Process{
		process(100, "stress", "", 100_000_000, 30_000_000),
		process(200, "qemu-system-x86_64", "web01", 50_000_000, 20_000_000),
		process(300, "nginx", "", 40_000_000, 0),
	}
	s := snapshottest.Balance(&snapshot.Snapshot{
		Seq: seq, Time: t0.Add(time.Duration(seq) * 2 * time.Second), Interval: 2 * time.Second,
		Sensor: "powercap_rapl", SensorUp: true,
		Idle: snapshottest.Energy(200_000_000, 20_000_000), IdlePower: 10 * units.Watt, IdleOrigin: "learned", IdlePolicy: "separate",
		Unattributed: snapshottest.Energy(2_000_000, 500_000), Utilisation: 0.5, CPUs: 4,
		CPU:       snapshot.CPU{Busy: 4 * time.Second, Processes: 3 * time.Second, Known: true},
		Processes: procs,
		Stats:     snapshot.Stats{Processes: 3},
	})
	s.Zones = []snapshot.Zone{{ID: "intel-rapl:0", Kind: power.KindPackage, Name: "package-0", Socket: 0, Energy: s.Host}}
	return s
}

func export(t testing.TB, h *Hub, s *snapshot.Snapshot) {
	t.Helper()
	if err := h.Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func newTestServer(t testing.TB, h *Hub) *httptest.Server {
	t.Helper()
	hh, err := h.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hh)
	t.Cleanup(srv.Close)
	return srv
}

// openStream starts a GET of /api/stream; the body is closed at cleanup.
func openStream(t *testing.T, url string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// event is one Server-Sent Event as a browser's parser sees it.
type event struct {
	ID, Event, Data string
	Retry           string
	Comment         bool
}

// readEvent reads lines up to the blank line that ends an event, the way
// the WHATWG EventSource parser does (field: value, one space stripped).
func readEvent(t *testing.T, r *bufio.Reader) event {
	t.Helper()
	var ev event
	var lines int
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream after %d lines: %v", lines, err)
		}
		lines++
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return ev
		}
		if strings.HasPrefix(line, ":") {
			ev.Comment = true
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.ID = value
		case "event":
			ev.Event = value
		case "data":
			if ev.Data != "" {
				t.Errorf("an event with two data lines: the JSON was split")
			}
			ev.Data += value
		case "retry":
			ev.Retry = value
		default:
			t.Errorf("unknown field %q", field)
		}
	}
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
