package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wattlens/wattlens/internal/citest"
	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/exporter/web"
	"github.com/wattlens/wattlens/internal/porttest"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// The live page's end-to-end test: the real binary on a fake RAPL tree,
// with real CPU burners and a fake VM (the burner exec'd as
// qemu-system-x86_64), opened in a real headless Chromium (Debian's
// chromium; test/setup-chromium.sh installs it) driven over the DevTools
// protocol. Without Chromium the test skips, unless CI is set: then it
// fails.

// webArtifactsEnv names a folder where the screenshots are kept; without
// it they go to the test's temporary folder (logged, removed at the end).
// webWaitEnv, a duration, lets the chart fill before the screenshots (the
// one in docs/ was taken with 90s); the burners run that much longer.
const (
	webArtifactsEnv = "WATTLENS_E2E_ARTIFACTS"
	webWaitEnv      = "WATTLENS_E2E_WEB_WAIT"
)

// webChromium returns the Chromium binary, or skips (fails under CI).
func webChromium(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := "chromium not installed; run test/setup-chromium.sh (Debian's chromium package)"
	citest.Missing(t, msg)
	return ""
}

// webBrowser is a headless Chromium and what its page reported.
type webBrowser struct {
	ctx context.Context

	mu       sync.Mutex
	errors   []string // exceptions, console errors, browser log errors
	requests []string // every URL the page asked for
}

func (b *webBrowser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		b.errors = append(b.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			b.errors = append(b.errors, fmt.Sprintf("console.error: %d args", len(e.Args)))
		}
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			b.errors = append(b.errors, "log: "+e.Entry.Text+" "+e.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, e.Request.URL)
	}
}

func (b *webBrowser) seen() (errs, reqs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...), append([]string(nil), b.requests...)
}

// webStartBrowser starts Chromium headless, sandbox off (root in CI), with
// nothing that reaches the network and a fresh profile, for at most limit.
func webStartBrowser(t *testing.T, path string, limit time.Duration) *webBrowser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	b := &webBrowser{}
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(bcancel)
	b.ctx = bctx
	return b
}

// webHost is what the page shows as the host figure.
type webHost struct {
	Seq   uint64  `json:"seq"`
	Watts float64 `json:"watts"`
	Text  string  `json:"text"`
	State string  `json:"state"`
	Mark  bool    `json:"mark"`
	Chart int     `json:"chart"`
}

const webHostJS = `(() => {
  const e = document.getElementById('host-power');
  return {seq: Number(e.dataset.seq || 0), watts: Number(e.dataset.watts || 0), text: e.textContent,
    state: document.getElementById('status').dataset.state, mark: window.__wattlensMark === 1,
    chart: Number(document.getElementById('chart').dataset.points || 0)};
})()`

// webSnapshot is the part of /api/snapshot the test compares.
type webSnapshot struct {
	Seq  uint64 `json:"seq"`
	Host struct {
		PowerWatts float64 `json:"power_watts"`
		Source     string  `json:"source"`
	} `json:"host"`
	Consumers []struct {
		Kind string `json:"kind"`
		PID  int    `json:"pid"`
	} `json:"consumers"`
	VMs []struct {
		Name string `json:"vm"`
	} `json:"vms"`
}

func webGetSnapshot(t *testing.T, base string) webSnapshot {
	t.Helper()
	status, _, body := promGet(base+"/api/snapshot", "")
	if status != http.StatusOK {
		t.Fatalf("/api/snapshot: status %d: %s", status, body)
	}
	var s webSnapshot
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("/api/snapshot: %v", err)
	}
	return s
}

// webScreenshot saves a full-page PNG at the given viewport and returns
// its path.
func webScreenshot(t *testing.T, b *webBrowser, dir, name string, width, height int64, scale float64) string {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(width, height, chromedp.EmulateScale(scale))); err != nil {
		t.Fatalf("viewport %dx%d: %v", width, height, err)
	}
	// The chart redraws on resize after 150 ms.
	time.Sleep(400 * time.Millisecond)
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if w := img.Bounds().Dx(); w != int(float64(width)*scale) {
		t.Errorf("%s: %d pixels wide, want %v", name, w, float64(width)*scale)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s: %dx%d pixels", path, img.Bounds().Dx(), img.Bounds().Dy())
	return path
}

