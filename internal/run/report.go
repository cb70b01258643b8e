package run

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wattlens/wattlens/internal/power"
)

// Report is what `wattlens run` prints: one or more runs of a command and,
// for several, their spread.
type Report struct {
	Runs []Result
	// CarbonIntensity is grams of CO2e per kWh; 0 for none.
	CarbonIntensity float64
}

// runJSON is the --json schema of one run.
type runJSON struct {
	Command           []string `json:"command"`
	Start             string   `json:"start"`
	End               string   `json:"end"`
	DurationSeconds   float64  `json:"duration_seconds"`
	ExitCode          int      `json:"exit_code"`
	Signal            string   `json:"signal,omitempty"`
	EnergyJoules      float64  `json:"energy_joules"`
	HostEnergyJoules  float64  `json:"host_energy_joules"`
	HostSeconds       float64  `json:"host_duration_seconds"`
	IdlePowerWatts    float64  `json:"idle_power_watts"`
	IdleOrigin        string   `json:"idle_origin"`
	AveragePowerWatts float64  `json:"average_power_watts"`
	PeakPowerWatts    float64  `json:"peak_power_watts"`
	CPUSeconds        float64  `json:"cpu_seconds"`
	HostCPUSeconds    float64  `json:"host_cpu_seconds"`
	Processes         int      `json:"processes"`
	Sensor            string   `json:"sensor"`
	Source            string   `json:"source"`
	Method            string   `json:"method,omitempty"`
	SensorUp          bool     `json:"sensor_up"`
	CarbonGrams       *float64 `json:"carbon_grams_co2e,omitempty"`
	// Resources splits energy_joules by resource (they add up to it),
	// beside the host's energy of each.
	Resources        map[string]resourceJSON `json:"resources"`
	StorageBy        string                  `json:"storage_by"`
	StorageBytes     uint64                  `json:"storage_bytes"`
	HostDiskBytes    uint64                  `json:"host_disk_bytes"`
	NetworkBy        string                  `json:"network_by,omitempty"`
	NetworkBytes     uint64                  `json:"network_bytes"`
	HostNetworkBytes uint64                  `json:"host_network_bytes"`
	Series           []Point                 `json:"series"`
}

// resourceJSON is one resource's figures in a run's --json.
type resourceJSON struct {
	EnergyJoules     float64 `json:"energy_joules"`
	HostEnergyJoules float64 `json:"host_energy_joules"`
}

// Spread summarises one figure over repeated runs.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Stdev is the sample standard deviation; RelStdev is it over the mean.
	Stdev    float64 `json:"stdev"`
	RelStdev float64 `json:"relative_stdev"`
}

func (r Report) one(res Result) runJSON {
	j := runJSON{
		Command:           res.Command,
		Start:             res.Start.Format(time.RFC3339Nano),
		End:               res.End.Format(time.RFC3339Nano),
		DurationSeconds:   res.Duration().Seconds(),
		ExitCode:          res.ExitCode,
		EnergyJoules:      res.Energy.Joules(),
		HostEnergyJoules:  res.HostEnergy.Joules(),
		HostSeconds:       res.HostDuration.Seconds(),
		IdlePowerWatts:    res.IdlePower.Watts(),
		IdleOrigin:        res.IdleOrigin,
		AveragePowerWatts: res.AveragePower().Watts(),
		PeakPowerWatts:    res.PeakPower.Watts(),
		CPUSeconds:        res.CPU.Seconds(),
		HostCPUSeconds:    res.HostCPU.Seconds(),
		Processes:         res.Processes,
		Sensor:            res.Sensor,
		Source:            string(res.Source),
		Method:            res.Method,
		SensorUp:          res.SensorUp,
		Resources:         make(map[string]resourceJSON, power.NumResources),
		StorageBy:         res.StorageBy,
		StorageBytes:      res.StorageBytes,
		HostDiskBytes:     res.HostDiskBytes,
		NetworkBy:         res.NetworkBy,
		NetworkBytes:      res.NetworkBytes,
		HostNetworkBytes:  res.HostNetworkBytes,
		Series:            res.Series,
	}
	for i, r := range power.Resources {
		j.Resources[string(r)] = resourceJSON{EnergyJoules: res.Resources[i].Joules(), HostEnergyJoules: res.HostResources[i].Joules()}
	}
	if res.Signal != 0 {
		j.Signal = res.Signal.String()
	}
	if j.Series == nil {
		j.Series = []Point{}
	}
	if r.CarbonIntensity > 0 {
		g := r.carbon(res)
		j.CarbonGrams = &g
	}
	return j
}

