package otlp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/wattlens/wattlens/internal/attribution/attributiontest"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/snapshot/snapshottest"
	"github.com/wattlens/wattlens/internal/units"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fixedSnapshot is a hand-made snapshot whose figures add up:
// host 100 J = procs 30 + 20 + 10 + 5 + exited 7 + unattributed 3 + idle 25.
func fixedSnapshot() *snapshot.Snapshot {
	e := snapshottest.Joules
	proc := func(pid int, exe, comm, cmdline string, total, delta units.Energy) snapshot.Process {
		return snapshot.Process{
			Key:    procinfo.Key{PID: pid, StartTime: uint64(pid) * 10},
			Meta:   &procinfo.Meta{Exe: exe, Comm: comm, Cmdline: cmdline},
			Energy: e(total, delta),
		}
	}
	return &snapshot.Snapshot{
		Seq: 7, Time: t0, Interval: 2 * time.Second, Sensor: "powercap_rapl", SensorUp: true,
		Host: e(100, 20), Idle: e(25, 5), IdlePower: 2500 * units.Milliwatt, IdleOrigin: "flag", IdlePolicy: "separate",
		Exited:       7 * units.Joule,
		Unattributed: e(3, 1),
		CPUs:         4,
		Zones: []snapshot.Zone{
			{ID: "intel-rapl:0", Kind: power.KindPackage, Name: "package-0", Socket: 0, Energy: e(90, 18)},
			{ID: "intel-rapl:0:0", Kind: power.KindCore, Name: "core", Socket: 0, Energy: e(60, 12)},
			{ID: "intel-rapl:0:1", Kind: power.KindDRAM, Name: "dram", Socket: 0, Energy: e(10, 2)},
		},
		Processes: []snapshot.Process{
			proc(100, "/usr/bin/stress-ng", "stress-ng", "stress-ng --cpu 2", 30, 8),
			proc(200, "/usr/bin/qemu-system-x86_64", "qemu-system-x86", "qemu-system-x86_64 -name guest=web", 20, 4),
			proc(300, "/usr/bin/python3", "python3", "python3 serve.py", 10, 1),
			proc(400, "", "kworker/0:1", "", 5, 1),
		},
	}
}

// newWorld is the attributiontest World of these tests: 1.2 CPUs busy,
// and every tenth step no process runs (all unattributed).
func newWorld(seed uint64, n int) *attributiontest.World {
	return attributiontest.NewWorld(seed, n, attributiontest.Options{Start: t0, BusyPerSecond: 120, QuietEvery: 10})
}

// fakeClient is an sdkmetric.Exporter that keeps what it is given and
// fails while fail says so.
type fakeClient struct {
	mu       sync.Mutex
	got      []metricdata.ResourceMetrics
	attempts int
	fail     func(attempt int) bool
	shutdown bool
	sent     chan struct{}
}

func newFakeClient(fail func(int) bool) *fakeClient {
	return &fakeClient{fail: fail, sent: make(chan struct{}, 1000)}
}

func (f *fakeClient) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (f *fakeClient) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (f *fakeClient) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.fail != nil && f.fail(f.attempts) {
		return errors.New("connection refused")
	}
	f.got = append(f.got, *rm)
	f.sent <- struct{}{}
	return nil
}

func (f *fakeClient) ForceFlush(context.Context) error { return nil }

func (f *fakeClient) Shutdown(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shutdown = true
	return nil
}

func (f *fakeClient) received() []metricdata.ResourceMetrics {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]metricdata.ResourceMetrics(nil), f.got...)
}

// collect records s into x and returns what the collection holds, without
// the sender.
func collect(t *testing.T, x *Exporter, s *snapshot.Snapshot) metricdata.ResourceMetrics {
	t.Helper()
	snapshottest.SplitResources(s) // as attribution's snapshots are
	if err := x.Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	rm := x.take()
	if rm == nil {
		t.Fatal("no collection after Export")
	}
	return *rm
}

// metricsByName indexes the collection's metrics.
func metricsByName(rm metricdata.ResourceMetrics) map[string]metricdata.Metrics {
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// point is one data point, its attributes as a map.
type point struct {
	attrs map[string]string
	value float64
}

// points returns m's data points summed over wattlens.resource (the
// attribute left out), in the order each first appears; resourcePoints
// keeps them apart.
func points(t *testing.T, m metricdata.Metrics) []point {
	t.Helper()
	var out []point
	idx := map[string]int{}
	for _, p := range resourcePoints(t, m) {
		delete(p.attrs, "wattlens.resource")
		key := fmt.Sprint(p.attrs)
		if i, ok := idx[key]; ok {
			out[i].value = math.Round((out[i].value+p.value)*1e6) / 1e6
			continue
		}
		idx[key] = len(out)
		out = append(out, p)
	}
	return out
}

func resourcePoints(t *testing.T, m metricdata.Metrics) []point {
	t.Helper()
	conv := func(dps []metricdata.DataPoint[float64]) []point {
		var out []point
		for _, dp := range dps {
			a := map[string]string{}
			for _, kv := range dp.Attributes.ToSlice() {
				a[string(kv.Key)] = kv.Value.String()
			}
			out = append(out, point{a, dp.Value})
		}
		return out
	}
	switch d := m.Data.(type) {
	case metricdata.Sum[float64]:
		return conv(d.DataPoints)
	case metricdata.Gauge[float64]:
		return conv(d.DataPoints)
	}
	t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
	return nil
}

func mustNew(t *testing.T, o Options) *Exporter {
	t.Helper()
	if o.Client == nil {
		o.Client = newFakeClient(nil)
	}
	x, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return x
}
