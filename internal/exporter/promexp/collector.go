// Package promexp is the prometheus exporter: a prometheus.Collector
// over the latest snapshot, the HTTP handler that serves it with the
// Prometheus exporter toolkit, and the metric reference (docs/metrics.md)
// generated from the same table the descriptors are built from.
//
// A scrape never reads a sensor or procfs and never moves the measuring
// window: the sampler hands every snapshot to Collector.Export, which records
// it into an immutable view and publishes it atomically; Collect only reads
// the latest view. Any number of scrapes may run at once.
//
//go:generate go run ../../../cmd/metricsdoc -o ../../../docs/metrics.md
package promexp

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
	"github.com/wattlens/wattlens/internal/version"
)

// Defaults.
const (
	DefaultTopN          = 20
	DefaultCmdlineLength = 256
)

// CompatScaphandre is the --compat value that adds Scaphandre's metrics.
const CompatScaphandre = "scaphandre"

// CompatModes lists the accepted --compat values.
var CompatModes = []string{CompatScaphandre, CompatKepler}

// Options configure a Collector.
type Options struct {
	// TopN is how many processes get series of their own, by energy over
	// the last step; 0 exposes every process.
	TopN int
	// CmdlineLength bounds the cmdline label, in bytes; 0 means
	// DefaultCmdlineLength.
	CmdlineLength int
	// Compat lists extra metric sets: CompatScaphandre.
	Compat []string
	// Sensor names the sensor for wattlens_sensor_up before the first
	// snapshot says it.
	Sensor string
	// Containers (--containers) adds the container, pod and service
	// series (SetContainers) and container labels on the process series.
	// Without it the label sets are those of a build without containers.
	Containers bool
	// Names, when set, gives a container ID's names as known now
	// (container.Enricher.Name); asked at every tick for every container.
	Names container.NameFunc
	// Include (--process.include-regex), when set, gives series of their
	// own to the processes it matches beyond the top N, quiet ones
	// included, at most IncludeMax of them (0: DefaultIncludeMax); see
	// includer.
	Include    *regexp.Regexp
	IncludeMax int
	// NodeName is the node_name label of --compat=kepler's series (the
	// host name, or the Kubernetes node's).
	NodeName string
	// CPUs are the logical CPUs for kepler_node_cpu_info.
	CPUs []KeplerCPU
}

// Collector is a prometheus.Collector over the latest snapshot, and an
// exporter.Exporter that receives every snapshot. It must be given every
// snapshot the sampler makes, in order: the ledger that keeps its counters
// monotonic spans ticks.
type Collector struct {
	opts     Options
	compat   bool // scaphandre
	kepler   bool
	nodeName string
	kbuild   [5]string
	d        *descs
	types    [numMetrics]prometheus.ValueType
	build    [3]string
	scaphV   float64

	mu     sync.Mutex // serialises Export
	ledger *ledger
	view   atomic.Pointer[view]
	facts  atomic.Pointer[HostFacts]
}

// New returns a Collector with no snapshot yet.
func New(opts Options) (*Collector, error) {
	if opts.TopN < 0 {
		return nil, fmt.Errorf("process top %d: give 0 (all) or more", opts.TopN)
	}
	if opts.CmdlineLength < 0 {
		return nil, fmt.Errorf("cmdline length %d: give 0 (default) or more", opts.CmdlineLength)
	}
	if opts.CmdlineLength == 0 {
		opts.CmdlineLength = DefaultCmdlineLength
	}
	c := &Collector{opts: opts, d: newDescs(opts.Containers)}
	for _, m := range opts.Compat {
		switch m {
		case CompatScaphandre:
			c.compat = true
		case CompatKepler:
			c.kepler = true
		default:
			return nil, fmt.Errorf("unknown compat mode %q; valid: %s", m, strings.Join(CompatModes, ", "))
		}
	}
	for id, f := range families() {
		c.types[id] = f.typ
	}
	c.build = [3]string{version.Version, version.Revision(), runtime.Version()}
	c.scaphV = scaphVersion(version.Version)
	c.kbuild = keplerBuild(version.Version, version.Revision())
	c.nodeName = sanitize(opts.NodeName, maxLabelBytes)
	var ctr *containerSeries
	if opts.Containers {
		ctr = newContainerSeries(opts.Names)
	}
	c.ledger = newLedger(opts.TopN, opts.CmdlineLength, ctr, newIncluder(opts.Include, opts.IncludeMax))
	return c, nil
}

