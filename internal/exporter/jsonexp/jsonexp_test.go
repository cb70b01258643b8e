package jsonexp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func encode(t *testing.T, s *snapshot.Snapshot, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, s, opts); err != nil {
		t.Fatal(err)
	}
	line := buf.Bytes()
	if bytes.Count(line, []byte{'\n'}) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("not one line: %q", line)
	}
	return line
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		snap func() *snapshot.Snapshot
	}{
		{"top3", Options{MaxConsumers: 3}, fixture},
		{"regex", Options{MaxConsumers: 10, Filter: exporter.NewFilter(regexp.MustCompile(`qemu|nginx`))}, fixture},
		{"sensor_down", Options{MaxConsumers: 2}, func() *snapshot.Snapshot {
			s := fixture()
			s.SensorUp, s.SensorError = false, "powercap: zone intel-rapl:0: open energy_uj: no such file or directory"
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encode(t, tt.snap(), tt.opts)
			path := filepath.Join("testdata", tt.name+".ndjson")
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
		})
	}
}

// TestSchemaFields checks by name the fields docs/json.md promises, on the
// generic decoding of a line, so that a renamed struct tag fails here.
func TestSchemaFields(t *testing.T) {
	s := fixture()
	s.Sensor, s.Method, s.Host.Source = "estimate", "linear model, 65 W TDP", power.Estimated
	var m map[string]any
	if err := json.Unmarshal(encode(t, s, Options{MaxConsumers: 2}), &m); err != nil {
		t.Fatal(err)
	}
	has := func(where string, obj map[string]any, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if _, ok := obj[k]; !ok {
				t.Errorf("%s: no %q in %v", where, k, obj)
			}
		}
	}
	has("top", m, "timestamp", "seq", "interval_seconds", "sensor", "sensor_up", "method",
		"host", "idle", "zones", "consumers", "attribution", "utilisation", "cpus", "processes", "skipped", "wraps", "resets")
	has("attribution", m["attribution"].(map[string]any), "busy_cpu_seconds", "process_cpu_seconds", "coverage")
	if _, ok := m["sensor_error"]; ok {
		t.Error("sensor_error present while the sensor is up")
	}
	has("host", m["host"].(map[string]any), "energy_joules", "interval_energy_joules", "power_watts",
		"idle_power_watts", "idle_origin", "source", "resources")
	has("host resources", m["host"].(map[string]any)["resources"].(map[string]any), "cpu", "memory", "storage", "network", "gpu", "platform")
	has("idle", m["idle"].(map[string]any), "energy_joules", "interval_energy_joules", "power_watts", "policy")
	zones := m["zones"].([]any)
	if len(zones) != 3 {
		t.Fatalf("zones: %v", zones)
	}
	has("zone", zones[0].(map[string]any), "zone", "name", "id", "socket", "energy_joules",
		"interval_energy_joules", "power_watts", "source")
	cons := m["consumers"].([]any)
	if len(cons) != 4 {
		t.Fatalf("consumers: %v", cons)
	}
	procFields := []string{"kind", "pid", "start_time", "exe", "comm", "cmdline", "energy_joules",
		"interval_energy_joules", "power_watts", "cpu_seconds", "cpu_seconds_total", "resources"}
	has("process", cons[0].(map[string]any), procFields...)
	has("vm", cons[1].(map[string]any), append(procFields, "vm")...)
	has("unattributed", cons[2].(map[string]any), "kind", "energy_joules", "interval_energy_joules", "power_watts")
	has("other", cons[3].(map[string]any), "kind", "count", "energy_joules", "interval_energy_joules",
		"power_watts", "cpu_seconds", "cpu_seconds_total")
	for i, want := range []string{"process", "vm", "unattributed", "other"} {
		if got := cons[i].(map[string]any)["kind"]; got != want {
			t.Errorf("consumers[%d].kind = %v, want %s", i, got, want)
		}
	}
	if ts := m["timestamp"].(string); ts != "2026-11-25T12:00:02.345678Z" {
		t.Errorf("timestamp = %s", ts)
	}
	if src := m["host"].(map[string]any)["source"]; src != "estimated" {
		t.Errorf("host.source = %v", src)
	}
}

