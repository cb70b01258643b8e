package e2e

// The HTTP server under hostile clients: a flood of idle keep-alive
// connections cannot blind the agent, and the live page does not answer
// under another site's name (DNS rebinding).

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/porttest"
)

// TestConnectionFloodUnderLowFileLimit: wattlens prometheus runs with
// RLIMIT_NOFILE 1100 (prlimit); 1100 clients each open a connection, send
// one GET /api/history and fall silent. While they hold on, /metrics
// answers every probe, the sensor never fails, the energy keeps advancing
// at the simulated power and no tick is missing.
func TestConnectionFloodUnderLowFileLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	const nofile, clients = 1100, 1100
	sysfs, _ := fakeRAPL(t, promWatts, promRange)
	port := porttest.Free(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	base := "http://" + addr
	wl := promStart(t, "wattlens", prlimit, fmt.Sprintf("--nofile=%d:%d", nofile, nofile), wattlensBin,
		"-s", "powercap_rapl", "--path.sysfs", sysfs, "prometheus", "--web.listen-address", addr, "--step", "1")
	promWaitFor(t, 15*time.Second, "the first snapshot on /metrics", func() bool {
		status, _, body := promGet(base+"/metrics", "")
		return status == http.StatusOK && strings.Contains(string(body), "wattlens_host_energy_joules_total")
	}, wl)

	// The flood: every connection sends one request and then holds on,
	// reading nothing more, until the test ends.
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			_, _ = fmt.Fprintf(c, "GET /api/history HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: flood-%d\r\n\r\n", i)
		})
	}
	wg.Wait()
	mu.Lock()
	t.Logf("%d of %d flood connections opened", len(conns), clients)
	mu.Unlock()

	// Probe /metrics every 500 ms for 10 s while the flood holds on.
	type probe struct {
		energy, tick, up float64
	}
	var probes []probe
	var failed []string
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		resp, err := client.Get(base + "/metrics")
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		var body strings.Builder
		_, _ = fmt.Fprint(&body, readAll(resp))
		if resp.StatusCode != http.StatusOK {
			failed = append(failed, fmt.Sprintf("status %d: %s", resp.StatusCode, body.String()))
			continue
		}
		mfs := promParse(t, []byte(body.String()))
		probes = append(probes, probe{
			energy: promSum(mfs, "wattlens_host_energy_joules_total"),
			tick:   promSum(mfs, "wattlens_last_tick_timestamp_seconds"),
			up:     promSum(mfs, "wattlens_sensor_up"),
		})
	}
	if len(failed) > 0 {
		t.Errorf("%d probes of /metrics failed during the flood:\n%s", len(failed), strings.Join(failed, "\n"))
	}
	if len(probes) < 10 {
		t.Fatalf("only %d probes answered", len(probes))
	}
	for i, p := range probes {
		if p.up != 1 {
			t.Errorf("probe %d: wattlens_sensor_up %v", i, p.up)
		}
		if i > 0 {
			prev := probes[i-1]
			if p.energy < prev.energy {
				t.Errorf("probe %d: host energy went back, %.1f → %.1f J", i, prev.energy, p.energy)
			}
			// A 1 s step: two probes 0.5 s apart never see ticks more
			// than two steps apart.
			if p.tick-prev.tick > 2.5 {
				t.Errorf("probe %d: last tick jumped %.1f s (ticks lost)", i, p.tick-prev.tick)
			}
		}
	}
	first, last := probes[0], probes[len(probes)-1]
	if span := last.tick - first.tick; span > 0 {
		rate := (last.energy - first.energy) / span
		if promRelErr(rate, promHostWatts) > 0.10 {
			t.Errorf("host power during the flood %.1f W, want %.0f W ± 10 %%", rate, promHostWatts)
		} else {
			t.Logf("host power during the flood %.1f W over %.1f s (simulated %.0f W); %d probes", rate, span, promHostWatts, len(probes))
		}
	} else {
		t.Errorf("no tick during the flood: last tick %.1f → %.1f", first.tick, last.tick)
	}
	logs := wl.out.String()
	for _, bad := range []string{"too many open files", "sensor failed", "level=ERROR"} {
		if strings.Contains(logs, bad) {
			t.Errorf("the log says %q:\n%s", bad, logs)
		}
	}
}

func readAll(resp *http.Response) string {
	defer func() { _ = resp.Body.Close() }()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// TestPageRefusesForeignHost: the live page and its API answer 421 under
// a name that is not the agent's (DNS rebinding), and 200 under its
// address, localhost and a name given with --web.allowed-hosts; /metrics
// answers under any name.
func TestPageRefusesForeignHost(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sysfs, _ := fakeRAPL(t, promWatts, promRange)
	base, _ := promWattlens(t, sysfs, "--web.allowed-hosts", "dash.example.org")
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"attacker.example", "/api/snapshot", http.StatusMisdirectedRequest},
		{"attacker.example:29288", "/", http.StatusMisdirectedRequest},
		{"attacker.example", "/api/history", http.StatusMisdirectedRequest},
		{"", "/api/snapshot", http.StatusOK},
		{"localhost", "/api/snapshot", http.StatusOK},
		{"dash.example.org:29288", "/api/snapshot", http.StatusOK},
		{"attacker.example", "/metrics", http.StatusOK},
	} {
		req, err := http.NewRequest(http.MethodGet, base+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("Host %q %s: %v", tc.host, tc.path, err)
		}
		body := readAll(resp)
		if resp.StatusCode != tc.want {
			t.Errorf("Host %q %s: %d, want %d (%s)", tc.host, tc.path, resp.StatusCode, tc.want, strings.TrimSpace(body))
		}
	}
}