// Export records s and makes it the snapshot scrapes see. It never fails.
func (c *Collector) Export(_ context.Context, s *snapshot.Snapshot) error {
	if s == nil {
		return nil
	}
	c.mu.Lock()
	v := c.ledger.observe(s, c.compat, c.kepler)
	c.mu.Unlock()
	c.view.Store(v)
	return nil
}

// Describe sends every descriptor the collector may use.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for id, f := range families() {
		if f.set == SetScaphandre && !c.compat || f.set == SetKepler && !c.kepler || f.set == SetContainers && !c.opts.Containers {
			continue
		}
		ch <- c.d[id]
	}
}

// emitter sends const metrics and counts them.
type emitter struct {
	c   *Collector
	ch  chan<- prometheus.Metric
	n   int
	buf []string // label values, reused (const metrics copy them)
}

func (e *emitter) emit(id metricID, v float64, labels ...string) {
	e.ch <- prometheus.MustNewConstMetric(e.c.d[id], e.c.types[id], v, labels...)
	e.n++
}

func (e *emitter) energy(id metricID, v units.Energy, labels ...string) {
	e.emit(id, v.Joules(), labels...)
}

func (e *emitter) power(id metricID, v units.Power, labels ...string) {
	e.emit(id, v.Watts(), labels...)
}

// Collect sends the latest view's series. Before the first snapshot it
// sends wattlens_build_info and wattlens_sensor_up only. While the sensor
// is down the counters are held and the power gauges left out.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	e := &emitter{c: c, ch: ch}
	v := c.view.Load()

	e.emit(buildInfo, 1, c.build[:]...)
	if c.kepler {
		e.emit(keplerBuildInfo, 1, c.kbuild[:]...)
	}
	if v == nil {
		e.emit(sensorUp, 1, c.opts.Sensor)
		return
	}
	s := v.snap
	sensorName := s.Sensor
	if sensorName == "" {
		sensorName = c.opts.Sensor
	}
	e.emit(sensorUp, boolValue(s.SensorUp), sensorName)
	if !v.measured {
		return
	}
	c.collectNative(e, v)
	c.collectSelf(e, v)
	if c.compat {
		c.collectScaphandre(e, v)
	}
	if c.kepler {
		c.collectKepler(e, v)
	}
	n := e.n
	e.emit(scrapeDuration, time.Since(start).Seconds())
	e.emit(scrapeSeries, float64(n))
}

func (c *Collector) collectNative(e *emitter, v *view) {
	s, src, up := v.snap, v.source, v.snap.SensorUp
	e.energy(hostEnergy, s.Host.Total, src)
	if up {
		e.power(hostPower, s.Host.Power, src)
	}
	origin := s.IdleOrigin
	if origin == "" {
		origin = "learning"
	}
	e.power(hostIdlePower, s.IdlePower, origin, src)
	for _, z := range v.zones {
		e.energy(zoneEnergy, z.energy, z.labels...)
		if up {
			e.power(zonePower, z.power, z.labels...)
		}
	}
	for i := range v.procs {
		p := &v.procs[i]
		for _, r := range v.resources {
			labels := c.processLabels(e, p, power.Resources[r], src)
			e.energy(processEnergy, p.res[r], labels...)
			if up {
				e.power(processPower, p.resPower[r], labels...)
			}
		}
	}
	e.energy(idleEnergy, s.Idle.Total, src)
	e.energy(otherEnergy, v.other.Total, src)
	e.energy(unattributedEnergy, s.Unattributed.Total, src)
	if up {
		e.power(idlePower, s.Idle.Power, src)
		e.power(otherPower, v.other.Power, src)
		e.power(unattributedPower, s.Unattributed.Power, src)
	}
	for _, m := range v.vms {
		for _, r := range v.resources {
			res := string(power.Resources[r])
			e.energy(vmEnergy, m.energy[r], m.vm, res, src)
			if up {
				e.power(vmPower, m.resPower[r], m.vm, res, src)
			}
		}
	}
	if up {
		e.emit(cpuUtilisation, s.Utilisation)
		if c, ok := s.CPU.Coverage(); ok {
			e.emit(attributionCoverage, c)
		}
		if pf := s.Platform; pf != nil {
			for _, c := range append([]snapshot.PlatformCoef{pf.Intercept}, pf.Terms...) {
				e.emit(platformCoefficient, c.Value, c.Term, string(c.Resource), c.Status)
				e.emit(platformCoefficientStdErr, c.StdErr, c.Term, string(c.Resource))
			}
		}
	}
	if c.opts.Containers {
		collectGroups(e, v.containers, containerEnergy, containerPower, v.resources, up)
		collectGroups(e, v.pods, podEnergy, podPower, v.resources, up)
		collectGroups(e, v.services, serviceEnergy, servicePower, v.resources, up)
	}
}