func TestConservation(t *testing.T) {
	filters := map[string]func() *exporter.Filter{
		"no filter":          func() *exporter.Filter { return nil },
		"regex some":         func() *exporter.Filter { return exporter.NewFilter(regexp.MustCompile(`stress|sleep`)) },
		"regex none":         func() *exporter.Filter { return exporter.NewFilter(regexp.MustCompile(`^nothing$`)) },
		"regex on cmdline":   func() *exporter.Filter { return exporter.NewFilter(regexp.MustCompile(`guest=web01`)) },
		"regex matching all": func() *exporter.Filter { return exporter.NewFilter(regexp.MustCompile(``)) },
	}
	for _, n := range []int{0, 1, 3, 5, 100} {
		for fname, f := range filters {
			t.Run(fname+"/n="+strconv.Itoa(n), func(t *testing.T) {
				opts := Options{MaxConsumers: n, Filter: f()}
				r := checkConservation(t, encode(t, fixture(), opts))
				listed := len(r.Consumers) - 2 // unattributed, other
				if n > 0 && listed > n {
					t.Errorf("%d processes listed, want at most %d", listed, n)
				}
				if f() == nil {
					want := 5
					if n > 0 {
						want = min(n, 5)
					}
					if listed != want {
						t.Errorf("%d processes listed, want %d", listed, want)
					}
					if got := *r.Consumers[listed+1].Count; got != 5-want {
						t.Errorf("other.count = %d, want %d", got, 5-want)
					}
				}
			})
		}
	}
}

func TestRegexListsOnlyMatches(t *testing.T) {
	f := exporter.NewFilter(regexp.MustCompile(`nginx|sleep`))
	r := NewRecord(fixture(), Options{MaxConsumers: 10, Filter: f})
	var pids []int
	for _, c := range r.Consumers {
		pids = append(pids, c.PID)
	}
	if diff := cmp.Diff([]int{300, 500, 0, 0}, pids); diff != "" { // then unattributed and other
		t.Errorf("pids (-want +got):\n%s", diff)
	}
	if r.Matched == nil || *r.Matched != 2 {
		t.Errorf("matched = %v, want 2", r.Matched)
	}
	if got := *r.Consumers[3].Count; got != 3 {
		t.Errorf("other.count = %d, want 3", got)
	}
}

// TestConservationThroughAttribution feeds random ticks (processes born,
// exiting, idle, PIDs reused) through the real attribution and checks
// every line, for several N and a regex.
func TestConservationThroughAttribution(t *testing.T) {
	for _, opts := range []Options{
		{MaxConsumers: 0}, {MaxConsumers: 1}, {MaxConsumers: 3},
		{MaxConsumers: 2, Filter: exporter.NewFilter(regexp.MustCompile(`odd`))},
	} {
		rng := rand.New(rand.NewPCG(3, 4))
		attr := attribution.New(attribution.Options{Sensor: "powercap_rapl", IdlePower: 7 * units.Watt, IdleOrigin: attribution.IdleFromFlag})
		x := New(&bytes.Buffer{}, opts)
		var buf bytes.Buffer
		x.w = &buf
		energy := uint64(0)
		cpu := map[int]uint64{}
		metas := map[int]*procinfo.Meta{}
		for tick := range 60 {
			energy += rng.Uint64N(200_000_000)
			for pid := range cpu {
				if rng.IntN(8) == 0 {
					delete(cpu, pid) // exits
				}
			}
			for range rng.IntN(4) {
				pid := 1 + rng.IntN(40) // reuse of PIDs
				if _, ok := cpu[pid]; !ok {
					cpu[pid] = 0
					kind := "even"
					if pid%2 == 1 {
						kind = "odd"
					}
					metas[pid] = &procinfo.Meta{Exe: "/bin/" + kind, Cmdline: kind + " " + strconv.Itoa(tick)}
				}
			}
			var procs []procinfo.Proc
			for pid := range cpu {
				if rng.IntN(3) > 0 {
					cpu[pid] += rng.Uint64N(100)
				}
				procs = append(procs, procinfo.Proc{Key: procinfo.Key{PID: pid, StartTime: uint64(tick)}, CPU: cpu[pid], Meta: metas[pid]})
			}
			slices.SortFunc(procs, func(a, b procinfo.Proc) int { return a.PID - b.PID })
			snap := attr.Observe(attribution.Sample{
				Time:  t0.Add(time.Duration(tick) * 2 * time.Second),
				Zones: []power.Zone{{ID: "p0", Kind: power.KindPackage, Energy: units.Energy(energy), Source: power.Measured}},
				Procs: procs,
			})
			if snap == nil {
				continue
			}
			if err := x.Export(context.Background(), snap); err != nil {
				t.Fatal(err)
			}
		}
		lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), []byte{'\n'})
		if len(lines) != 59 {
			t.Fatalf("%d lines, want 59", len(lines))
		}
		for _, l := range lines {
			checkConservation(t, l)
		}
	}
}

