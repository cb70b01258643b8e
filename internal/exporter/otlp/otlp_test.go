package otlp

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// TestMetricSet: names, units, kinds and temporality of every metric of a
// snapshot, the resource, and the attributes of each series.
func TestMetricSet(t *testing.T) {
	res := resource.NewSchemaless(attribute.String("host.name", "node-1"))
	x := mustNew(t, Options{TopN: 2, Resource: res})
	rm := collect(t, x, fixedSnapshot())

	if got, ok := rm.Resource.Set().Value("host.name"); !ok || got.AsString() != "node-1" {
		t.Errorf("resource host.name = %v, %v", got, ok)
	}
	if len(rm.ScopeMetrics) != 1 || rm.ScopeMetrics[0].Scope.Name != ScopeName {
		t.Fatalf("scopes: %+v", rm.ScopeMetrics)
	}
	ms := metricsByName(rm)
	type shape struct{ Unit, Kind string }
	want := map[string]shape{}
	for _, d := range Metrics() {
		if strings.HasPrefix(d.Name, "wattlens.container") || strings.HasPrefix(d.Name, "wattlens.pod") || strings.HasPrefix(d.Name, "wattlens.service") {
			continue // none without groups
		}
		want[d.Name] = shape{d.Unit, d.Kind}
	}
	got := map[string]shape{}
	for name, m := range ms {
		s := shape{Unit: m.Unit}
		switch d := m.Data.(type) {
		case metricdata.Sum[float64]:
			if d.Temporality != metricdata.CumulativeTemporality || !d.IsMonotonic {
				t.Errorf("%s: temporality %v, monotonic %v", name, d.Temporality, d.IsMonotonic)
			}
			s.Kind = kindSum
		case metricdata.Gauge[float64]:
			s.Kind = kindGauge
		default:
			t.Errorf("%s: %T", name, m.Data)
		}
		got[name] = s
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metric set (-want +got):\n%s", diff)
	}

	byConsumer := func(name string) map[string]float64 {
		out := map[string]float64{}
		for _, p := range points(t, ms[name]) {
			k := p.attrs["wattlens.consumer"]
			if pid := p.attrs["process.pid"]; pid != "" {
				k += ":" + pid
			}
			out[k] = p.value
		}
		return out
	}
	// Top 2: 30 and 20 J; other = 10 + 5 + exited 7.
	wantEnergy := map[string]float64{"process:100": 30, "process:200": 20, "other": 22, "unattributed": 3, "idle": 25}
	if diff := cmp.Diff(wantEnergy, byConsumer(MetricConsumerEnergy)); diff != "" {
		t.Errorf("consumer energy (-want +got):\n%s", diff)
	}
	wantPower := map[string]float64{"process:100": 4, "process:200": 2, "other": 1, "unattributed": 0.5, "idle": 2.5}
	if diff := cmp.Diff(wantPower, byConsumer(MetricConsumerPower)); diff != "" {
		t.Errorf("consumer power (-want +got):\n%s", diff)
	}

	// Each consumer's series are split by wattlens.resource: the
	// fixture's 30 J process is 21 J cpu, 3 J each memory, storage and
	// network (snapshottest.Split).
	split := map[string]float64{}
	for _, p := range resourcePoints(t, ms[MetricConsumerEnergy]) {
		if p.attrs["process.pid"] == "100" {
			split[p.attrs["wattlens.resource"]] = p.value
		}
	}
	if diff := cmp.Diff(map[string]float64{"cpu": 21, "memory": 3, "storage": 3, "network": 3}, split); diff != "" {
		t.Errorf("process 100 by resource (-want +got):\n%s", diff)
	}

	var proc map[string]string
	for _, p := range points(t, ms[MetricConsumerEnergy]) {
		if p.attrs["process.pid"] == "100" {
			proc = p.attrs
		}
	}
	wantProc := map[string]string{"wattlens.consumer": "process", "process.pid": "100", "process.executable.path": "/usr/bin/stress-ng",
		"process.executable.name": "stress-ng", "process.command_line": "stress-ng --cpu 2"}
	if diff := cmp.Diff(wantProc, proc); diff != "" {
		t.Errorf("process attributes (-want +got):\n%s", diff)
	}

	host := points(t, ms[MetricHostEnergy])
	if diff := cmp.Diff([]point{{map[string]string{"hw.id": "host", "wattlens.source": "measured"}, 100}}, host, cmp.AllowUnexported(point{})); diff != "" {
		t.Errorf("host energy (-want +got):\n%s", diff)
	}
	zones := map[string]point{}
	for _, p := range points(t, ms[MetricZoneEnergy]) {
		zones[p.attrs["hw.id"]] = p
	}
	wantCore := point{map[string]string{"hw.id": "intel-rapl:0:0", "hw.type": "cpu", "hw.name": "core", "hw.parent": "intel-rapl:0",
		"wattlens.zone": "core", "wattlens.socket": "0", "wattlens.source": "measured"}, 60}
	if diff := cmp.Diff(wantCore, zones["intel-rapl:0:0"], cmp.AllowUnexported(point{})); diff != "" {
		t.Errorf("core zone (-want +got):\n%s", diff)
	}
	if got := zones["intel-rapl:0:1"].attrs["hw.type"]; got != "memory" {
		t.Errorf("dram hw.type = %q", got)
	}
	if _, ok := zones["intel-rapl:0"].attrs["hw.parent"]; ok {
		t.Errorf("a package has no parent: %v", zones["intel-rapl:0"].attrs)
	}
}