// TestWebPageInChromium: the prometheus command serves the live page at
// "/"; in a real Chromium the page loads with no error and asks nothing
// from outside the agent, its host figure is the one /api/snapshot
// serves for the same tick (and the simulated 75 W), it updates after a
// step without reloading, and it lists the burners and the fake VM.
func TestWebPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	chromium := webChromium(t)
	var wait time.Duration
	if v := os.Getenv(webWaitEnv); v != "" {
		var err error
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 || wait > 10*time.Minute {
			t.Fatalf("%s=%q: want a duration up to 10m", webWaitEnv, v)
		}
	}
	burn := 50*time.Second + wait

	sysfs, _ := fakeRAPL(t, promWatts, promRange)
	burner := startBurner(t, 0.4, burn)
	startBurner(t, 0.15, burn)
	bin := t.TempDir()
	qemu := filepath.Join(bin, "qemu-system-x86_64")
	vmCopy(t, burnerBin, qemu)
	vmStart(t, []string{qemu, "-duty", "0.25", "-for", burn.String(), "--", "-name", "guest=web01,debug-threads=on", "-m", "2048"}, "")
	base, wl := promWattlens(t, sysfs)

	b := webStartBrowser(t, chromium, 2*time.Minute+wait)
	start := time.Now()
	if err := chromedp.Do(b.ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#host-power[data-seq]`)),
		chromedp.Evaluate[chromedp.Void](`window.__wattlensMark = 1`),
	); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	t.Logf("page loaded with its first figure in %v", time.Since(start).Round(time.Millisecond))

	t.Run("the host figure is the snapshot's", func(t *testing.T) {
		// The page and /api/snapshot may be a tick apart: read both until
		// they show the same tick.
		for range 20 {
			page, err := chromedp.Run(b.ctx, chromedp.Evaluate[webHost](webHostJS))
			if err != nil {
				t.Fatal(err)
			}
			snap := webGetSnapshot(t, base)
			if snap.Seq != page.Seq {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if page.Watts != snap.Host.PowerWatts {
				t.Errorf("page shows %v W for tick %d, /api/snapshot %v W", page.Watts, page.Seq, snap.Host.PowerWatts)
			}
			shown, err := strconv.ParseFloat(strings.TrimSuffix(page.Text, " W"), 64)
			if err != nil || math.Abs(shown-snap.Host.PowerWatts) > 0.05+1e-9 {
				t.Errorf("headline %q for %v W", page.Text, snap.Host.PowerWatts)
			}
			t.Logf("tick %d: page %q, /api/snapshot %v W (%s), fake RAPL %v W", page.Seq, page.Text, snap.Host.PowerWatts, snap.Host.Source, promHostWatts)
			return
		}
		t.Fatal("the page and /api/snapshot never showed the same tick in 20 tries")
	})

	t.Run("the chart's host figures match the fake RAPL", func(t *testing.T) {
		// One tick can read low and the next high when the fake's writer
		// is late on a loaded machine; over ten ticks that evens out.
		var hist []struct {
			Up   bool    `json:"up"`
			Host float64 `json:"host"`
		}
		promWaitFor(t, 30*time.Second, "ten points in /api/history", func() bool {
			status, _, body := promGet(base+"/api/history", "")
			return status == http.StatusOK && json.Unmarshal(body, &hist) == nil && len(hist) >= 10
		}, wl)
		var sum float64
		for _, p := range hist {
			if !p.Up {
				t.Errorf("a point with the sensor down: %+v", p)
			}
			sum += p.Host
		}
		mean := sum / float64(len(hist))
		if promRelErr(mean, promHostWatts) > 0.1 {
			t.Errorf("mean host power over %d ticks %.2f W, the fake RAPL draws %v W", len(hist), mean, promHostWatts)
		}
		t.Logf("mean host power over %d ticks of /api/history: %.2f W; the fake RAPL draws %v W", len(hist), mean, promHostWatts)
	})

	t.Run("it updates after a step without reloading", func(t *testing.T) {
		first, err := chromedp.Run(b.ctx, chromedp.Evaluate[webHost](webHostJS))
		if err != nil {
			t.Fatal(err)
		}
		// --step 1: a new tick within a few seconds, pushed over SSE.
		var now webHost
		deadline := time.Now().Add(10 * time.Second)
		for now.Seq <= first.Seq+1 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			if now, err = chromedp.Run(b.ctx, chromedp.Evaluate[webHost](webHostJS)); err != nil {
				t.Fatal(err)
			}
		}
		if now.Seq <= first.Seq+1 {
			t.Fatalf("the page stayed at tick %d (from %d) for 10 s", now.Seq, first.Seq)
		}
		if !now.Mark {
			t.Error("the page reloaded to update")
		}
		if now.State != "live" {
			t.Errorf("status %q, want live", now.State)
		}
		if now.Chart <= first.Chart {
			t.Errorf("the chart kept %d points after two ticks (had %d)", now.Chart, first.Chart)
		}
		t.Logf("tick %d → %d, chart %d → %d points", first.Seq, now.Seq, first.Chart, now.Chart)
	})

	t.Run("tables list the burner and the VM", func(t *testing.T) {
		// The fake VM needs a tick or two to rank; the burners too.
		var procs, vms string
		for range 30 {
			var err error
			procs, err = chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('#processes tbody').innerText`))
			if err != nil {
				t.Fatal(err)
			}
			vms, err = chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('#vms tbody').innerText`))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(procs, strconv.Itoa(burner.Process.Pid)) && strings.Contains(vms, "web01") {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		if !strings.Contains(procs, strconv.Itoa(burner.Process.Pid)) {
			t.Errorf("the burner (pid %d) is not in the processes table:\n%s", burner.Process.Pid, procs)
		}
		if !strings.Contains(vms, "web01") {
			t.Errorf("the fake VM web01 is not in the VM table:\n%s", vms)
		}
		for _, want := range []string{"Unattributed", "Idle", "Other processes"} {
			if !strings.Contains(procs, want) {
				t.Errorf("no %q row in the processes table:\n%s", want, procs)
			}
		}
		scoped, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('table th[scope]').length`))
		if err != nil || scoped < 10 {
			t.Errorf("%d table headers with a scope (%v)", scoped, err)
		}
		live, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('host-power').getAttribute('aria-live')`))
		if err != nil || live != "polite" {
			t.Errorf("the host figure's aria-live is %q (%v)", live, err)
		}
	})

	t.Run("screenshots", func(t *testing.T) {
		dir := os.Getenv(webArtifactsEnv)
		if dir == "" {
			dir = t.TempDir()
		} else if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if wait > 0 {
			t.Logf("letting the chart fill for %v (%s)", wait, webWaitEnv)
			time.Sleep(wait)
		}
		webScreenshot(t, b, dir, "web-desktop.png", 1280, 900, 1)
		webScreenshot(t, b, dir, "web-phone.png", 390, 844, 2)
		wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		if err != nil || wide {
			t.Errorf("on a 390 px phone the page scrolls sideways (%v)", err)
		}
		// The processes table fits a phone without scrolling its region.
		over, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`(() => { const r = document.getElementById('processes').parentElement; return r.scrollWidth - r.clientWidth; })()`))
		if err != nil || over > 1 {
			t.Errorf("on a 390 px phone the processes table is %d px wider than its box (%v)", over, err)
		}
	})

	errs, reqs := b.seen()
	for _, e := range errs {
		t.Errorf("browser: %s", e)
	}
	for _, u := range reqs {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page asked for %s: everything must come from the agent", u)
		}
	}
	t.Logf("the page made %d requests, all to the agent", len(reqs))
	if wl.exited() {
		t.Fatalf("wattlens exited: %v", wl.err)
	}
}