// processLabels returns a process series' label values in e's buffer:
// with Options.Containers its container's (empty for a process in none)
// come after resource and before source.
func (c *Collector) processLabels(e *emitter, p *procSeries, res power.Resource, src string) []string {
	l := p.labels
	e.buf = append(e.buf[:0], l.pid, l.exe, l.comm, l.cmdline, string(res))
	if c.opts.Containers {
		k := p.ctr
		if k == nil {
			k = &noContainer
		}
		e.buf = append(e.buf, k.id, k.name, k.pod, k.namespace)
	}
	return append(e.buf, src)
}

// collectGroups sends the series of containers, pods or services, one
// per resource of resources.
func collectGroups(e *emitter, gs []groupSeries, energy, pw metricID, resources []int, up bool) {
	for i := range gs {
		g := &gs[i]
		n := len(g.labels) - 1
		for _, r := range resources {
			e.buf = append(append(append(e.buf[:0], g.labels[:n]...), string(power.Resources[r])), g.labels[n:]...)
			e.energy(energy, g.energy[r], e.buf...)
			if up {
				e.power(pw, g.power[r], e.buf...)
			}
		}
	}
}

func (c *Collector) collectSelf(e *emitter, v *view) {
	s := v.snap
	e.emit(tickDuration, s.Stats.TickDuration.Seconds())
	if !s.Time.IsZero() {
		e.emit(lastTick, float64(s.Time.UnixNano())/1e9)
	}
	e.emit(processes, float64(s.Stats.Processes))
	e.emit(processesSkipped, float64(s.Stats.Skipped))
	e.emit(processesExposed, float64(len(v.procs)))
	e.emit(counterWraps, float64(s.Stats.Wraps))
	e.emit(counterResets, float64(s.Stats.Resets))
}

func (c *Collector) collectScaphandre(e *emitter, v *view) {
	s, sv, up := v.snap, v.scaph, v.snap.SensorUp
	if sv == nil {
		return
	}
	e.emit(scaphHostEnergy, float64(s.Host.Total), sv.valueSource)
	if up {
		e.emit(scaphHostPower, float64(s.Host.Power), sv.valueSource)
	}
	for _, z := range sv.sockets {
		e.emit(scaphSocketEnergy, float64(z.energy), z.labels...)
		if up {
			e.emit(scaphSocketPower, float64(z.power), z.labels...)
		}
	}
	for _, z := range sv.domains {
		e.emit(scaphDomainEnergy, float64(z.energy), z.labels...)
		if up {
			e.emit(scaphDomainPower, float64(z.power), z.labels...)
		}
	}
	if up {
		for i := range v.procs {
			p := &v.procs[i]
			l := p.labels
			e.emit(scaphProcessPower, float64(p.power), l.pid, l.scaphExe, l.cmdline)
			e.emit(scaphProcessCPU, p.cpuPercent, l.pid, l.scaphExe, l.cmdline)
		}
	}
	facts := c.facts.Load()
	for i := range v.procs {
		p := &v.procs[i]
		mem := p.memory
		if !mem.Known && facts != nil {
			mem = facts.Memory[p.key]
		}
		if l := p.labels; mem.Known {
			e.emit(scaphProcessMemory, float64(mem.Resident), l.pid, l.scaphExe, l.cmdline)
			e.emit(scaphProcessMemoryVirtual, float64(mem.Virtual), l.pid, l.scaphExe, l.cmdline)
		}
	}
	c.collectHostFacts(e)
	e.emit(scaphSelfVersion, c.scaphV)
	e.emit(scaphSelfProcs, float64(s.Stats.Processes))
	e.emit(scaphSelfMemory, goRuntimeMemory())
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// scaphVersion writes a version as Scaphandre's scaph_self_version does:
// major "." minor patch (1.0.2 → 1.02). Anything but vX.Y.Z gives 0.
func scaphVersion(v string) float64 {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return 0
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return 0
		}
	}
	f, err := strconv.ParseFloat(parts[0]+"."+parts[1]+parts[2], 64)
	if err != nil {
		return 0
	}
	return f
}

// goRuntimeMemory is the memory the Go runtime holds from the system:
// everything it mapped minus what it released. It reads no file.
func goRuntimeMemory() float64 {
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	metrics.Read(samples)
	var total, released uint64
	if samples[0].Value.Kind() == metrics.KindUint64 {
		total = samples[0].Value.Uint64()
	}
	if samples[1].Value.Kind() == metrics.KindUint64 {
		released = samples[1].Value.Uint64()
	}
	if released > total {
		return 0
	}
	return float64(total - released)
}
