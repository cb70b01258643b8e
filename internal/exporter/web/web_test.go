package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wattlens/wattlens/internal/exporter/jsonexp"
	"github.com/wattlens/wattlens/internal/polltest"
)

func TestRecord(t *testing.T) {
	s := tick(3)
	r := newRecord(s, jsonexp.Options{MaxConsumers: 2}, 5)
	if r.Seq != 3 || r.Host.PowerWatts != 35.25 || r.Host.Source != "measured" {
		t.Errorf("the json record is not the json exporter's: seq %d, host %v W %q", r.Seq, r.Host.PowerWatts, r.Host.Source)
	}
	if n := len(r.Consumers); n != 4 || r.Consumers[2].Kind != jsonexp.KindUnattributed || r.Consumers[2].PowerWatts != 0.25 || r.Consumers[3].Kind != jsonexp.KindOther {
		t.Errorf("consumers: %+v", r.Consumers)
	}
	if c := r.Attribution.Coverage; c == nil || *c != 0.75 {
		t.Errorf("coverage %v, want 0.75", c)
	}
	want := Record{
		VMs: []VM{{Name: "web01", PID: 200, EnergyJoules: 50, PowerWatts: 10, CPUSeconds: 1}},
		Point: Point{Seq: 3, Time: s.Time.UnixMilli(), Up: true, Host: 35.25, Idle: 10, Top: []Share{
			{Key: "100-1100", Label: "stress (100)", Watts: 15},
			{Key: "200-1200", Label: "VM web01", Watts: 10},
		}},
	}
	if diff := cmp.Diff(want, r, cmpopts.IgnoreFields(Record{}, "Record")); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}

	// Sensor down: cumulative figures stay, powers and the point are empty.
	s.SensorUp, s.SensorError = false, "read failed"
	r = newRecord(s, jsonexp.Options{}, 5)
	if r.VMs[0].PowerWatts != 0 || r.VMs[0].EnergyJoules != 50 {
		t.Errorf("sensor down: VM %+v", r.VMs[0])
	}
	if r.Point.Up || r.Point.Host != 0 || len(r.Point.Top) != 0 {
		t.Errorf("sensor down: point %+v", r.Point)
	}
}

func TestRecordJSONHasNoNewline(t *testing.T) {
	s := tick(1)
	s.Processes[0].Cmdline = "sh -c 'echo a\nb' </dev/null"
	h := New(Options{})
	export(t, h, s)
	m := h.latest.Load()
	if strings.ContainsAny(string(m.data), "\n\r") {
		t.Fatalf("the encoded record holds a line break, which would end the SSE data line: %q", m.data)
	}
	var back Record
	if err := json.Unmarshal(m.data, &back); err != nil {
		t.Fatal(err)
	}
	// The json exporter's rule (docs/exporters.md) makes it one line.
	if got, want := back.Consumers[0].Cmdline, "sh -c 'echo a b' </dev/null"; got != want {
		t.Errorf("cmdline came back as %q, want %q", got, want)
	}
}