// TestWebCommand: `wattlens web` serves the page and its API alone, on the
// same --web.* flags; it has no /metrics, and the stream pushes every step.
func TestWebCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sysfs, _ := fakeRAPL(t, promWatts, promRange)
	port := porttest.Free(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := promStart(t, "wattlens", wattlensBin, "-s", "powercap_rapl", "--path.sysfs", sysfs, "web",
		"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port), "--step", "1")
	promWaitFor(t, 15*time.Second, "the first snapshot on /api/snapshot", func() bool {
		status, _, _ := promGet(base+"/api/snapshot", "")
		return status == http.StatusOK
	}, p)
	status, ct, body := promGet(base+"/", "")
	if status != http.StatusOK || !strings.HasPrefix(ct, "text/html") || !bytes.Contains(body, []byte(`id="host-power"`)) {
		t.Errorf("/: status %d, %q", status, ct)
	}
	if bytes.Contains(body, []byte(`href="/metrics"`)) {
		t.Error("the web command's page links to /metrics, which it does not serve")
	}
	if status, _, _ := promGet(base+"/metrics", ""); status != http.StatusNotFound {
		t.Errorf("/metrics: status %d, want 404", status)
	}
	snap := webGetSnapshot(t, base)
	if promRelErr(snap.Host.PowerWatts, promHostWatts) > 0.1 || snap.Host.Source != "measured" {
		t.Errorf("host %v W (%s), the fake RAPL draws %v W", snap.Host.PowerWatts, snap.Host.Source, promHostWatts)
	}

	// Two events come within ~2 s on the stream, a step apart.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("/api/stream: Content-Type %q", ct)
	}
	var seqs []uint64
	buf := make([]byte, 1<<20)
	var acc []byte
	for len(seqs) < 3 {
		n, err := resp.Body.Read(buf)
		acc = append(acc, buf[:n]...)
		for {
			i := bytes.Index(acc, []byte("\n\n"))
			if i < 0 {
				break
			}
			for _, l := range strings.Split(string(acc[:i]), "\n") {
				if v, ok := strings.CutPrefix(l, "id: "); ok {
					s, _ := strconv.ParseUint(v, 10, 64)
					seqs = append(seqs, s)
				}
			}
			acc = acc[i+2:]
		}
		if err != nil {
			t.Fatalf("reading the stream after %v: %v", seqs, err)
		}
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Errorf("stream ids %v: not one per tick", seqs)
		}
	}
	// SIGTERM with the stream still open: the stream ends and wattlens
	// exits cleanly, within stop's 5 s before SIGKILL.
	if err := p.stop(); err != nil {
		t.Errorf("wattlens web on SIGTERM with a stream open: %v", err)
	}
	if _, err := resp.Body.Read(buf); err == nil {
		// A last buffered event may come; the one after must be the end.
		if _, err := resp.Body.Read(buf); err == nil {
			t.Error("the stream is still open after wattlens stopped")
		}
	}
}