// TestConsumersAddUp: over a long run of the real attribution with
// processes coming and going, the consumer series add up to the host at
// every tick, exactly in microjoules, and every energy series is
// monotonic while it lasts.
func TestConsumersAddUp(t *testing.T) {
	for _, top := range []int{0, 1, 3, 10} {
		w := newWorld(uint64(top)+1, 12)
		b := newLedger(top, 256, false)
		last := map[attribute.Distinct]units.Energy{}
		var lastOther, unattributed units.Energy
		for tick := range 300 {
			s := w.Step()
			if s == nil || s.Seq == 0 {
				continue
			}
			procs, other, otherRes := b.processes(s)
			if top > 0 && len(procs) > top {
				t.Fatalf("top %d: %d series", top, len(procs))
			}
			// Per resource, the series add up to the host's too.
			for r := range otherRes.Total {
				got := otherRes.Total[r] + s.Resources.Unattributed.Total[r] + s.Resources.Idle.Total[r]
				for _, p := range procs {
					got += p.res[r]
				}
				if got != s.Resources.Host.Total[r] {
					t.Fatalf("top %d tick %d resource %d: series add up to %d µJ, host %d µJ", top, tick, r, got, s.Resources.Host.Total[r])
				}
			}
			sum := other.Total + s.Unattributed.Total + s.Idle.Total
			var power units.Power
			seen := map[attribute.Distinct]units.Energy{}
			for _, p := range procs {
				sum += p.energy
				power += p.power
				seen[p.attrs.Equivalent()] = p.energy
				if prev, ok := last[p.attrs.Equivalent()]; ok && p.energy < prev {
					t.Fatalf("top %d tick %d: process series went down %v → %v", top, tick, prev, p.energy)
				}
			}
			last = seen
			if sum != s.Host.Total {
				t.Fatalf("top %d tick %d: Σ consumers %v ≠ host %v", top, tick, sum, s.Host.Total)
			}
			if other.Total < lastOther {
				t.Fatalf("top %d tick %d: other went down %v → %v", top, tick, lastOther, other.Total)
			}
			lastOther = other.Total
			unattributed = s.Unattributed.Total
			power += other.Power + s.Unattributed.Power + s.Idle.Power
			if d := math.Abs(power.Watts() - s.Host.Power.Watts()); d > 1e-4 {
				t.Fatalf("top %d tick %d: Σ power %v ≠ host %v", top, tick, power, s.Host.Power)
			}
		}
		if unattributed == 0 {
			t.Errorf("top %d: no unattributed energy; the test does not exercise it", top)
		}
		if top > 0 && lastOther == 0 {
			t.Errorf("top %d: other never held anything; the test does not exercise it", top)
		}
	}
}

