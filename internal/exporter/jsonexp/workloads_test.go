package jsonexp

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/snapshot/snapshottest"
	"github.com/wattlens/wattlens/internal/units"
)

const (
	webID  = "3f1c2b6a9d8e7f60112233445566778899aabbccddeeff00112233445566778a"
	apiID  = "9a8b7c6d5e4f30211223344556677889900aabbccddeeff0011223344556677b"
	apiUID = "7d4f3c2a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
)

// containerFixture is fixture() with pid 100 in a Docker container "web"
// and pid 300 in a pod's container "api" whose names were not known when
// it was first seen, and the groups attribution would make of them
// (web has an exited process: its total is more than pid 100's).
func containerFixture() *snapshot.Snapshot {
	s := fixture()
	web := &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeDocker, ID: webID, Name: "web"}
	api := &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeContainerd, ID: apiID, PodUID: apiUID, QoS: container.QoSBurstable}
	svc := &container.Workload{Kind: container.KindService, Runtime: container.RuntimeSystemd, ID: "nginx.service"}
	byPID := map[int]any{100: web, 300: api}
	for i := range s.Processes {
		if w, ok := byPID[s.Processes[i].PID]; ok {
			m := *s.Processes[i].Meta
			m.Workload = w
			s.Processes[i].Meta = &m
		}
	}
	s.Groups = []snapshot.Group{
		{Kind: "container", ID: webID, Workload: web, Energy: snapshottest.Energy(110_000_001, 30_000_003), CPUDelta: 1500 * time.Millisecond, CPUTotal: 7 * time.Second, Processes: 1},
		{Kind: "container", ID: apiID, Workload: api, Energy: snapshottest.Energy(40_000_011, 5_000_005), CPUDelta: 250 * time.Millisecond, CPUTotal: time.Second, Processes: 1},
		{Kind: "pod", ID: apiUID, Workload: api, Energy: snapshottest.Energy(40_000_011, 5_000_005), CPUDelta: 250 * time.Millisecond, CPUTotal: time.Second, Processes: 1},
		{Kind: "service", ID: "nginx.service", Workload: svc, Energy: snapshottest.Energy(2_000_000, 0), Processes: 0},
	}
	return s
}

// kubelet is an Options.Names that knows the api container now.
func kubelet(id string) (name, pod, namespace string, ok bool) {
	if id == apiID {
		return "api", "api-7f9c4-x2x9k", "shop", true
	}
	return "", "", "", false
}

func TestGoldenContainers(t *testing.T) {
	got := encode(t, containerFixture(), Options{MaxConsumers: 3, Containers: true, Names: kubelet})
	path := filepath.Join("testdata", "containers.ndjson")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("line (-want +got):\n%s", diff)
	}
	checkConservation(t, got)
}

