package jsonexp

import (
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Resources is an account's energy by what it was spent on
// (docs/attribution.md, "Resources"): its six figures add up to the
// account's own, exactly in microjoules.
type Resources struct {
	CPU      ResourceFigures `json:"cpu"`
	Memory   ResourceFigures `json:"memory"`
	Storage  ResourceFigures `json:"storage"`
	Network  ResourceFigures `json:"network"`
	GPU      ResourceFigures `json:"gpu"`
	Platform ResourceFigures `json:"platform"`
}

// ResourceFigures is one resource's energy since start and in the
// interval, and its power over the interval.
type ResourceFigures struct {
	EnergyJoules         float64 `json:"energy_joules"`
	IntervalEnergyJoules float64 `json:"interval_energy_joules"`
	PowerWatts           float64 `json:"power_watts"`
}

// resourcesOf converts per-resource figures; with the sensor down only the
// cumulative figures stand.
func resourcesOf(r snapshot.Resources, s *snapshot.Snapshot, up bool) Resources {
	f := func(res power.Resource) ResourceFigures {
		i := res.Index()
		out := ResourceFigures{EnergyJoules: r.Total[i].Joules()}
		if up {
			out.IntervalEnergyJoules = r.Delta[i].Joules()
			if s.Interval > 0 {
				out.PowerWatts = units.PowerOf(r.Delta[i], s.Interval).Watts()
			}
		}
		return out
	}
	return Resources{
		CPU: f(power.ResourceCPU), Memory: f(power.ResourceMemory), Storage: f(power.ResourceStorage),
		Network: f(power.ResourceNetwork), GPU: f(power.ResourceGPU), Platform: f(power.ResourcePlatform),
	}
}