// TestSensorDown: while the sensor is down the sums are held and the
// power gauges left out; wattlens.sensor.up says 0. Before the first
// interval only wattlens.sensor.up is sent.
func TestSensorDown(t *testing.T) {
	x := mustNew(t, Options{Sensor: "powercap_rapl"})
	first := collect(t, x, &snapshot.Snapshot{Seq: 0, SensorUp: true})
	if diff := cmp.Diff([]string{MetricSensorUp}, names(first)); diff != "" {
		t.Errorf("before the first interval (-want +got):\n%s", diff)
	}
	s := fixedSnapshot()
	s.SensorUp, s.SensorError = false, "read failed"
	rm := collect(t, x, s)
	for _, n := range names(rm) {
		if strings.HasSuffix(n, "power") {
			t.Errorf("power metric %s sent while the sensor is down", n)
		}
	}
	ms := metricsByName(rm)
	if p := points(t, ms[MetricSensorUp]); len(p) != 1 || p[0].value != 0 || p[0].attrs["wattlens.sensor"] != "powercap_rapl" {
		t.Errorf("sensor up: %+v", p)
	}
	if p := points(t, ms[MetricHostEnergy]); len(p) != 1 || p[0].value != 100 {
		t.Errorf("host energy held: %+v", p)
	}
}

// TestSeriesEnd: a process that leaves the top N has no data point in the
// next collection (the SDK sends only what the callback observed).
func TestSeriesEnd(t *testing.T) {
	x := mustNew(t, Options{TopN: 1})
	s := fixedSnapshot()
	collect(t, x, s)
	s2 := fixedSnapshot()
	s2.Seq++
	s2.Processes[0], s2.Processes[1] = s2.Processes[1], s2.Processes[0]
	s2.Processes[0].Delta = 10 * units.Joule
	rm := collect(t, x, s2)
	var pids []string
	for _, p := range points(t, metricsByName(rm)[MetricConsumerEnergy]) {
		if pid := p.attrs["process.pid"]; pid != "" {
			pids = append(pids, pid)
		}
	}
	if diff := cmp.Diff([]string{"200"}, pids); diff != "" {
		t.Errorf("listed processes (-want +got):\n%s", diff)
	}
}

func names(rm metricdata.ResourceMetrics) []string {
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out = append(out, m.Name)
		}
	}
	slices.Sort(out)
	return out
}