func (r Report) carbon(res Result) float64 {
	return res.Energy.Joules() / 3.6e6 * r.CarbonIntensity
}

// WriteJSON writes the report: one run as an object; several as
// {"runs": [...], "summary": {figure: spread}}.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if len(r.Runs) == 1 {
		return enc.Encode(r.one(r.Runs[0]))
	}
	out := struct {
		Runs    []runJSON         `json:"runs"`
		Summary map[string]Spread `json:"summary"`
	}{Summary: r.summary()}
	for _, res := range r.Runs {
		out.Runs = append(out.Runs, r.one(res))
	}
	return enc.Encode(out)
}

func (r Report) summary() map[string]Spread {
	figures := map[string]func(Result) float64{
		"energy_joules":       func(x Result) float64 { return x.Energy.Joules() },
		"host_energy_joules":  func(x Result) float64 { return x.HostEnergy.Joules() },
		"duration_seconds":    func(x Result) float64 { return x.Duration().Seconds() },
		"average_power_watts": func(x Result) float64 { return x.AveragePower().Watts() },
		"cpu_seconds":         func(x Result) float64 { return x.CPU.Seconds() },
	}
	out := map[string]Spread{}
	for name, f := range figures {
		var v []float64
		for _, res := range r.Runs {
			v = append(v, f(res))
		}
		out[name] = spread(v)
	}
	return out
}

func spread(v []float64) Spread {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return Spread{}
	}
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	var mean, ss float64
	for _, x := range s {
		mean += x
	}
	mean /= float64(n)
	for _, x := range s {
		ss += (x - mean) * (x - mean)
	}
	out := Spread{Median: med, Min: s[0], Max: s[n-1]}
	if n > 1 {
		out.Stdev = math.Sqrt(ss / float64(n-1))
	}
	if mean != 0 {
		out.RelStdev = out.Stdev / mean
	}
	return out
}