// webBooks is snapshot.Energy for a 2 s interval.
func webBooks(total, delta units.Energy, src power.Source) snapshot.Energy {
	return snapshot.Energy{Total: total, Delta: delta, Power: units.PowerOf(delta, 2*time.Second), Source: src}
}

// webSyntheticTick is an estimated snapshot with containers, a pod, a
// service and a process whose command line is markup.
func webSyntheticTick(seq uint64, up bool) *snapshot.Snapshot {
	est := power.Estimated
	api := &container.Workload{Kind: container.KindContainer, Runtime: "containerd", ID: strings.Repeat("ab", 32), PodUID: "0f1e2d3c-0000-4000-8000-000000000001", Name: "api", Pod: "shop-7f9", Namespace: "prod"}
	svc := &container.Workload{Kind: container.KindService, ID: "nginx.service"}
	procs := []snapshot.Process{
		{Key: procinfo.Key{PID: 4242, StartTime: 1}, Meta: &procinfo.Meta{Exe: "/usr/bin/api", Comm: "api", Cmdline: `api --banner <script>alert(1)</script>`, Workload: api},
			Energy: webBooks(80_000_000, 12_000_000, est), CPUDelta: time.Second},
		{Key: procinfo.Key{PID: 99, StartTime: 2}, Meta: &procinfo.Meta{Exe: "/usr/sbin/nginx", Comm: "nginx", Cmdline: "nginx: worker process", Workload: svc},
			Energy: webBooks(30_000_000, 4_000_000, est), CPUDelta: 300 * time.Millisecond},
	}
	unattributed := webBooks(10_000_000, 6_000_000, est)
	idle := webBooks(100_000_000, 20_000_000, est)
	host := webBooks(220_000_000, 42_000_000, est)
	return &snapshot.Snapshot{
		Seq: seq, Time: time.Now(), Interval: 2 * time.Second,
		Sensor: "estimate", Method: "a test model", SensorUp: up, SensorError: map[bool]string{false: "no reading: test"}[up],
		Host: host, Idle: idle, IdlePower: 10 * units.Watt, IdleOrigin: "model", IdlePolicy: "separate",
		Unattributed: unattributed, Utilisation: 0.3, CPUs: 4,
		CPU:       snapshot.CPU{Busy: 4 * time.Second, Processes: 1200 * time.Millisecond, Known: true},
		Zones:     []snapshot.Zone{{ID: "estimate:cpu", Kind: power.KindPackage, Name: "package", Energy: host}},
		Processes: procs,
		Groups: []snapshot.Group{
			{Kind: container.GroupContainer, ID: api.ID, Workload: api, Energy: procs[0].Energy, Processes: 1},
			{Kind: container.GroupPod, ID: api.PodUID, Workload: api, Energy: procs[0].Energy, Processes: 1},
			{Kind: container.GroupService, ID: svc.ID, Workload: svc, Energy: procs[1].Energy, Processes: 1},
		},
	}
}

