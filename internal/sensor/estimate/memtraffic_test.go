package estimate

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/perfrapl"
)

var _ sensor.Closer = (*Sensor)(nil)

// fakeCounter returns its script's values one per Read; an error in the
// script is returned instead (a CPU gone offline).
type fakeCounter struct {
	script []any // uint64 or error
	reads  int
	closed bool
}

func (c *fakeCounter) Read() (uint64, error) {
	if len(c.script) == 0 {
		return 0, errors.New("script empty")
	}
	v := c.script[min(c.reads, len(c.script)-1)]
	c.reads++
	if err, ok := v.(error); ok {
		return 0, err
	}
	return v.(uint64), nil
}

func (c *fakeCounter) Close() error { c.closed = true; return nil }

// fakeOpener opens a group whose leader is in its counters map (keyed
// "type/config/cpu"; the counter stands for the group's summed read),
// with the siblings whose keys are in counters or in siblings, and
// refuses the rest with err.
type fakeOpener struct {
	counters map[string]*fakeCounter
	siblings map[string]bool
	err      error
}

func key(typ uint32, config uint64, cpu int) string {
	return fmt.Sprintf("%d/%#x/%d", typ, config, cpu)
}

func (o *fakeOpener) OpenGroup(evs []perfrapl.GroupEvent, cpu int) (perfrapl.Counter, []bool, error) {
	c, ok := o.counters[key(evs[0].Type, evs[0].Config, cpu)]
	if !ok {
		return nil, nil, o.err
	}
	opened := []bool{true}
	for _, ev := range evs[1:] {
		k := key(ev.Type, ev.Config, cpu)
		_, isCounter := o.counters[k]
		opened = append(opened, isCounter || o.siblings[k])
	}
	return c, opened, nil
}

var (
	llRead  = hwCacheLL(unix.PERF_COUNT_HW_CACHE_OP_READ)
	llWrite = hwCacheLL(unix.PERF_COUNT_HW_CACHE_OP_WRITE)
)