// syncBuffer is a log sink safe for the sender's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCollectorDown: the client fails for a while; the sender retries with
// backoff, logs one warning and one recovery, and the first export that
// gets through carries the totals of the latest tick, so nothing measured
// during the outage is lost.
func TestCollectorDown(t *testing.T) {
	var logs syncBuffer
	var down sync.Mutex
	isDown := true
	client := newFakeClient(func(int) bool {
		down.Lock()
		defer down.Unlock()
		return isDown
	})
	x := mustNew(t, Options{Client: client, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Endpoint: "127.0.0.1:1", Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()

	w := newWorld(7, 6)
	var last *snapshot.Snapshot
	for range 20 {
		if s := w.Step(); s != nil {
			last = s
		}
		if err := x.Export(ctx, last); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	down.Lock()
	isDown = false
	down.Unlock()
	select {
	case <-client.sent:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing sent after the collector came back")
	}
	cancel()
	<-done

	got := client.received()
	p := points(t, metricsByName(got[0])[MetricHostEnergy])
	if len(p) != 1 || p[0].value != last.Host.Total.Joules() {
		t.Errorf("first export after the outage: host energy %+v, want the latest total %v J", p, last.Host.Total.Joules())
	}
	client.mu.Lock()
	attempts, shut := client.attempts, client.shutdown
	client.mu.Unlock()
	if attempts < 3 {
		t.Errorf("%d attempts: no retries", attempts)
	}
	if attempts > 200 {
		t.Errorf("%d attempts in about 200 ms: no backoff", attempts)
	}
	if !shut {
		t.Error("client not shut down when Run returned")
	}
	out := logs.String()
	if n := strings.Count(out, "otlp export failed"); n != 1 {
		t.Errorf("%d failure lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "otlp export recovered"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, out)
	}
}

// TestLastExportOnStop: when the agent stops, the collection not yet sent
// goes out before the client is shut down.
func TestLastExportOnStop(t *testing.T) {
	client := newFakeClient(nil)
	x := mustNew(t, Options{Client: client})
	if err := x.Export(context.Background(), fixedSnapshot()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x.Run(ctx)
	if got := len(client.received()); got != 1 {
		t.Errorf("%d exports on stop, want 1", got)
	}
}

// TestGroups: with Containers, containers, pods and services have series
// with the container and k8s attributes, and so do their processes.
func TestGroups(t *testing.T) {
	w := &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeContainerd, ID: strings.Repeat("ab", 32),
		PodUID: "0b1c-uid", Name: "web", Pod: "web-7d4", Namespace: "shop"}
	s := fixedSnapshot()
	s.Processes[0].Workload = w
	g := func(kind, id string, total units.Energy, wl any) snapshot.Group {
		return snapshot.Group{Kind: kind, ID: id, Workload: wl, Energy: snapshot.Energy{Total: total * units.Joule, Delta: units.Joule, Power: units.Watt / 2}}
	}
	s.Groups = []snapshot.Group{g("container", w.ID, 30, w), g("pod", w.PodUID, 30, w),
		g("service", "nginx.service", 10, &container.Workload{Kind: container.KindService, ID: "nginx.service"})}
	x := mustNew(t, Options{TopN: 1, Containers: true})
	ms := metricsByName(collect(t, x, s))

	ctr := map[string]string{"container.id": w.ID, "container.name": "web", "container.runtime.name": "containerd",
		"k8s.pod.uid": "0b1c-uid", "k8s.pod.name": "web-7d4", "k8s.namespace.name": "shop"}
	for _, tc := range []struct {
		metric string
		want   []point
	}{
		{MetricContainerEnergy, []point{{ctr, 30}}},
		{MetricPodEnergy, []point{{map[string]string{"k8s.pod.uid": "0b1c-uid", "k8s.pod.name": "web-7d4", "k8s.namespace.name": "shop"}, 30}}},
		{MetricServiceEnergy, []point{{map[string]string{"wattlens.service": "nginx.service"}, 10}}},
		{MetricServicePower, []point{{map[string]string{"wattlens.service": "nginx.service"}, 0.5}}},
	} {
		if diff := cmp.Diff(tc.want, points(t, ms[tc.metric]), cmp.AllowUnexported(point{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.metric, diff)
		}
	}
	for _, p := range points(t, ms[MetricConsumerEnergy]) {
		if p.attrs["process.pid"] == "100" && p.attrs["container.id"] != w.ID {
			t.Errorf("process in a container: %v", p.attrs)
		}
	}
	// Without Containers: no group metrics, no container attributes.
	ms = metricsByName(collect(t, mustNew(t, Options{TopN: 1}), s))
	if _, ok := ms[MetricContainerEnergy]; ok {
		t.Error("container metrics without Containers")
	}
	for _, p := range points(t, ms[MetricConsumerEnergy]) {
		if _, ok := p.attrs["container.id"]; ok {
			t.Errorf("container attributes without Containers: %v", p.attrs)
		}
	}
}

// TestPointTime: every data point is dated at the snapshot's time, the end
// of the interval it measured.
func TestPointTime(t *testing.T) {
	x := mustNew(t, Options{})
	s := fixedSnapshot()
	s.Time = time.Now().Add(-time.Minute).Truncate(time.Second)
	rm := collect(t, x, s)
	var n int
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[float64]:
				for _, dp := range d.DataPoints {
					n++
					if !dp.Time.Equal(s.Time) || dp.StartTime.After(dp.Time) {
						t.Errorf("%s: time %v, start %v; want time %v, start not after", m.Name, dp.Time, dp.StartTime, s.Time)
					}
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					n++
					if !dp.Time.Equal(s.Time) {
						t.Errorf("%s: time %v, want %v", m.Name, dp.Time, s.Time)
					}
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("%d data points", n)
	}
}