func TestSensorDown(t *testing.T) {
	s := fixture()
	s.SensorUp, s.SensorError = false, "boom"
	r := checkConservation(t, encode(t, s, Options{MaxConsumers: 2}))
	if r.SensorUp || r.SensorError != "boom" {
		t.Errorf("sensor_up %v, sensor_error %q", r.SensorUp, r.SensorError)
	}
	if r.Host.EnergyJoules != s.Host.Total.Joules() {
		t.Errorf("host energy %v, want the held total %v", r.Host.EnergyJoules, s.Host.Total.Joules())
	}
	if r.Host.PowerWatts != 0 || r.Host.IntervalEnergyJoules != 0 || r.IntervalSeconds != 0 {
		t.Errorf("interval figures while down: %+v, interval %v", r.Host, r.IntervalSeconds)
	}
	for _, c := range r.Consumers {
		if c.PowerWatts != 0 || c.IntervalEnergyJoules != 0 || c.CPUSeconds != 0 {
			t.Errorf("consumer with interval figures while down: %+v", c)
		}
	}

	// Down before the first good tick: an empty snapshot still encodes.
	empty := &snapshot.Snapshot{Sensor: "powercap_rapl", Time: t0, SensorError: "no zone"}
	r = checkConservation(t, encode(t, empty, Options{MaxConsumers: 10}))
	if len(r.Consumers) != 2 || r.Zones == nil { // unattributed and other
		t.Errorf("empty snapshot: consumers %+v, zones %v", r.Consumers, r.Zones)
	}
}

func TestRoundTrip(t *testing.T) {
	want := NewRecord(fixture(), Options{MaxConsumers: 3, Filter: exporter.NewFilter(regexp.MustCompile(`.`))})
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got Record
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if !got.Timestamp.Time().Equal(t0) {
		t.Errorf("timestamp %v, want %v", got.Timestamp.Time(), t0)
	}
}

func TestHostileNamesStayInsideTheirString(t *testing.T) {
	s := fixture()
	s.Processes[0].Meta = &procinfo.Meta{Exe: "/tmp/x\n{\"kind\":\"fake\"}", Comm: "\x1b[2J", Cmdline: "a\"b\\c\x00d <e> & \xff"}
	line := encode(t, s, Options{MaxConsumers: 1})
	r := checkConservation(t, line)
	if bytes.ContainsAny(line[:len(line)-1], "\n\x1b\x00") {
		t.Errorf("raw control characters in %q", line)
	}
	if got := r.Consumers[0].Exe; got != "/tmp/x {\"kind\":\"fake\"}" {
		t.Errorf("exe = %q", got)
	}
	if got := r.Consumers[0].Comm; got != "\uFFFD[2J" {
		t.Errorf("comm = %q, want ESC replaced by U+FFFD", got)
	}
	if !bytes.Contains(line, []byte("<e> &")) {
		t.Errorf("HTML-escaped: %s", line)
	}
}

// flakyWriter fails its writes while fail > 0, after writing part.
type flakyWriter struct {
	bytes.Buffer
	fail, part int
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	if w.fail > 0 {
		w.fail--
		n := min(w.part, len(p))
		w.Buffer.Write(p[:n])
		return n, syscall.ENOSPC
	}
	return w.Buffer.Write(p)
}

func TestWriteErrorThenRecovery(t *testing.T) {
	for _, part := range []int{0, 17} {
		t.Run("part="+strconv.Itoa(part), func(t *testing.T) {
			w := &flakyWriter{}
			x := New(w, Options{MaxConsumers: 2})
			ctx := context.Background()
			s := fixture()
			if err := x.Export(ctx, s); err != nil {
				t.Fatal(err)
			}
			w.fail, w.part = 2, part
			for range 2 {
				if err := x.Export(ctx, s); !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("Export on a full disk = %v, want ENOSPC", err)
				}
			}
			s.Seq++
			if err := x.Export(ctx, s); err != nil {
				t.Fatalf("Export after recovery: %v", err)
			}
			lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
			var whole []Record
			for _, l := range lines {
				var r Record
				if json.Unmarshal([]byte(l), &r) == nil {
					whole = append(whole, r)
				} else if part == 0 {
					t.Errorf("torn line %q though nothing was written", l)
				}
			}
			if len(whole) != 2 || whole[0].Seq != 7 || whole[1].Seq != 8 {
				t.Errorf("whole lines: %d (%q)", len(whole), lines)
			}
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, `{"timestamp"`) {
				t.Errorf("last line does not start a record: %q", last)
			}
		})
	}
}

func TestShortWriteIsAnError(t *testing.T) {
	if err := Encode(shortWriter{}, fixture(), Options{}); err == nil {
		t.Error("Encode to a short writer: no error")
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestOpenFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "power.ndjson")
	if err := os.WriteFile(path, []byte("earlier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		f, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := New(f, Options{MaxConsumers: 1}).Export(context.Background(), fixture()); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[0] != "earlier" {
		t.Fatalf("file: %q", b)
	}
	for _, l := range lines[1:] {
		checkConservation(t, []byte(l))
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "no", "such", "dir")); err == nil {
		t.Error("OpenFile in a missing directory: no error")
	}
}
