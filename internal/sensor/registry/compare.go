package registry

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/units"
)

// CompareWindow is how long Compare reads two RAPL sensors side by side.
// RAPL counters update about every millisecond (Intel SDM vol. 3B §14.10;
// AMD "updated every 1ms"), so 250 ms is some 250 updates.
const CompareWindow = 250 * time.Millisecond

// Tolerance is how far apart two reads of the same packages may be and
// still agree: 5 % of the larger, or 50 mJ (an idle package over
// CompareWindow draws about a joule).
const (
	TolerancePercent = 5
	toleranceFloor   = 50 * units.Millijoule
)

// Agreement is what Compare found.
type Agreement struct {
	Used, Other   string       // sensor names: Used is first in auto's order
	UsedJ, OtherJ units.Energy // package energy over the window, each as its sensor read it
	Packages      int          // package zones compared
	Window        time.Duration
	Agree         bool
	Err           error // set when the comparison could not be made
}

// String says which sensor is used and why, for the log and `info`.
func (a Agreement) String() string {
	if a.Err != nil {
		return fmt.Sprintf("%s is used, first in auto's order; %s also works but the two could not be compared: %v", a.Used, a.Other, a.Err)
	}
	verb := "agree"
	if !a.Agree {
		verb = fmt.Sprintf("DISAGREE by more than %d %%", TolerancePercent)
	}
	return fmt.Sprintf("%s and %s both work and %s (package energy over %v: %.3f J and %.3f J, %d package zones): %s is used, first in auto's order",
		a.Used, a.Other, verb, a.Window, a.UsedJ.Joules(), a.OtherJ.Joules(), a.Packages, a.Used)
}

// Compare reads used and other, waits window (through sleep), reads both
// again, and compares the energy their package zones counted. Package
// zones are the ones every RAPL interface has (AMD's only); psys, DRAM
// and the rest are not compared.
func Compare(used, other sensor.Sensor, window time.Duration, sleep func(time.Duration)) Agreement {
	a := Agreement{Used: used.Name(), Other: other.Name(), Window: window}
	u0, err := used.Read()
	if err == nil {
		var o0 power.Reading
		if o0, err = other.Read(); err == nil {
			sleep(window)
			var u1, o1 power.Reading
			if u1, err = used.Read(); err == nil {
				if o1, err = other.Read(); err == nil {
					var nu, no int
					a.UsedJ, nu = packageDelta(u0, u1)
					a.OtherJ, no = packageDelta(o0, o1)
					if nu != no {
						err = fmt.Errorf("%s has %d package zones, %s %d", a.Used, nu, a.Other, no)
					}
					a.Packages = nu
				}
			}
		}
	}
	if err != nil {
		a.Err = err
		return a
	}
	diff := math.Abs(float64(a.UsedJ) - float64(a.OtherJ))
	limit := max(float64(max(a.UsedJ, a.OtherJ))*TolerancePercent/100, float64(toleranceFloor))
	a.Agree = diff <= limit
	return a
}

// packageDelta sums the advance of the package zones between two
// readings, wrap-safe, and counts them.
func packageDelta(r0, r1 power.Reading) (units.Energy, int) {
	prev := map[string]power.Zone{}
	for _, z := range r0.Zones {
		prev[z.ID] = z
	}
	var sum units.Energy
	n := 0
	for _, z := range r1.Zones {
		p, ok := prev[z.ID]
		if z.Kind != power.KindPackage || !ok {
			continue
		}
		n++
		d := z.Energy - p.Energy
		if z.Energy < p.Energy && z.MaxRange > 0 {
			d = z.MaxRange - p.Energy + z.Energy
		}
		sum += d
	}
	return sum, n
}

// crossCheck opens the RAPL sensors after chosen in the table, compares
// the first that works with chosen, logs the result and closes it.
func crossCheck(chosen string, s sensor.Sensor, opts sensor.Options, log *slog.Logger) {
	a, ok := crossCheckWith(chosen, s, opts)
	switch {
	case !ok:
	case a.Err == nil && !a.Agree:
		log.Warn("auto: RAPL interfaces disagree", "detail", a.String())
	default:
		log.Info("auto: RAPL cross-check", "detail", a.String())
	}
}

func crossCheckWith(chosen string, s sensor.Sensor, opts sensor.Options) (Agreement, bool) {
	after := false
	for _, e := range Entries() {
		if e.Name == chosen {
			after = true
			continue
		}
		if !after || !e.RAPL {
			continue
		}
		other, err := e.New(opts)
		if err != nil {
			continue
		}
		a := Compare(s, other, CompareWindow, time.Sleep)
		closeAll([]sensor.Sensor{other})
		return a, true
	}
	return Agreement{}, false
}

// CrossCheck is crossCheck for `info`: given what Probe found, it opens
// the first two working RAPL sensors and compares them. ok is false when
// fewer than two work.
func CrossCheck(statuses []Status, opts sensor.Options) (a Agreement, ok bool) {
	works := map[string]bool{}
	for _, st := range statuses {
		works[st.Name] = st.Works
	}
	for _, e := range Entries() {
		if !e.RAPL || !works[e.Name] {
			continue
		}
		s, err := e.New(opts)
		if err != nil {
			return Agreement{}, false
		}
		defer closeAll([]sensor.Sensor{s})
		return crossCheckWith(e.Name, s, opts)
	}
	return Agreement{}, false
}