// writeOnline writes <sysfs>/devices/system/cpu/online.
func writeOnline(t *testing.T, sysfs, list string) {
	t.Helper()
	p := filepath.Join(sysfs, "devices/system/cpu/online")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(list+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTrafficFraction(t *testing.T) {
	const peak = 64e3 // bytes/s: 1000 misses/s is the peak
	offline := fmt.Errorf("read: %w", unix.ENODEV)
	cases := []struct {
		name   string
		cpus   [][]any // per CPU: counts at reads 0, 1, 2...
		dt     float64
		want   []float64 // fraction after reads 1, 2...
		wantOK []bool
		wantPk float64 // the peak at the end
	}{
		{"steady half of the peak on two CPUs", [][]any{{uint64(0), uint64(250), uint64(500)}, {uint64(10), uint64(260), uint64(510)}},
			1, []float64{0.5, 0.5}, []bool{true, true}, peak},
		{"a counter that goes backwards counts as no traffic and restarts from its value",
			[][]any{{uint64(1000), uint64(10), uint64(510)}, {uint64(0), uint64(0), uint64(0)}},
			1, []float64{0, 0.5}, []bool{true, true}, peak},
		{"a 64-bit wrap counts the misses across it",
			[][]any{{uint64(math.MaxUint64 - 99), uint64(400), uint64(400)}},
			1, []float64{0.5, 0}, []bool{true, true}, peak},
		{"a CPU that goes offline stops counting, the others go on",
			[][]any{{uint64(0), uint64(500), offline, uint64(900)}, {uint64(0), uint64(500), uint64(1000), uint64(1500)}},
			1, []float64{1, 0.5, 0.5}, []bool{true, true, true}, peak},
		{"every CPU offline: no figure (the sensor falls back)",
			[][]any{{uint64(0), offline}}, 1, []float64{0}, []bool{false}, peak},
		{"traffic above the assumed peak raises it and stays at 1",
			[][]any{{uint64(0), uint64(2000), uint64(3000)}}, 1, []float64{1, 0.5}, []bool{true, true}, 128e3},
		{"no time elapsed: 0", [][]any{{uint64(0), uint64(100)}}, 0, []float64{0}, []bool{true}, peak},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := &fakeOpener{counters: map[string]*fakeCounter{}, err: unix.ENOENT}
			var list []string
			for cpu, script := range tc.cpus {
				o.counters[key(unix.PERF_TYPE_HW_CACHE, llRead, cpu)] = &fakeCounter{script: script}
				list = append(list, fmt.Sprint(cpu))
			}
			sysfs := t.TempDir()
			writeOnline(t, sysfs, strings.Join(list, ","))
			tr, err := openTraffic(o, sysfs, peak)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := tr.read(); ok {
				t.Error("first read gave a figure; want none (it only starts the counts)")
			}
			var got []float64
			var gotOK []bool
			for range tc.want {
				b, ok := tr.read()
				f := 0.0
				if ok {
					f = tr.fraction(b, tc.dt)
				}
				got, gotOK = append(got, f), append(gotOK, ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("fractions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantOK, gotOK); diff != "" {
				t.Errorf("ok (-want +got):\n%s", diff)
			}
			if tr.peak != tc.wantPk {
				t.Errorf("peak = %g B/s, want %g", tr.peak, tc.wantPk)
			}
		})
	}
}

func TestOpenTrafficPicksEvents(t *testing.T) {
	cases := []struct {
		name       string
		open       []string // keys that open
		wantEvents []string
		wantGroups int // one per CPU where the group's leader opened
		wantErr    string
	}{
		{"LL read and write misses", []string{key(3, llRead, 0), key(3, llRead, 1), key(3, llWrite, 0), key(3, llWrite, 1)},
			[]string{"LLC-load-misses", "LLC-store-misses"}, 2, ""},
		{"read misses on one CPU only: one group", []string{key(3, llRead, 1)}, []string{"LLC-load-misses"}, 1, ""},
		{"no LL events: the generic cache-misses", []string{key(0, unix.PERF_COUNT_HW_CACHE_MISSES, 0), key(0, unix.PERF_COUNT_HW_CACHE_MISSES, 1)},
			[]string{"cache-misses"}, 2, ""},
		{"write misses without read misses do not count", nil, nil, 0, "LLC-load-misses"},
		{"nothing opens", nil, nil, 0, "permission denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := &fakeOpener{counters: map[string]*fakeCounter{}, siblings: map[string]bool{key(3, llWrite, 0): true},
				err: fmt.Errorf("%w: %w", sensor.ErrPermission, unix.EACCES)}
			for _, k := range tc.open {
				o.counters[k] = &fakeCounter{script: []any{uint64(0)}}
			}
			sysfs := t.TempDir()
			writeOnline(t, sysfs, "0-1")
			tr, err := openTraffic(o, sysfs, 1e9)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "no CPU PMU") {
					t.Errorf("err = %v, want it to say the fixture has no CPU PMU", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantEvents, tr.events); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if len(tr.counters) != tc.wantGroups {
				t.Errorf("%d groups, want %d (one per CPU)", len(tr.counters), tc.wantGroups)
			}
		})
	}
}

// TestSensorMemoryFollowsTraffic: with the counters open, the DRAM zone
// follows the traffic, not the CPU: a memory-bound interval at 5 % CPU
// draws the memory's full active power, a cache-bound one at 100 % CPU
// only its static power. Without them (the same fixture, nothing opens)
// it follows CPU utilisation, and Method says which and why.
func TestSensorMemoryFollowsTraffic(t *testing.T) {
	m := newMachine(t, "kvm-amd-epyc-genoa.txt")
	writeOnline(t, m.sysfs, "0")
	c := &fakeCounter{}
	o := &fakeOpener{counters: map[string]*fakeCounter{key(3, llRead, 0): c}, err: unix.ENOENT}
	s, err := newSensor(sensor.Options{ProcFS: m.procfs, SysFS: m.sysfs}, func() time.Time { return m.clock }, o)
	if err != nil {
		t.Fatal(err)
	}
	peak, _ := s.Model().PeakMemoryBandwidth()
	perSec := uint64(peak / cacheLine) // misses per second at the peak
	c.script = []any{uint64(0), 10 * perSec, 10 * perSec, 10*perSec + 5*perSec/4}
	if !strings.Contains(s.Method(), "driven by memory traffic: LLC-load-misses × 64 B on 1 of 1 online CPUs") {
		t.Errorf("Method = %q, want it to say memory follows the LLC misses", s.Method())
	}
	if _, err := s.Read(); err != nil {
		t.Fatal(err)
	}
	steps := []struct{ d, u, mem float64 }{{10, 0.05, 1}, {5, 1, 0}, {5, 0.5, 0.25}}
	want := 0.0
	for _, st := range steps {
		m.step(st.d, st.u)
		want += s.Model().PowerMem(st.u, st.mem).Memory * st.d
		r, err := s.Read()
		if err != nil {
			t.Fatal(err)
		}
		if got := joules(r)[ZoneDRAM]; math.Abs(got-want) > 1e-5 {
			t.Errorf("after %+v: dram = %.6f J, want %.6f J", st, got, want)
		}
	}
	if low, high := s.Model().PowerMem(0.05, 0).Memory, s.Model().PowerMem(0.05, 1).Memory; high <= low {
		t.Fatalf("memory power at full traffic %g W not above none %g W: the test shows nothing", high, low)
	}
	if err := s.Close(); err != nil || !c.closed {
		t.Errorf("Close = %v, counter closed %v; want nil, true", err, c.closed)
	}

	fallback, err := newSensor(sensor.Options{ProcFS: m.procfs, SysFS: m.sysfs}, func() time.Time { return m.clock },
		&fakeOpener{err: fmt.Errorf("%w: %w", sensor.ErrPermission, unix.EACCES)})
	if err != nil {
		t.Fatal(err)
	}
	if got := fallback.Method(); !strings.Contains(got, "memory's active part is driven by CPU utilisation (memory-traffic counters do not open: ") ||
		!strings.Contains(got, "permission denied") {
		t.Errorf("fallback Method = %q, want CPU utilisation and the reason", got)
	}
	if _, err := fallback.Read(); err != nil {
		t.Fatal(err)
	}
	m.step(10, 0.5)
	r, err := fallback.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := joules(r)[ZoneDRAM], fallback.Model().Power(0.5).Memory*10; math.Abs(got-want) > 1e-5 {
		t.Errorf("fallback dram = %.6f J, want %.6f J (CPU utilisation)", got, want)
	}
}