func TestContainerFields(t *testing.T) {
	type row struct{ Kind, ID, ContainerID, ContainerName, Runtime, Pod, PodUID, Namespace string }
	tests := []struct {
		name          string
		names         func(string) (string, string, string, bool)
		wantConsumers map[int]row
		wantWorkloads []row
	}{
		{
			name:  "names known now win",
			names: kubelet,
			wantConsumers: map[int]row{
				100: {Kind: "process", ContainerID: webID, ContainerName: "web", Runtime: "docker"},
				300: {Kind: "process", ContainerID: apiID, ContainerName: "api", Runtime: "containerd", Pod: "api-7f9c4-x2x9k", Namespace: "shop"},
				200: {Kind: "vm"},
			},
			wantWorkloads: []row{
				{Kind: "container", ID: webID, ContainerID: webID, ContainerName: "web", Runtime: "docker"},
				{Kind: "container", ID: apiID, ContainerID: apiID, ContainerName: "api", Runtime: "containerd", Pod: "api-7f9c4-x2x9k", PodUID: apiUID, Namespace: "shop"},
				{Kind: "pod", ID: apiUID, Pod: "api-7f9c4-x2x9k", PodUID: apiUID, Namespace: "shop"},
				{Kind: "service", ID: "nginx.service"},
			},
		},
		{
			name:  "without a source: names known at first sight, else the ID alone",
			names: nil,
			wantConsumers: map[int]row{
				100: {Kind: "process", ContainerID: webID, ContainerName: "web", Runtime: "docker"},
				300: {Kind: "process", ContainerID: apiID, Runtime: "containerd"},
				200: {Kind: "vm"},
			},
			wantWorkloads: []row{
				{Kind: "container", ID: webID, ContainerID: webID, ContainerName: "web", Runtime: "docker"},
				{Kind: "container", ID: apiID, ContainerID: apiID, Runtime: "containerd", PodUID: apiUID},
				{Kind: "pod", ID: apiUID, PodUID: apiUID},
				{Kind: "service", ID: "nginx.service"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecord(containerFixture(), Options{Containers: true, Names: tt.names})
			got := map[int]row{}
			for _, c := range r.Consumers {
				if _, ok := tt.wantConsumers[c.PID]; ok {
					got[c.PID] = row{Kind: c.Kind, ContainerID: c.ContainerID, ContainerName: c.ContainerName, Runtime: c.Runtime, Pod: c.Pod, Namespace: c.Namespace}
				}
			}
			if diff := cmp.Diff(tt.wantConsumers, got); diff != "" {
				t.Errorf("consumers (-want +got):\n%s", diff)
			}
			var ws []row
			for _, w := range r.Workloads {
				ws = append(ws, row{w.Kind, w.ID, w.ContainerID, w.ContainerName, w.Runtime, w.Pod, w.PodUID, w.Namespace})
			}
			if diff := cmp.Diff(tt.wantWorkloads, ws); diff != "" {
				t.Errorf("workloads (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWorkloadsOnlyWithContainers: without the option a line is as it
// was, even for processes that carry a workload; with it and no group the
// array is there, empty.
func TestWorkloadsOnlyWithContainers(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(encode(t, containerFixture(), Options{}), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["workloads"]; ok {
		t.Error("workloads present without Containers")
	}
	for _, c := range m["consumers"].([]any) {
		if _, ok := c.(map[string]any)["container_id"]; ok {
			t.Errorf("container_id present without Containers: %v", c)
		}
	}
	line := encode(t, fixture(), Options{Containers: true})
	if !bytes.Contains(line, []byte(`"workloads":[]`)) {
		t.Errorf("no empty workloads array with Containers and no group: %s", line)
	}
}

func TestWorkloadsWhenSensorDown(t *testing.T) {
	s := containerFixture()
	s.SensorUp, s.SensorError = false, "gone"
	r := NewRecord(s, Options{Containers: true})
	w := r.Workloads[0]
	if w.EnergyJoules != 110.000001 || w.IntervalEnergyJoules != 0 || w.PowerWatts != 0 || w.CPUSeconds != 0 {
		t.Errorf("sensor down: %+v, want the cumulative figure only", w)
	}
}

func TestHostileContainerNames(t *testing.T) {
	s := containerFixture()
	names := func(string) (string, string, string, bool) {
		return "bad\xff\x1b[31mname" + strings.Repeat("é", 300), "pod\n", "ns", true
	}
	line := encode(t, s, Options{Containers: true, Names: names})
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatal(err)
	}
	got := r.Workloads[0].ContainerName
	if len(got) > maxName || !strings.HasPrefix(got, "bad\uFFFD\x1b[31mname") {
		t.Errorf("name %q (%d bytes): want valid UTF-8 cut to %d bytes", got, len(got), maxName)
	}
	if bytes.Contains(line, []byte{0x1b}) || bytes.Contains(line, []byte("pod\n")) {
		t.Errorf("control characters raw in the line: %q", line)
	}
}

// TestContainerAccountsThroughAttribution runs real container workloads
// through attribution: a container's energy is the sum of its processes,
// those that exited included, so it never goes down, and the consumers
// still add up to the host.
func TestContainerAccountsThroughAttribution(t *testing.T) {
	res := container.NewResolver(0)
	web := res.Resolve("/system.slice/docker-" + webID + ".scope")
	attr := attribution.New(attribution.Options{IdlePower: units.Watt, IdleOrigin: attribution.IdleFromFlag})
	var buf bytes.Buffer
	x := New(&buf, Options{Containers: true})
	meta := func(w *container.Workload) *procinfo.Meta { return &procinfo.Meta{Comm: "c", Workload: w} }
	p1 := procinfo.Proc{Key: procinfo.Key{PID: 1, StartTime: 1}, Meta: meta(web)}
	p2 := procinfo.Proc{Key: procinfo.Key{PID: 2, StartTime: 1}, Meta: meta(web)}
	p3 := procinfo.Proc{Key: procinfo.Key{PID: 3, StartTime: 1}, Meta: &procinfo.Meta{Comm: "plain"}}
	ticks := [][]procinfo.Proc{{p1, p2, p3}, {p1, p2, p3}, {p1, p2, p3}, {p1, p3}, {p1, p3}}
	for i, procs := range ticks {
		for j := range procs {
			procs[j].CPU = uint64(10 * i * procs[j].PID)
		}
		snap := attr.Observe(attribution.Sample{
			Time:  t0.Add(time.Duration(i) * time.Second),
			Zones: []power.Zone{{ID: "p0", Kind: power.KindPackage, Energy: units.Energy(i) * 5 * units.Joule, Source: power.Measured}},
			Procs: procs,
		})
		if snap != nil {
			if err := x.Export(context.Background(), snap); err != nil {
				t.Fatal(err)
			}
		}
	}
	var prev uint64
	for i, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte{'\n'}) {
		r := checkConservation(t, l)
		if len(r.Workloads) != 1 || r.Workloads[0].ContainerID != webID {
			t.Fatalf("line %d: workloads %+v, want web", i, r.Workloads)
		}
		w := r.Workloads[0]
		total := microjoules(t, w.EnergyJoules)
		var live, interval uint64
		for _, c := range r.Consumers {
			if c.ContainerID == webID {
				live += microjoules(t, c.EnergyJoules)
				interval += microjoules(t, c.IntervalEnergyJoules)
			}
		}
		if total < prev {
			t.Errorf("line %d: web went down from %d to %d µJ", i, prev, total)
		}
		if got := microjoules(t, w.IntervalEnergyJoules); got != interval {
			t.Errorf("line %d: web %d µJ this interval, its processes %d µJ", i, got, interval)
		}
		wantProcs := 2
		if i >= 2 {
			wantProcs = 1
			if total <= live {
				t.Errorf("line %d: web %d µJ, its live process %d µJ: pid 2's energy is gone", i, total, live)
			}
		} else if total != live {
			t.Errorf("line %d: web %d µJ, its processes %d µJ", i, total, live)
		}
		if w.Processes != wantProcs {
			t.Errorf("line %d: %d processes, want %d", i, w.Processes, wantProcs)
		}
		prev = total
	}
}
