package otlp

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	pw "github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Metric names, units and descriptions. hw.host.* and hw.* are the
// OpenTelemetry semantic conventions' hardware metrics (semconv v1.43);
// the split between consumers has no convention and is wattlens's own.
// Energy is a monotonic cumulative sum in joules, power a gauge in watts.
const (
	MetricHostEnergy     = "hw.host.energy"
	MetricHostPower      = "hw.host.power"
	MetricZoneEnergy     = "hw.energy"
	MetricZonePower      = "hw.power"
	MetricConsumerEnergy = "wattlens.consumer.energy"
	MetricConsumerPower  = "wattlens.consumer.power"
	MetricIdlePower      = "wattlens.host.idle_power"
	MetricSensorUp       = "wattlens.sensor.up"

	MetricContainerEnergy = "wattlens.container.energy"
	MetricContainerPower  = "wattlens.container.power"
	MetricPodEnergy       = "wattlens.pod.energy"
	MetricPodPower        = "wattlens.pod.power"
	MetricServiceEnergy   = "wattlens.service.energy"
	MetricServicePower    = "wattlens.service.power"
)

// Metric is one metric as the documentation lists it.
type Metric struct {
	Name, Kind, Unit, Help, Attributes string
}

// Metrics lists every metric the exporter sends, in order: the table the
// instruments are made from and docs/exporters.md documents.
func Metrics() []Metric {
	return []Metric{
		{MetricHostEnergy, kindSum, "J", "Energy the host drew since the agent started: psys where present, else packages + DRAM (+ GPUs).", "hw.id=host, wattlens.source"},
		{MetricHostPower, kindGauge, "W", "Host power over the last step.", "hw.id=host, wattlens.source"},
		{MetricZoneEnergy, kindSum, "J", "Energy of one counter (RAPL zone, GPU) since the agent started. Zones nest: a core zone is part of its package.", "hw.id, hw.type, hw.name, hw.parent, wattlens.zone, wattlens.socket, wattlens.source"},
		{MetricZonePower, kindGauge, "W", "Power of one counter over the last step.", "as hw.energy"},
		{MetricConsumerEnergy, kindSum, "J", "The host's energy split between consumers (wattlens.consumer): process (the top N, each a series with its process.* attributes, and with --containers its container.* and k8s.* ones), other (the rest of the processes, those exited included), unattributed and idle. The series add up to hw.host.energy. Each consumer has one series per resource (wattlens.resource, in the manner of hw.type: cpu, memory, storage, network, gpu, platform) the host has drawn energy for; they add up to the consumer's.", "wattlens.consumer, wattlens.resource, process.pid, process.executable.path, process.executable.name, process.command_line, container.id, container.name, container.runtime.name, k8s.pod.uid, k8s.pod.name, k8s.namespace.name"},
		{MetricConsumerPower, kindGauge, "W", "The host's power split the same way, over the last step.", "as wattlens.consumer.energy"},
		{MetricIdlePower, kindGauge, "W", "Idle baseline in use.", "wattlens.idle.origin"},
		{MetricSensorUp, kindGauge, "1", "1 when the last read of the sensor succeeded, else 0 (counters are then held, power left out).", "wattlens.sensor"},
		{MetricContainerEnergy, kindSum, "J", "Energy of a container's processes since it was first seen (--containers), one series per resource.", "wattlens.resource, container.id, container.name, container.runtime.name, k8s.pod.uid, k8s.pod.name, k8s.namespace.name"},
		{MetricContainerPower, kindGauge, "W", "Power of a container over the last step (--containers).", "as wattlens.container.energy"},
		{MetricPodEnergy, kindSum, "J", "Energy of a pod's containers since it was first seen (--containers), one series per resource.", "wattlens.resource, k8s.pod.uid, k8s.pod.name, k8s.namespace.name"},
		{MetricPodPower, kindGauge, "W", "Power of a pod over the last step (--containers).", "as wattlens.pod.energy"},
		{MetricServiceEnergy, kindSum, "J", "Energy of a systemd service's processes since it was first seen (--containers), one series per resource.", "wattlens.resource, wattlens.service"},
		{MetricServicePower, kindGauge, "W", "Power of a systemd service over the last step (--containers).", "wattlens.resource, wattlens.service"},
	}
}

const (
	kindSum   = "sum (monotonic, cumulative)"
	kindGauge = "gauge"
)

// instruments are the observable instruments, one per Metrics() row.
type instruments struct {
	counters map[string]metric.Float64ObservableCounter
	gauges   map[string]metric.Float64ObservableGauge
	all      []metric.Observable
}

