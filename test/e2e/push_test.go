package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wattlens/wattlens/internal/porttest"
)

// pushGatewayStart starts a real Pushgateway on addr and waits until it
// answers.
func pushGatewayStart(t *testing.T, bin, addr string) *promProc {
	t.Helper()
	// Debian's build persists to /var/lib/prometheus by default: keep
	// everything in memory, so a restarted gateway starts empty.
	gw := promStart(t, "pushgateway", bin, "--web.listen-address="+addr, "--persistence.file=")
	promWaitFor(t, 15*time.Second, "the Pushgateway to answer", func() bool {
		status, _, _ := promGet("http://"+addr+"/-/ready", "")
		return status == http.StatusOK
	}, gw)
	return gw
}

// pushHostEnergy returns the host energy counter of the e2e group the
// gateway holds, and whether it holds one.
func pushHostEnergy(t *testing.T, addr string) (float64, bool) {
	status, _, body := promGet("http://"+addr+"/metrics", "")
	if status != http.StatusOK {
		return 0, false
	}
	mfs := promParse(t, body)
	for _, m := range mfs["wattlens_host_energy_joules_total"].GetMetric() {
		if pushGroup(m) {
			return promValue(m), true
		}
	}
	return 0, false
}

// pushGroup says whether m is in the group the test pushes to.
func pushGroup(m *dto.Metric) bool {
	return promLabel(m, "job") == "wattlens" && promLabel(m, "instance") == "e2e-host" && promLabel(m, "site") == "lab"
}

// TestPushgatewayEndToEnd: the real binary pushes to a real Pushgateway
// every second; metrics arrive under the grouping key; while the gateway is
// stopped the agent keeps measuring, and once it is back the next push
// carries counters that kept growing through the outage.
func TestPushgatewayEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	gwBin := promTool(t, "prometheus-pushgateway", "pushgateway")
	sysfs, _ := fakeRAPL(t, promWatts, promRange)
	addr := fmt.Sprintf("127.0.0.1:%d", porttest.Free(t))
	gw := pushGatewayStart(t, gwBin, addr)

	wl := promStart(t, "wattlens", wattlensBin, "-s", "powercap_rapl", "--path.sysfs", sysfs,
		"prometheus-push", "--url", "http://"+addr, "--step", "1", "--push.timeout", "300ms",
		"--push.grouping", "instance=e2e-host", "--push.grouping", "site=lab")

	var before float64
	promWaitFor(t, 15*time.Second, "the first push", func() bool {
		v, ok := pushHostEnergy(t, addr)
		before = v
		return ok && v > 0
	}, wl, gw)

	t.Run("the group holds the whole metric set", func(t *testing.T) {
		_, _, body := promGet("http://"+addr+"/metrics", "")
		mfs := promParse(t, body)
		for _, name := range []string{"wattlens_sensor_up", "wattlens_build_info", "wattlens_host_power_watts",
			"wattlens_zone_energy_joules_total", "wattlens_other_energy_joules_total", "wattlens_idle_energy_joules_total"} {
			var found bool
			for _, m := range mfs[name].GetMetric() {
				found = found || pushGroup(m)
			}
			if !found {
				t.Errorf("%s not in the pushed group", name)
			}
		}
		if p := promSum(mfs, "wattlens_host_power_watts"); promRelErr(p, promHostWatts) > 0.1 {
			t.Errorf("pushed host power %v W, want %v W ± 10 %%", p, promHostWatts)
		}
	})

	// The gateway goes away for 3 s.
	if err := gw.stop(); err != nil {
		t.Logf("pushgateway on SIGTERM: %v", err)
	}
	const outage = 3 * time.Second
	time.Sleep(outage)
	if wl.exited() {
		t.Fatalf("wattlens exited while the gateway was down: %v\n%s", wl.err, wl.out.String())
	}
	if !strings.Contains(wl.out.String(), "push failed") {
		t.Errorf("no warning about the failing push:\n%s", wl.out.String())
	}

	// Back, empty (no persistence): the next push must carry counters
	// that grew through the outage.
	gw = pushGatewayStart(t, gwBin, addr)
	var after float64
	promWaitFor(t, 15*time.Second, "a push after the gateway came back", func() bool {
		v, ok := pushHostEnergy(t, addr)
		after = v
		return ok
	}, wl, gw)
	if grew, min := after-before, 0.8*promHostWatts*outage.Seconds(); grew < min {
		t.Errorf("host energy grew by %.1f J across a %v outage at %v W, want at least %.1f J", grew, outage, promHostWatts, min)
	}
	promWaitFor(t, 5*time.Second, "the recovery to be logged", func() bool {
		return strings.Contains(wl.out.String(), "push works again")
	}, wl)

	if err := wl.stop(); err != nil {
		t.Errorf("wattlens on SIGTERM: %v\n%s", err, wl.out.String())
	}
}