func TestHistoryWindow(t *testing.T) {
	tests := []struct {
		name    string
		history time.Duration
		ticks   int
		want    int
		first   uint64
	}{
		// Ticks every 2 s: a 10 s window holds the last 6 (0, 2, …, 10 s ago).
		{"time window", 10 * time.Second, 20, 6, 15},
		{"fewer ticks than the window", time.Minute, 5, 5, 1},
		{"bounded in count", 24 * time.Hour, maxPoints + 50, maxPoints, 51},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Options{History: tc.history})
			for i := 1; i <= tc.ticks; i++ {
				export(t, h, tick(uint64(i)))
			}
			got := h.History()
			if len(got) != tc.want || got[0].Seq != tc.first || got[len(got)-1].Seq != uint64(tc.ticks) {
				t.Errorf("%d points from seq %d to %d, want %d from %d to %d", len(got), got[0].Seq, got[len(got)-1].Seq, tc.want, tc.first, tc.ticks)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	h := New(Options{MetricsPath: "/metrics", Version: "wattlens test"})
	srv := newTestServer(t, h)

	resp, err := http.Get(srv.URL + "/api/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/api/snapshot before the first tick: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	export(t, h, tick(1))
	export(t, h, tick(2))

	tests := []struct {
		path, method string
		status       int
		ctype        string
		contains     []string
	}{
		{"/", "GET", 200, "text/html; charset=utf-8", []string{`href="/metrics"`, `aria-live="polite"`, `<th scope="col">`, "wattlens test", `src="app.js"`}},
		{"/app.js", "GET", 200, "text/javascript; charset=utf-8", []string{"EventSource('api/stream')"}},
		{"/app.css", "GET", 200, "text/css; charset=utf-8", []string{"prefers-color-scheme"}},
		{"/api/snapshot", "GET", 200, "application/json", []string{`"seq":2`, `"kind":"unattributed"`, `"coverage":0.75`, `"point":`}},
		{"/api/history", "GET", 200, "application/json", []string{`[{"seq":1,`, `{"seq":2,`}},
		{"/nothing", "GET", 404, "", nil},
		{"/", "POST", 405, "", nil},
		{"/api/stream", "POST", 405, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			body := readAll(t, resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.ctype)
			}
			if tc.status == 200 && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("no content security policy: %q", resp.Header.Get("Content-Security-Policy"))
			}
			for _, want := range tc.contains {
				if !strings.Contains(body, want) {
					t.Errorf("no %q in:\n%.400s", want, body)
				}
			}
		})
	}

	// Without a metrics path (the web command) the page links to none.
	bare := newTestServer(t, New(Options{}))
	resp, err = http.Get(bare.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp.Body); strings.Contains(body, "Prometheus metrics") {
		t.Error("a page without a metrics path links to the metrics")
	}
	_ = resp.Body.Close()
}

