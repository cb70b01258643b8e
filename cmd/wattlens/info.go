package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/kingpin/v2"

	// facts, not machine: machine is this file's summary of it.
	"github.com/wattlens/wattlens/internal/attribution"
	facts "github.com/wattlens/wattlens/internal/machine"
	"github.com/wattlens/wattlens/internal/sensor/estimate"
	"github.com/wattlens/wattlens/internal/sensor/registry"
	"github.com/wattlens/wattlens/internal/sensor/vm"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// setupInfo declares the info command: which power sources exist here,
// which one is used, and why the others are not.
func setupInfo(cmd *kingpin.CmdClause) action {
	asJSON := cmd.Flag("json", "Write the report as one JSON object, for machines.").Bool()
	return func(_ context.Context, e *env) error {
		rep := e.info()
		var err error
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			err = enc.Encode(rep)
		} else {
			err = rep.write(e.stdout)
		}
		if err != nil {
			return err
		}
		// A health check: info fails when no sensor the exporters would
		// use works now.
		if !rep.inUseWorks() {
			return errNoSensorWorks
		}
		return nil
	}
}

var errNoSensorWorks = errors.New("no sensor in use works here (see the report above)")

// inUseWorks reports whether at least one sensor in use works now. One
// of several down (a BMC that refuses its credentials beside RAPL) is a
// degraded set that still measures: info says why, and exits 0.
func (r infoReport) inUseWorks() bool {
	for _, n := range r.Use {
		if slices.ContainsFunc(r.Sensors, func(s sensorInfo) bool { return s.Name == n && s.Works }) {
			return true
		}
	}
	return false
}

// infoReport is what info says; its JSON form is `info --json`.
type infoReport struct {
	Machine machineInfo  `json:"machine"`
	Sensors []sensorInfo `json:"sensors"`
	// Use is the sensor set the other commands would open with the same
	// global flags; UseWhy says how it was chosen.
	Use    []string `json:"use"`
	UseWhy string   `json:"use_why"`
	// CPUSource is where per-process CPU time would come from.
	CPUSource cpuSourceInfo `json:"cpu_source"`
	// HostFrom says which zones make the host figure when a wall meter
	// sits beside other sensors; empty otherwise.
	HostFrom string `json:"host_from,omitempty"`
	// MemoryDriver says what drives the estimate sensor's memory term
	// (memory traffic or CPU utilisation, and why); only when it is used.
	MemoryDriver string `json:"memory_driver,omitempty"`
	// Privileges: this process's, and what each source lacks.
	Privileges privilegeInfo `json:"privileges"`
	// Platform is the split of a meter's remainder the agent would learn
	// (on a measured host): each term's prior; nil where none is learned.
	Platform *platformInfo `json:"platform_fit,omitempty"`
}

// platformInfo is the platform fit as info sees it: before any tick, so
// each coefficient is its prior, with the prior's standard deviation.
type platformInfo struct {
	Why   string             `json:"why"`
	Terms []platformTermInfo `json:"terms"`
}

type platformTermInfo struct {
	Term     string  `json:"term"`
	Resource string  `json:"resource"`
	Watts    float64 `json:"watts"`
	StdErr   float64 `json:"stderr_watts"`
	Status   string  `json:"status"`
}

type machineInfo struct {
	CPUModel string `json:"cpu_model,omitempty"`
	Sockets  int    `json:"sockets"`
	Cores    int    `json:"cores"`
	Threads  int    `json:"threads"`
	// CPUInfoError says why <procfs>/cpuinfo could not be read.
	CPUInfoError string `json:"cpuinfo_error,omitempty"`
	// VirtualMachine is true when this looks like a guest; VMEvidence
	// says from what.
	VirtualMachine bool     `json:"virtual_machine"`
	VMEvidence     []string `json:"vm_evidence,omitempty"`
	SysVendor      string   `json:"sys_vendor,omitempty"`
	ProductName    string   `json:"product_name,omitempty"`
}