// TestSensorTrafficCountersFailMidway: when every counter stops answering,
// the interval falls back to CPU utilisation and Read does not fail.
func TestSensorTrafficCountersFailMidway(t *testing.T) {
	m := newMachine(t, "kvm-amd-epyc-genoa.txt")
	writeOnline(t, m.sysfs, "0")
	c := &fakeCounter{script: []any{uint64(0), fmt.Errorf("read: %w", unix.ENODEV)}}
	o := &fakeOpener{counters: map[string]*fakeCounter{key(3, llRead, 0): c}, err: unix.ENOENT}
	s, err := newSensor(sensor.Options{ProcFS: m.procfs, SysFS: m.sysfs}, func() time.Time { return m.clock }, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(); err != nil {
		t.Fatal(err)
	}
	m.step(10, 0.8)
	r, err := s.Read()
	if err != nil {
		t.Fatalf("Read failed with the counters gone: %v", err)
	}
	if got, want := joules(r)[ZoneDRAM], s.Model().Power(0.8).Memory*10; math.Abs(got-want) > 1e-5 {
		t.Errorf("dram = %.6f J, want %.6f J (CPU utilisation)", got, want)
	}
}

func TestParseCPUList(t *testing.T) {
	cases := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"0", []int{0}, false},
		{"0-3", []int{0, 1, 2, 3}, false},
		{"0-1,4,6-7", []int{0, 1, 4, 6, 7}, false},
		{"", nil, true},
		{"3-1", nil, true},
		{"a", nil, true},
		{"-1", nil, true},
		{"0-99999999", nil, true},
	}
	for _, tc := range cases {
		got, err := parseCPUList(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseCPUList(%q) err = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parseCPUList(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestProbeMemoryDriver(t *testing.T) {
	m := newMachine(t, "kvm-amd-epyc-genoa.txt")
	writeOnline(t, m.sysfs, "0-1")
	c := &fakeCounter{script: []any{uint64(0)}}
	o := &fakeOpener{counters: map[string]*fakeCounter{key(3, llRead, 1): c}, err: unix.ENOENT}
	got := probeMemoryDriver(sensor.Options{ProcFS: m.procfs, SysFS: m.sysfs}, o)
	if want := "memory traffic, LLC-load-misses × 64 B on 1 of 2 CPUs against "; !strings.HasPrefix(got, want) {
		t.Errorf("probe = %q, want it to start %q", got, want)
	}
	if !c.closed {
		t.Error("the probe left its counter open")
	}
	got = probeMemoryDriver(sensor.Options{ProcFS: m.procfs, SysFS: m.sysfs}, &fakeOpener{err: unix.ENOENT})
	if want := "CPU utilisation (memory-traffic counters do not open: no CPU PMU under " + filepath.Join(m.sysfs, "bus/event_source/devices"); !strings.HasPrefix(got, want) {
		t.Errorf("probe = %q, want it to start %q", got, want)
	}
}