// TestStreamFraming reads the stream as a browser's EventSource parser
// does: a retry delay, then the latest tick at once, then one event per
// tick, each with the tick as its id and one data line of JSON.
func TestStreamFraming(t *testing.T) {
	h := New(Options{})
	srv := newTestServer(t, h)
	export(t, h, tick(1))

	resp := openStream(t, srv.URL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	r := bufio.NewReader(resp.Body)
	if ev := readEvent(t, r); ev.Retry != "2000" || ev.Data != "" {
		t.Errorf("first block %+v, want the retry delay", ev)
	}
	polltest.Until(t, "the follower", func() bool { return h.Clients() == 1 })
	for _, seq := range []uint64{1, 2, 3} {
		if seq > 1 {
			export(t, h, tick(seq))
		}
		ev := readEvent(t, r)
		if ev.ID != strconv.FormatUint(seq, 10) || ev.Event != "snapshot" {
			t.Fatalf("event %+v, want id %d, event snapshot", ev, seq)
		}
		var rec Record
		if err := json.Unmarshal([]byte(ev.Data), &rec); err != nil {
			t.Fatalf("event %d data: %v", seq, err)
		}
		if rec.Seq != seq || rec.Point.Seq != seq || rec.Host.PowerWatts != 35.25 {
			t.Errorf("event %d: record seq %d, point %d, host %v W", seq, rec.Seq, rec.Point.Seq, rec.Host.PowerWatts)
		}
	}
}

// TestStreamNoDuplicate: a tick exported between the subscription and
// the first event is sent once.
func TestStreamNoDuplicate(t *testing.T) {
	h := New(Options{})
	srv := newTestServer(t, h)
	resp := openStream(t, srv.URL)
	r := bufio.NewReader(resp.Body)
	if ev := readEvent(t, r); ev.Retry != "2000" {
		t.Fatalf("first block %+v", ev)
	}
	polltest.Until(t, "the follower", func() bool { return h.Clients() == 1 })
	export(t, h, tick(1))
	export(t, h, tick(2))
	var ids []string
	for range 2 {
		ids = append(ids, readEvent(t, r).ID)
	}
	if diff := cmp.Diff([]string{"1", "2"}, ids); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestStreamClientLimit(t *testing.T) {
	h := New(Options{MaxClients: 2})
	srv := newTestServer(t, h)
	export(t, h, tick(1))
	a := openStream(t, srv.URL)
	openStream(t, srv.URL)
	polltest.Until(t, "two followers", func() bool { return h.Clients() == 2 })

	resp, err := http.Get(srv.URL + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a third follower: %s, Retry-After %q; want 503 and a delay", resp.Status, resp.Header.Get("Retry-After"))
	}
	// The snapshot and the page still answer.
	if resp, err := http.Get(srv.URL + "/api/snapshot"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/api/snapshot at the limit: %v %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}

	// One leaves: its place is free again.
	_ = a.Body.Close()
	polltest.Until(t, "the follower to leave", func() bool { return h.Clients() == 1 })
	c := openStream(t, srv.URL)
	if c.StatusCode != http.StatusOK {
		t.Errorf("a follower after one left: %s", c.Status)
	}
}

// TestSlowFollowerDropped: a follower that reads nothing is dropped once
// its buffer is full, and Export never waits for it.
func TestSlowFollowerDropped(t *testing.T) {
	h := New(Options{Buffer: 3})
	slow, ok := h.subscribe()
	if !ok {
		t.Fatal("subscribe refused")
	}
	fast, _ := h.subscribe()
	var got []uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		for m := range fast.ch {
			got = append(got, m.seq)
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(1); i <= 10; i++ {
			export(t, h, tick(i))
			// Let the fast reader keep up, as a browser on a 2 s step does.
			for len(fast.ch) > 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Export blocked on a follower that reads nothing")
	}
	var slowGot []uint64
	for m := range slow.ch { // closed when dropped
		slowGot = append(slowGot, m.seq)
	}
	if diff := cmp.Diff([]uint64{1, 2, 3}, slowGot); diff != "" {
		t.Errorf("the slow follower got (-want +got):\n%s", diff)
	}
	if h.Dropped() != 1 || h.Clients() != 1 {
		t.Errorf("dropped %d, followers %d; want 1 and 1", h.Dropped(), h.Clients())
	}
	h.unsubscribe(fast)
	wg.Wait()
	if len(got) != 10 {
		t.Errorf("the fast follower got %v, want all 10 ticks", got)
	}
	h.unsubscribe(slow) // already dropped: no double close
}

// TestSlowBrowserDropped: the same over HTTP, with a browser that stops
// reading: its stream ends and its place is freed; a server whose write
// buffers fill never holds up Export.
func TestSlowBrowserDropped(t *testing.T) {
	h := New(Options{Buffer: 2})
	srv := newTestServer(t, h)
	resp := openStream(t, srv.URL)
	polltest.Until(t, "the follower", func() bool { return h.Clients() == 1 })
	// Big records (long command lines) fill the socket buffers quickly.
	s := tick(1)
	s.Processes[0].Cmdline = strings.Repeat("x", 256<<10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(1); i <= 200 && h.Dropped() == 0; i++ {
			s.Seq = i
			export(t, h, s)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Export blocked on a browser that does not read")
	}
	if h.Dropped() != 1 {
		t.Fatalf("a browser that reads nothing was not dropped after 200 ticks of 256 KiB")
	}
	polltest.Until(t, "the place to be freed", func() bool { return h.Clients() == 0 })
	_ = resp.Body.Close()
}

func TestCloseEndsStreams(t *testing.T) {
	h := New(Options{})
	srv := newTestServer(t, h)
	export(t, h, tick(1))
	resp := openStream(t, srv.URL)
	polltest.Until(t, "the follower", func() bool { return h.Clients() == 1 })
	h.Close()
	end := make(chan string, 1)
	go func() { b, _ := readBody(resp); end <- b }()
	select {
	case body := <-end:
		if !strings.Contains(body, "id: 1\n") {
			t.Errorf("stream before the close: %q", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end when the hub closed")
	}
	resp2, err := http.Get(srv.URL + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp2.Body.Close()
	if resp2.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a stream after Close: %s", resp2.Status)
	}
	export(t, h, tick(2)) // Export after Close still works (no follower)
	h.Close()             // twice is fine
}

func readBody(resp *http.Response) (string, error) {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), err
		}
	}
}

// TestExportConcurrentWithReaders: snapshots, history and streams read
// while Export runs; run with -race.
func TestExportConcurrentWithReaders(t *testing.T) {
	h := New(Options{MaxClients: 4})
	srv := newTestServer(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			path := []string{"/api/snapshot", "/api/history", "/api/stream", "/"}[i]
			for range 20 {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
				rctx, rcancel := context.WithTimeout(ctx, 50*time.Millisecond)
				resp, err := http.DefaultClient.Do(req.WithContext(rctx))
				if err == nil {
					_, _ = readBody(resp)
					_ = resp.Body.Close()
				}
				rcancel()
			}
		})
	}
	for i := uint64(1); i <= 200; i++ {
		export(t, h, tick(i))
	}
	wg.Wait()
	if got := h.History(); len(got) == 0 || got[len(got)-1].Seq != 200 {
		t.Errorf("history ends at %v", fmt.Sprint(len(got)))
	}
}