type sensorInfo struct {
	Name  string `json:"name"`
	Help  string `json:"help"`
	Works bool   `json:"works"`
	// Reason says why not, with the fix where there is one.
	Reason     string     `json:"reason,omitempty"`
	Permission bool       `json:"permission_denied,omitempty"`
	Method     string     `json:"method,omitempty"`
	Auto       string     `json:"auto,omitempty"` // "cpu", "add", or empty: never chosen by auto
	Zones      []zoneInfo `json:"zones,omitempty"`
}

type zoneInfo struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Name   string `json:"name,omitempty"`
	Socket int    `json:"socket"` // -1 when none
	Source string `json:"source"`
	// MaxEnergyRangeUJ is the value the counter wraps at, in µJ; 0 when
	// unknown.
	MaxEnergyRangeUJ uint64 `json:"max_energy_range_uj"`
}

// info probes every sensor once (none is kept open) and looks at the
// machine.
func (e *env) info() infoReport {
	statuses := registry.Probe(e.sensorOptions())
	rep := infoReport{Machine: machine(e.cfg.ProcFS, e.cfg.SysFS)}
	auto := map[string]string{}
	for _, en := range registry.Entries() {
		auto[en.Name] = en.Auto
	}
	for _, st := range statuses {
		si := sensorInfo{Name: st.Name, Help: st.Help, Works: st.Works, Reason: st.Reason,
			Permission: st.Permission, Method: st.Method, Auto: auto[st.Name]}
		for _, z := range st.Zones {
			si.Zones = append(si.Zones, zoneInfo{ID: z.ID, Kind: z.Kind, Name: z.Name, Socket: z.Socket,
				Source: string(z.Source), MaxEnergyRangeUJ: z.MaxRange.Microjoules()})
		}
		rep.Sensors = append(rep.Sensors, si)
	}
	switch {
	case e.cfg.VM:
		rep.Use, rep.UseWhy = []string{registry.VM}, "--vm"
	case len(e.cfg.Sensors) == 1 && e.cfg.Sensors[0] == "auto":
		rep.Use = registry.AutoChoice(statuses)
		rep.UseWhy = autoRule()
		if a, ok := registry.CrossCheck(statuses, e.sensorOptions()); ok {
			rep.UseWhy += "; " + a.String()
		}
	default:
		rep.Use, rep.UseWhy = e.cfg.Sensors, "--sensor"
	}
	if e.cfg.VM || rep.UseWhy == "--sensor" {
		status := map[string]registry.Status{}
		for _, st := range statuses {
			status[st.Name] = st
		}
		for _, n := range rep.Use {
			switch st := status[n]; {
			case st.Works:
			case st.Opened:
				rep.UseWhy += "; " + n + " cannot be read now: the exporters start and report it down until it reads"
			default:
				rep.UseWhy += "; " + n + " cannot be set up here, so the exporters will not start"
			}
		}
	}
	if rep.Use == nil {
		rep.Use = []string{}
	}
	rep.CPUSource = e.cpuSource()
	if slices.Contains(rep.Use, "redfish") && len(rep.Use) > 1 {
		rep.HostFrom = "the BMC's wall meter (redfish) from its second reading on, the other sensors' zones as its parts; " +
			"until then, the other sensors' zones (psys, else packages + dram + gpus); the switch is logged"
	}
	if slices.Contains(rep.Use, estimate.Name) {
		rep.MemoryDriver = estimate.ProbeMemoryDriver(e.sensorOptions())
	}
	rep.Platform = e.platformInfo(rep.Use)
	rep.Privileges = e.privileges(&rep)
	return rep
}

// platformInfo describes the platform fit the sensor set use would learn:
// none for the estimate sensor (it models the devices itself) or a VM.
func (e *env) platformInfo(use []string) *platformInfo {
	if e.cfg.VM || len(use) == 0 || slices.Contains(use, estimate.Name) || slices.Contains(use, vm.Name) {
		return nil
	}
	pf, err := attribution.PlatformPriors(platformOf(estimate.NewActivity(e.sensorOptions())))
	if err != nil {
		return &platformInfo{Why: "not learned: " + err.Error()}
	}
	out := &platformInfo{Why: "learned online from the meter's remainder beyond the RAPL zones (wall meter or psys), starting from these published figures; " +
		"the learned values and their standard errors are in wattlens_platform_coefficient_watts and the snapshot's method"}
	for _, c := range append([]snapshot.PlatformCoef{pf.Intercept}, pf.Terms...) {
		out.Terms = append(out.Terms, platformTermInfo{Term: c.Term, Resource: string(c.Resource), Watts: c.Value, StdErr: c.StdErr, Status: c.Status})
	}
	return out
}