func newInstruments(m metric.Meter) (*instruments, error) {
	in := &instruments{counters: map[string]metric.Float64ObservableCounter{}, gauges: map[string]metric.Float64ObservableGauge{}}
	for _, d := range Metrics() {
		if d.Kind == kindSum {
			c, err := m.Float64ObservableCounter(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Help))
			if err != nil {
				return nil, fmt.Errorf("instrument %s: %w", d.Name, err)
			}
			in.counters[d.Name] = c
			in.all = append(in.all, c)
			continue
		}
		g, err := m.Float64ObservableGauge(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Help))
		if err != nil {
			return nil, fmt.Errorf("instrument %s: %w", d.Name, err)
		}
		in.gauges[d.Name] = g
		in.all = append(in.all, g)
	}
	return in, nil
}

// view is what one collection observes: built from a snapshot by Export.
type view struct {
	snap     *snapshot.Snapshot
	measured bool
	sensor   string
	procs    []procSeries
	other    snapshot.Energy
	otherRes snapshot.Resources
	// resources are the indices of the resources the host has drawn
	// energy for since start: the values of wattlens.resource.
	resources []int
	zones     []attribute.Set
	groups    []groupSeries
}

type groupSeries struct {
	kind  string
	attrs attribute.Set
	e     snapshot.Energy
	res   snapshot.Resources
}

var (
	hostID           = keyHwID.String("host")
	consumerOther    = attribute.NewSet(keyConsumer.String(ConsumerOther))
	consumerUnattrib = attribute.NewSet(keyConsumer.String(ConsumerUnattributed))
	consumerIdle     = attribute.NewSet(keyConsumer.String(ConsumerIdle))
)

func joules(e units.Energy) float64 { return e.Joules() }
func watts(p units.Power) float64   { return p.Watts() }

// observe reports v's figures. While the sensor is down the sums are held
// and the power gauges left out; before the first interval only
// wattlens.sensor.up is sent.
func (in *instruments) observe(o metric.Observer, v *view) {
	if v == nil {
		return
	}
	s := v.snap
	o.ObserveFloat64(in.gauges[MetricSensorUp], boolValue(s.SensorUp), metric.WithAttributes(keySensor.String(v.sensor)))
	if !v.measured {
		return
	}
	up := s.SensorUp
	sum := func(name string, e units.Energy, set attribute.Set) {
		o.ObserveFloat64(in.counters[name], joules(e), metric.WithAttributeSet(set))
	}
	gauge := func(name string, p units.Power, set attribute.Set) {
		if up {
			o.ObserveFloat64(in.gauges[name], watts(p), metric.WithAttributeSet(set))
		}
	}

	host := attribute.NewSet(hostID, keySource.String(sourceValue(s.Host.Source)))
	sum(MetricHostEnergy, s.Host.Total, host)
	gauge(MetricHostPower, s.Host.Power, host)
	gauge(MetricIdlePower, s.IdlePower, attribute.NewSet(keyOrigin.String(originValue(s.IdleOrigin))))

	for i := range s.Zones {
		sum(MetricZoneEnergy, s.Zones[i].Total, v.zones[i])
		gauge(MetricZonePower, s.Zones[i].Power, v.zones[i])
	}

	// Consumers and groups: one series per resource (wattlens.resource).
	split := func(energy, power string, total, delta snapshot.ResourceEnergy, set attribute.Set) {
		for _, r := range v.resources {
			rs := withResource(set, string(pw.Resources[r]))
			sum(energy, total[r], rs)
			if s.Interval > 0 {
				gauge(power, units.PowerOf(delta[r], s.Interval), rs)
			}
		}
	}
	for _, p := range v.procs {
		split(MetricConsumerEnergy, MetricConsumerPower, p.res, p.resDelta, *p.attrs)
	}
	hr := s.Resources
	split(MetricConsumerEnergy, MetricConsumerPower, v.otherRes.Total, v.otherRes.Delta, consumerOther)
	split(MetricConsumerEnergy, MetricConsumerPower, hr.Unattributed.Total, hr.Unattributed.Delta, consumerUnattrib)
	split(MetricConsumerEnergy, MetricConsumerPower, hr.Idle.Total, hr.Idle.Delta, consumerIdle)

	for _, g := range v.groups {
		energy, power := groupMetrics(g.kind)
		split(energy, power, g.res.Total, g.res.Delta, g.attrs)
	}
}

func groupMetrics(kind string) (energy, power string) {
	switch kind {
	case "container":
		return MetricContainerEnergy, MetricContainerPower
	case "pod":
		return MetricPodEnergy, MetricPodPower
	}
	return MetricServiceEnergy, MetricServicePower
}

func originValue(o string) string {
	if o == "" {
		return "learning"
	}
	return o
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// register makes in observe the view that cur returns at each collection.
func (in *instruments) register(m metric.Meter, cur func() *view) (metric.Registration, error) {
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		in.observe(o, cur())
		return nil
	}, in.all...)
}
