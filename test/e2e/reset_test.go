package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

// TestCounterStepsBackIsAReset is issue 11's first fault, end to end: 10 W
// into package-0, one value 130 J lower (or 0), then 10 W again. A wrap of
// the 262 kJ range in one step would be 131 kW: it is a reset, so no line
// shows an impossible power, the cumulative host energy never holds more
// than was written, and the reset is counted.
func TestCounterStepsBackIsAReset(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	for name, drop := range map[string]func(uint64) uint64{
		"130 J lower": func(raw uint64) uint64 { return raw - 130_000_000 },
		"to zero":     func(uint64) uint64 { return 0 },
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			if err := powercaptest.Build(root, powercaptest.IntelServer2S()); err != nil {
				t.Fatal(err)
			}
			zone, err := filepath.EvalSymlinks(filepath.Join(powercaptest.PowercapDir(root), "intel-rapl:0"))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(zone, "energy_uj")
			write := func(v uint64) {
				tmp := path + ".tmp"
				if err := os.WriteFile(tmp, []byte(strconv.FormatUint(v, 10)+"\n"), 0o444); err != nil {
					t.Error(err)
				}
				if err := os.Rename(tmp, path); err != nil {
					t.Error(err)
				}
			}
			raw := uint64(200_000_000_000) // well inside the 262 kJ range
			write(raw)
			written := 0.0
			done := make(chan struct{})
			go func() {
				defer close(done)
				start, last := time.Now(), time.Now()
				dropped := false
				for time.Since(start) < 9*time.Second {
					time.Sleep(50 * time.Millisecond)
					now := time.Now()
					uj := uint64(10 * now.Sub(last).Microseconds()) // 10 W
					last = now
					raw += uj
					written += float64(uj) / 1e6
					if !dropped && now.Sub(start) > 3500*time.Millisecond {
						raw, dropped = drop(raw), true
					}
					write(raw)
				}
			}()
			out := runWattlens(t, 40*time.Second, "-s", "powercap_rapl", "--path.sysfs", root, "--idle-power", "1",
				"json", "--step", "1", "--timeout", "8")
			<-done
			type line struct {
				Host struct {
					EnergyJoules float64 `json:"energy_joules"`
					PowerWatts   float64 `json:"power_watts"`
				} `json:"host"`
				Resets int `json:"resets"`
			}
			var recs []line
			for _, l := range lines(bytes.NewReader(out)) {
				var r line
				if err := json.Unmarshal([]byte(l), &r); err != nil {
					t.Fatalf("bad line %q: %v", l, err)
				}
				recs = append(recs, r)
			}
			if len(recs) < 5 {
				t.Fatalf("got %d lines", len(recs))
			}
			for i, r := range recs {
				// 10 W is written; a writer that runs late on a loaded
				// machine may put two steps' worth in one, never kilowatts.
				if r.Host.PowerWatts > 50 {
					t.Errorf("line %d: host %.1f W, the tree is driven at 10 W", i, r.Host.PowerWatts)
				}
				if r.Host.EnergyJoules > written+1 {
					t.Errorf("line %d: host energy %.1f J, more than the %.1f J written", i, r.Host.EnergyJoules, written)
				}
			}
			last := recs[len(recs)-1]
			if last.Resets != 1 {
				t.Errorf("resets = %d, want 1", last.Resets)
			}
			t.Logf("host energy %.1f J over %d lines (%.1f J written in all, one interval's lost to the reset), resets %d", last.Host.EnergyJoules, len(recs), written, last.Resets)
		})
	}
}