// autoRule says in words what auto chooses, from the registry's table.
func autoRule() string {
	var cpu, add []string
	for _, en := range registry.Entries() {
		switch en.Auto {
		case "cpu":
			cpu = append(cpu, en.Name)
		case "add":
			add = append(add, en.Name)
		}
	}
	rule := "auto: the first that works of " + strings.Join(cpu, ", ")
	if len(add) > 0 {
		rule += "; plus " + strings.Join(add, ", ") + " where it works"
	}
	return rule
}

// machine describes the CPUs (from <procfs>/cpuinfo) and whether this is
// a virtual machine: the cpuinfo "hypervisor" flag (set by the CPUID bit
// hypervisors raise) or a DMI vendor/product of a known hypervisor
// (<sysfs>/class/dmi/id/sys_vendor and product_name).
func machine(procRoot, sysRoot string) machineInfo {
	var m machineInfo
	rd := facts.New(procRoot, sysRoot)
	cpus, err := rd.CPUInfo()
	if err != nil {
		m.CPUInfoError = err.Error()
	} else if len(cpus.Processors) == 0 {
		m.CPUInfoError = "cpuinfo: no processor entries"
	}
	flag := summariseCPUs(&m, cpus)
	dmi := rd.DMI()
	m.SysVendor, m.ProductName = dmi.Vendor, dmi.Product
	var why string
	m.VirtualMachine, why = facts.IsVM(flag, dmi)
	if m.VirtualMachine {
		m.VMEvidence = []string{why}
	}
	return m
}

// summariseCPUs counts sockets (distinct physical ids), cores (distinct
// physical id, core id pairs) and threads (processor entries), and reports
// whether the CPUs carry the hypervisor flag.
func summariseCPUs(m *machineInfo, ci facts.CPUInfo) bool {
	sockets, cores := map[string]bool{}, map[[2]string]bool{}
	firstCore := ""
	for _, p := range ci.Processors {
		if _, ok := p.Get("processor"); !ok {
			continue
		}
		phys, _ := p.Get("physical id")
		core, _ := p.Get("core id")
		if m.Threads == 0 {
			firstCore = core
		}
		m.Threads++
		if name, _ := p.Get("model name"); m.CPUModel == "" {
			m.CPUModel = strings.Join(strings.Fields(name), " ")
		}
		sockets[phys] = true
		cores[[2]string{phys, core}] = true
	}
	m.Sockets, m.Cores = len(sockets), len(cores)
	if m.Threads > 0 && firstCore == "" {
		m.Cores = 0 // not given (some architectures, some hypervisors)
	}
	return ci.Hypervisor()
}

