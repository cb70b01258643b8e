package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/sensor/redfish/redfishtest"
)

// rfRecord is what the redfish tests read of a json line.
type rfRecord struct {
	record
	Zones []struct {
		Zone         string  `json:"zone"`
		ID           string  `json:"id"`
		EnergyJoules float64 `json:"energy_joules"`
		Source       string  `json:"source"`
	} `json:"zones"`
}

func rfDecode(t *testing.T, out []byte) []rfRecord {
	t.Helper()
	var recs []rfRecord
	for _, l := range lines(strings.NewReader(string(out))) {
		var r rfRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("bad json line %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func hasZone(r rfRecord, id string) bool {
	_, _, ok := r.zone(id)
	return ok
}

func (r rfRecord) zone(id string) (float64, string, bool) {
	for _, z := range r.Zones {
		if z.ID == id {
			return z.EnergyJoules, z.Zone + "/" + z.Source, true
		}
	}
	return 0, "", false
}

// TestRedfishWallPower runs wattlens with --sensor powercap_rapl,redfish
// against a fake RAPL tree (58 W) and a fake BMC serving the DMTF
// rackmount mockup at 310 W: the host power is the BMC's, the RAPL zones
// stay as parts at their own power, and attribution splits the wall power.
// A second run takes the BMC away (HTTP 503) for 3 s in the middle: the
// agent keeps measuring and, the BMC's power being the same before and
// after, the host energy over the run still matches 310 W.
func TestRedfishWallPower(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const wall, rapl = 310.0, 58.0
	watts := map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20, "intel-rapl:0:0": 5, "intel-rapl:1:0": 3}
	sysfs, _ := fakeRAPL(t, watts, 0)
	bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
	bmc.SetPower(wall)
	ca, creds := bmc.Files(t)
	args := []string{"--sensor", "powercap_rapl,redfish", "--path.sysfs", sysfs, "--idle-power", "100",
		"--redfish.endpoint", bmc.URL, "--redfish.credentials-file", creds, "--redfish.ca-file", ca,
		"--redfish.interval", "200ms", "--redfish.timeout", "1s",
		"json", "--step", "1", "--timeout", "9", "--max-top-consumers", "100000"}

	for _, outage := range []bool{false, true} {
		name := "steady"
		if outage {
			name = "bmc unavailable for 3 s"
		}
		t.Run(name, func(t *testing.T) {
			if outage {
				down := time.AfterFunc(3*time.Second, func() { bmc.SetMode(redfishtest.Unavailable) })
				up := time.AfterFunc(6*time.Second, func() { bmc.SetMode(redfishtest.OK) })
				t.Cleanup(func() { down.Stop(); up.Stop(); bmc.SetMode(redfishtest.OK) })
			}
			recs := rfDecode(t, runWattlens(t, 40*time.Second, args...))
			if len(recs) < 6 {
				t.Fatalf("got %d lines, want at least 6", len(recs))
			}
			// New waits up to the timeout for the BMC's first answer; on a
			// loaded machine the first line may come before it.
			for len(recs) > 6 && !hasZone(recs[0], "redfish") {
				recs = recs[1:]
			}
			first, last := recs[0], recs[len(recs)-1]
			span := last.Timestamp.Sub(first.Timestamp).Seconds()
			host := (last.Host.EnergyJoules - first.Host.EnergyJoules) / span
			w0, kind, ok0 := first.zone("redfish")
			w1, _, ok1 := last.zone("redfish")
			p0, _, _ := first.zone("intel-rapl:0")
			p1, _, _ := last.zone("intel-rapl:0")
			t.Logf("host %.2f W, wall zone %.2f W, package-0 %.2f W over %.2f s", host, (w1-w0)/span, (p1-p0)/span, span)
			if !ok0 || !ok1 || kind != "wall/measured" {
				t.Fatalf("wall zone: %v %v %q", ok0, ok1, kind)
			}
			if e := relErr(host, wall); e > 0.03 {
				t.Errorf("host power %.2f W, the BMC served %.0f W: off by %.1f %% (> 3 %%); RAPL alone is %.0f W", host, wall, 100*e, rapl)
			}
			// The fake tree's writer is a goroutine of this test: on a
			// loaded machine it runs late, hence a looser bound than the
			// host's, which comes from the BMC.
			if e := relErr((p1-p0)/span, 30); e > 0.06 {
				t.Errorf("package-0 %.2f W, the tree was driven at 30 W", (p1-p0)/span)
			}
			estimated := 0
			for i, r := range recs {
				if !r.SensorUp || r.Sensor != "powercap_rapl,redfish" {
					t.Errorf("line %d: sensor %q up=%v: the agent stopped measuring", i, r.Sensor, r.SensorUp)
				}
				if r.Host.Source == "estimated" {
					estimated++
				}
				var total float64
				for _, c := range r.Consumers {
					total += c.EnergyJoules
				}
				if e := relErr(total+r.Idle.EnergyJoules, r.Host.EnergyJoules); e > 0.01 {
					t.Errorf("line %d: consumers %.3f J + idle %.3f J vs host %.3f J", i, total, r.Idle.EnergyJoules, r.Host.EnergyJoules)
				}
			}
			if outage && estimated == 0 {
				t.Errorf("no line marked the host estimated while the BMC answered 503")
			}
			if !outage && estimated != 0 {
				t.Errorf("%d lines estimated with the BMC answering", estimated)
			}
		})
	}
}

// TestRedfishWallJoins: -s powercap_rapl,redfish with a BMC that refuses
// the credentials (401) for the first 6 s, then serves 300 W. The tick in
// which the wall zone appears still books what RAPL measured (never 0);
// from then on the host is the wall; the switch is logged once.
func TestRedfishWallJoins(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	watts := map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20, "intel-rapl:0:0": 5, "intel-rapl:1:0": 3}
	sysfs, _ := fakeRAPL(t, watts, 0)
	bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
	bmc.SetPower(300)
	bmc.SetMode(redfishtest.Unauthorized)
	up := time.AfterFunc(6*time.Second, func() { bmc.SetMode(redfishtest.OK) })
	t.Cleanup(func() { up.Stop() })
	ca, creds := bmc.Files(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wattlensBin, "--sensor", "powercap_rapl,redfish", "--path.sysfs", sysfs, "--idle-power", "10",
		"--redfish.endpoint", bmc.URL, "--redfish.credentials-file", creds, "--redfish.ca-file", ca,
		"--redfish.interval", "200ms", "--redfish.timeout", "1s",
		"json", "--step", "1", "--timeout", "11", "--max-top-consumers", "1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("stderr:\n%s", stderr.String())
	if err != nil {
		t.Fatal(err)
	}
	recs := rfDecode(t, out)
	var before, joined, after int
	for i := 1; i < len(recs); i++ {
		prev, cur := recs[i-1], recs[i]
		host := cur.Host.EnergyJoules - prev.Host.EnergyJoules
		var rapl float64
		for _, id := range []string{"intel-rapl:0", "intel-rapl:1"} {
			e1, _, ok1 := cur.zone(id)
			e0, _, ok0 := prev.zone(id)
			if ok0 && ok1 {
				rapl += e1 - e0
			}
		}
		_, _, wallNow := cur.zone("redfish")
		_, _, wallBefore := prev.zone("redfish")
		switch {
		case !wallNow:
			before++
		case !wallBefore:
			joined++
		default:
			after++
		}
		// The packages are parts of the host whichever zone makes it.
		if host < rapl-0.001 {
			t.Errorf("line %d: host %.3f J in the interval, less than the packages' %.3f J (wall zone now %v, before %v)", i, host, rapl, wallNow, wallBefore)
		}
	}
	if before == 0 || joined != 1 || after == 0 {
		t.Errorf("ticks before the wall %d, joining %d, after %d: want some, 1, some", before, joined, after)
	}
	if n := strings.Count(stderr.String(), "the host figure now comes from other zones"); n != 1 {
		t.Errorf("the switch to the wall meter logged %d times, want once", n)
	}
}