// TestWebPageSections: the page's other states, from a hub fed by hand
// and served in-process: an estimated source, containers, pods and
// services, markup in a command line shown as text, and a sensor down.
func TestWebPageSections(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	chromium := webChromium(t)
	hub := web.New(web.Options{Containers: true})
	h, err := hub.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(hub.Close) // before srv.Close, which waits for the stream
	if err := hub.Export(context.Background(), webSyntheticTick(1, true)); err != nil {
		t.Fatal(err)
	}

	b := webStartBrowser(t, chromium, 2*time.Minute)
	if err := chromedp.Do(b.ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#host-power[data-seq="1"]`)),
	); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	if got := eval(`document.getElementById('host-source').textContent`); !strings.Contains(got, "estimated") {
		t.Errorf("source badge %q, want estimated in words", got)
	}
	if got := eval(`document.getElementById('unattributed-power').textContent`); got != "3.00 W" {
		t.Errorf("unattributed card %q, want 3.00 W", got)
	}
	if got := eval(`document.getElementById('coverage-card').hidden ? 'hidden' : document.getElementById('coverage').textContent`); got != "30 %" {
		t.Errorf("coverage card %q, want 30 %%", got)
	}
	wl := eval(`document.getElementById('workloads').hidden ? 'hidden' : document.querySelector('#workloads tbody').innerText`)
	for _, want := range []string{"api", "shop-7f9", "nginx.service", "prod"} {
		if !strings.Contains(wl, want) {
			t.Errorf("no %q in the workloads table:\n%s", want, wl)
		}
	}
	procs := eval(`document.querySelector('#processes tbody').innerText`)
	if !strings.Contains(procs, "<script>alert(1)</script>") {
		t.Errorf("the command line with markup is not shown as text:\n%s", procs)
	}
	if n := eval(`String(document.querySelectorAll('script').length)`); n != "1" {
		t.Errorf("%s script elements: a command line was injected as markup", n)
	}

	// The sensor goes down: the page says so, in words.
	if err := hub.Export(context.Background(), webSyntheticTick(2, false)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(`#sensor-error`))); err != nil {
		t.Fatalf("the sensor-down alert never showed: %v", err)
	}
	if got := eval(`document.getElementById('sensor-error').textContent`); !strings.Contains(got, "no reading: test") {
		t.Errorf("sensor-down alert %q", got)
	}
	if got := eval(`document.getElementById('status').dataset.state + ' ' + document.getElementById('host-power').textContent`); got != "down sensor down" {
		t.Errorf("status and headline %q with the sensor down", got)
	}
	errs, _ := b.seen()
	for _, e := range errs {
		t.Errorf("browser: %s", e)
	}
}