// write prints the report for people.
func (r infoReport) write(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	b.WriteString("Machine\n")
	model := m.CPUModel
	if model == "" {
		model = "unknown"
	}
	rows := [][]string{{"CPU", model}}
	switch {
	case m.CPUInfoError != "":
		rows = append(rows, []string{"topology", "unknown: " + m.CPUInfoError})
	case m.Cores > 0:
		rows = append(rows, []string{"topology", fmt.Sprintf("%s, %d cores, %d threads", plural(m.Sockets, "socket"), m.Cores, m.Threads)})
	default:
		rows = append(rows, []string{"topology", fmt.Sprintf("%s, %d threads", plural(m.Sockets, "socket"), m.Threads)})
	}
	if m.SysVendor != "" || m.ProductName != "" {
		rows = append(rows, []string{"system", strings.TrimSpace(m.SysVendor + " " + m.ProductName)})
	}
	if m.VirtualMachine {
		rows = append(rows, []string{"virtual machine", "yes: " + strings.Join(m.VMEvidence, "; ")})
	} else {
		rows = append(rows, []string{"virtual machine", "no sign of one"})
	}
	columns(&b, rows)

	b.WriteString("\nSensors\n")
	width := 0
	for _, s := range r.Sensors {
		width = max(width, len(s.Name))
	}
	indent := strings.Repeat(" ", 2+width+2)
	for _, s := range r.Sensors {
		state := "works"
		if !s.Works {
			state = "no"
		}
		fmt.Fprintf(&b, "  %-*s  %-5s  %s\n", width, s.Name, state, s.Help)
		switch {
		case !s.Works:
			fmt.Fprintf(&b, "%swhy: %s\n", indent, s.Reason)
		case s.Method != "":
			fmt.Fprintf(&b, "%smethod: %s\n", indent, s.Method)
		}
	}

	b.WriteString("\nIn use\n")
	if len(r.Use) == 0 {
		fmt.Fprintf(&b, "  none: no sensor works here (%s)\n", r.UseWhy)
	} else {
		fmt.Fprintf(&b, "  %s (%s)\n", strings.Join(r.Use, ", "), r.UseWhy)
	}

	var used []sensorInfo
	for _, s := range r.Sensors {
		if slices.Contains(r.Use, s.Name) {
			used = append(used, s)
		}
	}
	zones(&b, used)
	if r.HostFrom != "" {
		fmt.Fprintf(&b, "  host figure: %s\n", r.HostFrom)
	}
	if r.MemoryDriver != "" {
		fmt.Fprintf(&b, "  memory power: %s\n", r.MemoryDriver)
	}

	if p := r.Platform; p != nil {
		b.WriteString("\nPlatform split (a meter's remainder)\n")
		fmt.Fprintf(&b, "  %s\n", p.Why)
		rows := [][]string{{"term", "resource", "prior", "±", "status"}}
		for _, t := range p.Terms {
			rows = append(rows, []string{t.Term, t.Resource, fmt.Sprintf("%.2f W", t.Watts), fmt.Sprintf("%.2f W", t.StdErr), t.Status})
		}
		columns(&b, rows)
	}

	b.WriteString("\nProcess CPU time\n")
	fmt.Fprintf(&b, "  %s (%s)\n", r.CPUSource.Use, r.CPUSource.Why)
	writePrivileges(&b, r.Privileges)
	_, err := io.WriteString(w, b.String())
	return err
}

// zones lists the zones of the sensors in use with the range their
// counter wraps at, and how long that takes at 100 W.
func zones(b *strings.Builder, sensors []sensorInfo) {
	rows := [][]string{{"sensor", "id", "kind", "name", "socket", "source", "wraps at"}}
	for _, s := range sensors {
		for _, z := range s.Zones {
			socket := "-"
			if z.Socket >= 0 {
				socket = strconv.Itoa(z.Socket)
			}
			rows = append(rows, []string{s.Name, z.ID, z.Kind, z.Name, socket, z.Source, wrapRange(z.MaxEnergyRangeUJ)})
		}
	}
	if len(rows) > 1 {
		b.WriteString("\nZones\n")
		columns(b, rows)
	}
}

// columns writes rows indented by two spaces, each column padded to its
// widest cell and two spaces from the next.
func columns(b *strings.Builder, rows [][]string) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		b.WriteString(" ")
		for i, cell := range row {
			b.WriteString(" ")
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+1))
			}
		}
		b.WriteString("\n")
	}
}

// wrapRange writes a counter's range in joules and the time it lasts at
// 100 W.
func wrapRange(uj uint64) string {
	if uj == 0 {
		return "unknown (a decrease is taken as a reset)"
	}
	e := units.Energy(uj)
	secs := e.Joules() / 100
	var lasts string
	switch {
	case secs < 120:
		lasts = fmt.Sprintf("%.0f s", secs)
	case secs < 2*3600:
		lasts = fmt.Sprintf("%.0f min", secs/60)
	case secs < 2*86400:
		lasts = fmt.Sprintf("%.1f h", secs/3600)
	default:
		lasts = fmt.Sprintf("%.0f days", secs/86400)
	}
	return fmt.Sprintf("%d µJ (%.0f J, %s at 100 W)", uj, e.Joules(), lasts)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