// WriteText writes the human summary.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for i, res := range r.Runs {
		if len(r.Runs) > 1 {
			fmt.Fprintf(&b, "run %d/%d: ", i+1, len(r.Runs))
		}
		r.text(&b, res)
	}
	if len(r.Runs) > 1 {
		sum := r.summary()
		fmt.Fprintf(&b, "wattlens: %d runs — median, [min … max], relative spread\n", len(r.Runs))
		line := func(label, unit string, s Spread) {
			fmt.Fprintf(&b, "  %-10s %s %s  [%s … %s]  ±%.1f %%\n", label, num(s.Median), unit, num(s.Min), num(s.Max), 100*s.RelStdev)
		}
		line("energy", "J", sum["energy_joules"])
		line("duration", "s", sum["duration_seconds"])
		line("power", "W", sum["average_power_watts"])
		line("cpu", "s", sum["cpu_seconds"])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// maxCommandText is how many characters of the command line the text
// summary shows: a command run with a huge argument list (a build with
// thousands of files) would otherwise bury the figures, as the stdout
// exporter's cmdline column is cut to the line. The JSON report keeps it
// whole.
const maxCommandText = 160

// shortCommand joins argv with spaces and cuts it to maxCommandText
// characters, saying how many were left out.
func shortCommand(argv []string) string {
	s := strings.Join(argv, " ")
	n := utf8.RuneCountInString(s)
	if n <= maxCommandText {
		return s
	}
	keep, i := maxCommandText-1, 0
	for j := range s {
		if keep == 0 {
			i = j
			break
		}
		keep--
	}
	return fmt.Sprintf("%s… (%d more characters)", s[:i], n-(maxCommandText-1))
}

func (r Report) text(b *strings.Builder, res Result) {
	status := fmt.Sprintf("exit %d", res.ExitCode)
	if res.Signal != 0 {
		status = "killed by " + res.Signal.String()
	}
	fmt.Fprintf(b, "wattlens: %s — %.1f s, %s\n", shortCommand(res.Command), res.Duration().Seconds(), status)
	fmt.Fprintf(b, "  %-10s %s J  (%s Wh)   host %s J over %.1f s\n", "energy",
		num(res.Energy.Joules()), wh(res.Energy.Joules()), num(res.HostEnergy.Joules()), res.HostDuration.Seconds())
	fmt.Fprintf(b, "  %-10s %.1f W average, %.1f W peak (%s)\n", "power", res.AveragePower().Watts(), res.PeakPower.Watts(), stepLabel(res))
	fmt.Fprintf(b, "  %-10s %s s across %s\n", "cpu", cpuNum(res.CPU.Seconds()), plural(res.Processes, "process seen", "processes seen"))
	fmt.Fprintf(b, "  %-10s %.1f W taken out of the host's energy (%s)\n", "idle", res.IdlePower.Watts(), idleLabel(res.IdleOrigin))
	resourceLines(b, res)
	if r.CarbonIntensity > 0 {
		fmt.Fprintf(b, "  %-10s %.3f gCO2e at %g g/kWh\n", "carbon", r.carbon(res), r.CarbonIntensity)
	}
	src := fmt.Sprintf("%s (%s)", res.Sensor, res.Source)
	if res.Source == power.Estimated && res.Method != "" {
		src += " — " + res.Method
	}
	if !res.SensorUp {
		src += " — sensor down at the end: figures stop at its last good reading"
	}
	fmt.Fprintf(b, "  %-10s %s\n", "source", src)
}

// resourceLines writes the command's energy per resource and how storage
// and network were priced.
func resourceLines(b *strings.Builder, res Result) {
	var parts []string
	for i, r := range power.Resources {
		if res.Resources[i] == 0 && res.HostResources[i] == 0 {
			continue // a resource the sensor does not read
		}
		parts = append(parts, fmt.Sprintf("%s %s J", r, num(res.Resources[i].Joules())))
	}
	if len(parts) > 0 {
		fmt.Fprintf(b, "  %-10s %s\n", "resources", strings.Join(parts, " · "))
	}
	st := power.ResourceStorage.Index()
	switch {
	case res.StorageBy == StorageUnknown:
		fmt.Fprintf(b, "  %-10s %s read and written; the disks' bytes are unreadable: no storage energy priced\n", "storage", bytesLabel(res.StorageBytes))
	case res.HostResources[st] > 0 || res.StorageBytes > 0:
		share := ""
		if res.HostDiskBytes > 0 {
			share = fmt.Sprintf(" (%.0f %%)", 100*math.Min(1, float64(res.StorageBytes)/float64(res.HostDiskBytes)))
		}
		fmt.Fprintf(b, "  %-10s %s read and written of the disks' %s%s: storage energy by those bytes\n", "storage",
			bytesLabel(res.StorageBytes), bytesLabel(res.HostDiskBytes), share)
	}
	switch res.NetworkBy {
	case NetworkByNetNS, NetworkByBoth:
		fmt.Fprintf(b, "  %-10s %s in its own network namespace of the NICs' %s: network energy by those bytes", "network",
			bytesLabel(res.NetworkBytes), bytesLabel(res.HostNetworkBytes))
		if res.NetworkBy == NetworkByBoth {
			b.WriteString(", by CPU time while it shared the host's")
		}
		b.WriteByte('\n')
	case NetworkByCPU:
		fmt.Fprintf(b, "  %-10s by CPU time: the command shares the host's network namespace\n", "network")
	}
}

// bytesLabel prints a byte count in binary units.
func bytesLabel(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}

func stepLabel(res Result) string {
	if len(res.Series) > 1 {
		d := res.Series[1].Seconds - res.Series[0].Seconds
		return fmt.Sprintf("%.0f s", math.Max(1, math.Round(d)))
	}
	return "1 s"
}

// num prints a figure with thin grouping of thousands ("1 734") and a
// sensible number of decimals.
func num(x float64) string {
	switch {
	case math.Abs(x) >= 1000:
		return group(fmt.Sprintf("%.0f", x))
	case math.Abs(x) >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func wh(j float64) string {
	w := j / 3600
	if w >= 0.01 {
		return fmt.Sprintf("%.2f", w)
	}
	return fmt.Sprintf("%.4f", w)
}

func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// cpuNum prints CPU seconds with three decimals below 10 s, so that a
// short command's milliseconds show.
func cpuNum(x float64) string {
	if x < 10 {
		return fmt.Sprintf("%.3f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// idleLabel says where the idle baseline came from, in words.
func idleLabel(origin string) string {
	switch origin {
	case "flag":
		return "--idle-power"
	case "model":
		return "the estimation model's idle"
	case IdleBaselineFit:
		return "measured before the start: host power at no busy CPU"
	case IdleBaselineQuiet:
		return "measured before the start on a quiet host"
	case IdleBaselineBusy:
		return "measured before the start on a busy host: an upper bound, give --idle-power for a better figure"
	case IdleNone:
		return "none: the sensor gave no baseline"
	}
	return origin
}
