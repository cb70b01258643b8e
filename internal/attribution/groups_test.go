package attribution

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// testWorkload is a Meta.Workload that names its groups.
type testWorkload struct{ keys []string }

func (w *testWorkload) GroupKeys() []string { return w.keys }

// notGrouper is a workload that names no group.
type notGrouper struct{}

func inGroups(pid int, start, cpu uint64, keys ...string) procinfo.Proc {
	p := proc(pid, start, cpu)
	p.Meta = &procinfo.Meta{Comm: "p", Workload: &testWorkload{keys: keys}}
	return p
}

// groupFigures is what the tests compare of a group.
type groupFigures struct {
	Kind, ID     string
	Total, Delta units.Energy
	Processes    int
	CPUDelta     time.Duration
}

func figuresOf(s *snapshot.Snapshot) []groupFigures {
	var out []groupFigures
	for _, g := range s.Groups {
		out = append(out, groupFigures{g.Kind, g.ID, g.Total, g.Delta, g.Processes, g.CPUDelta})
	}
	return out
}

func TestGroupsKeepTheEnergyOfExitedProcesses(t *testing.T) {
	a := New(Options{})
	z := func(uj uint64) []power.Zone { return []power.Zone{pkg("p0", 0, uj, 0)} }
	c1 := []string{"container:c1", "pod:p1"}
	c2 := []string{"container:c2", "pod:p1"}
	tick := 10 * time.Millisecond // one USER_HZ tick

	if s := a.Observe(sample(0, z(0), inGroups(1, 1, 0, c1...), inGroups(2, 1, 0, c1...), inGroups(3, 1, 0, c2...), proc(4, 1, 0))); s != nil {
		t.Fatal("the first sample made a snapshot")
	}
	// 100 µJ, one tick of CPU each: 25 µJ a process.
	s := a.Observe(sample(1, z(100), inGroups(1, 1, 1, c1...), inGroups(2, 1, 1, c1...), inGroups(3, 1, 1, c2...), proc(4, 1, 1)))
	checkConservation(t, s)
	want := []groupFigures{
		{"container", "c1", 50, 50, 2, 2 * tick},
		{"container", "c2", 25, 25, 1, tick},
		{"pod", "p1", 75, 75, 3, 3 * tick},
	}
	if diff := cmp.Diff(want, figuresOf(s)); diff != "" {
		t.Errorf("tick 1 (-want +got):\n%s", diff)
	}

	// pid 2 exits: c1 keeps its 25 µJ. 200 µJ split 1:2:1.
	s = a.Observe(sample(2, z(300), inGroups(1, 1, 2, c1...), inGroups(3, 1, 3, c2...), proc(4, 1, 2)))
	checkConservation(t, s)
	want = []groupFigures{
		{"container", "c2", 125, 100, 1, 2 * tick},
		{"container", "c1", 100, 50, 1, tick},
		{"pod", "p1", 225, 150, 2, 3 * tick},
	}
	if diff := cmp.Diff(want, figuresOf(s)); diff != "" {
		t.Errorf("tick 2 (-want +got):\n%s", diff)
	}
	if got := s.Groups[0].CPUTotal; got != 3*tick {
		t.Errorf("c2 cpu total %v, want %v", got, 3*tick)
	}
}

func TestGroupRetention(t *testing.T) {
	a := New(Options{GroupRetention: 2 * time.Second})
	z := func(uj uint64) []power.Zone { return []power.Zone{pkg("p0", 0, uj, 0)} }
	c := "container:c"
	a.Observe(sample(0, z(0), inGroups(1, 1, 0, c), proc(9, 1, 0)))
	s := a.Observe(sample(1, z(10), inGroups(1, 1, 1, c), proc(9, 1, 1)))
	if len(s.Groups) != 1 || s.Groups[0].Total != 5 {
		t.Fatalf("tick 1: groups %+v, want c with 5 µJ", figuresOf(s))
	}
	// pid 1 is gone: c stays, idle, for 2 s after it was last alive (t=1).
	s = a.Observe(sample(2, z(20), proc(9, 1, 2)))
	if diff := cmp.Diff([]groupFigures{{"container", "c", 5, 0, 0, 0}}, figuresOf(s)); diff != "" {
		t.Errorf("tick 2, c empty (-want +got):\n%s", diff)
	}
	s = a.Observe(sample(3, z(30), proc(9, 1, 3)))
	if s.Groups != nil {
		t.Errorf("tick 3: groups %+v, want c forgotten", figuresOf(s))
	}
	checkConservation(t, s)
	// A process in c again: a new series, from zero.
	s = a.Observe(sample(4, z(40), inGroups(5, 4, 0, c), proc(9, 1, 4)))
	if diff := cmp.Diff([]groupFigures{{"container", "c", 0, 0, 1, 0}}, figuresOf(s)); diff != "" {
		t.Errorf("tick 4, c back (-want +got):\n%s", diff)
	}
	s = a.Observe(sample(5, z(50), inGroups(5, 4, 1, c), proc(9, 1, 4)))
	if diff := cmp.Diff([]groupFigures{{"container", "c", 10, 10, 1, 10 * time.Millisecond}}, figuresOf(s)); diff != "" {
		t.Errorf("tick 5 (-want +got):\n%s", diff)
	}
}

func TestGroupRetentionNegativeForgetsAtOnce(t *testing.T) {
	a := New(Options{GroupRetention: -1})
	z := func(uj uint64) []power.Zone { return []power.Zone{pkg("p0", 0, uj, 0)} }
	a.Observe(sample(0, z(0), inGroups(1, 1, 0, "service:a.service")))
	if s := a.Observe(sample(1, z(10), inGroups(1, 1, 1, "service:a.service"))); len(s.Groups) != 1 {
		t.Fatalf("groups %+v, want a.service", figuresOf(s))
	}
	if s := a.Observe(sample(2, z(20), proc(2, 2, 1))); s.Groups != nil {
		t.Errorf("groups %+v, want none", figuresOf(s))
	}
}

func TestNoGroups(t *testing.T) {
	tests := []struct {
		name string
		meta *procinfo.Meta
	}{
		{"no workload", &procinfo.Meta{}},
		{"workload without groups", &procinfo.Meta{Workload: notGrouper{}}},
		{"grouper with no key", &procinfo.Meta{Workload: &testWorkload{}}},
		{"no meta", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(Options{})
			p := proc(1, 1, 0)
			p.Meta = tt.meta
			a.Observe(sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, p))
			p.CPU = 1
			s := a.Observe(sample(1, []power.Zone{pkg("p0", 0, 10, 0)}, p))
			if s.Groups != nil {
				t.Errorf("groups %+v, want nil", figuresOf(s))
			}
		})
	}
}

func TestGroupKeyGivenTwiceIsBookedOnce(t *testing.T) {
	a := New(Options{})
	z := func(uj uint64) []power.Zone { return []power.Zone{pkg("p0", 0, uj, 0)} }
	a.Observe(sample(0, z(0), inGroups(1, 1, 0, "container:c", "container:c")))
	s := a.Observe(sample(1, z(10), inGroups(1, 1, 1, "container:c", "container:c")))
	if diff := cmp.Diff([]groupFigures{{"container", "c", 10, 10, 1, 10 * time.Millisecond}}, figuresOf(s)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestGroupTakesTheLatestWorkload(t *testing.T) {
	a := New(Options{})
	z := func(uj uint64) []power.Zone { return []power.Zone{pkg("p0", 0, uj, 0)} }
	first, second := inGroups(1, 1, 0, "container:c"), inGroups(2, 5, 0, "container:c")
	a.Observe(sample(0, z(0), first))
	a.Observe(sample(1, z(10), first))
	s := a.Observe(sample(2, z(20), first, second))
	if s.Groups[0].Workload != second.Meta.Workload {
		t.Errorf("group's workload is not that of the process that joined last")
	}
}

// groupModel checks a snapshot's groups against accounts the test keeps
// itself from the processes' own figures. For each kind of group:
//
//	Σ groups of the kind + live processes in none of them + exited
//	processes that were in none + groups forgotten + idle + unattributed
//	= host
//
// for the interval (without the exited and forgotten terms) and since
// start; and each pod is the sum of its containers (plus those of its
// containers already forgotten).
type groupModel struct {
	kinds       []string
	keys        map[procinfo.Key][]string // each process's groups
	podOf       map[string]string         // container key → pod key
	prevProcs   map[procinfo.Key]units.Energy
	prevGroups  map[string]units.Energy // "<kind>:<id>" → total
	exitedNone  map[string]units.Energy // kind → exited processes in no group of it
	forgotten   map[string]units.Energy // kind → totals of forgotten groups
	podExtra    map[string]units.Energy // pod key → totals of its forgotten containers
	forgetCount int
}

func newGroupModel(podOf map[string]string) *groupModel {
	return &groupModel{
		kinds:      []string{"container", "pod", "service"},
		keys:       map[procinfo.Key][]string{},
		podOf:      podOf,
		prevProcs:  map[procinfo.Key]units.Energy{},
		prevGroups: map[string]units.Energy{},
		exitedNone: map[string]units.Energy{},
		forgotten:  map[string]units.Energy{},
		podExtra:   map[string]units.Energy{},
	}
}

func (m *groupModel) inKind(k procinfo.Key, kind string) bool {
	for _, key := range m.keys[k] {
		if strings.HasPrefix(key, kind+":") {
			return true
		}
	}
	return false
}

func (m *groupModel) check(t *testing.T, s *snapshot.Snapshot) {
	t.Helper()
	procs := map[procinfo.Key]snapshot.Process{}
	for _, p := range s.Processes {
		procs[p.Key] = p
	}
	groups := map[string]snapshot.Group{}
	for _, g := range s.Groups {
		groups[g.Kind+":"+g.ID] = g
	}
	// What left since the last tick.
	for k, total := range m.prevProcs {
		if _, ok := procs[k]; ok {
			continue
		}
		for _, kind := range m.kinds {
			if !m.inKind(k, kind) {
				m.exitedNone[kind] += total
			}
		}
	}
	var goneKeys []string
	for key, total := range m.prevGroups {
		if _, ok := groups[key]; ok {
			continue
		}
		m.forgetCount++
		kind, _, _ := strings.Cut(key, ":")
		m.forgotten[kind] += total
		if pod, ok := m.podOf[key]; ok {
			m.podExtra[pod] += total
		}
		goneKeys = append(goneKeys, key)
	}
	for _, key := range goneKeys {
		delete(m.podExtra, key) // a pod goes with (or after) its containers
	}

	for _, kind := range m.kinds {
		var total, delta units.Energy
		for _, g := range s.Groups {
			if g.Kind == kind {
				total += g.Total
				delta += g.Delta
			}
		}
		for _, p := range s.Processes {
			if !m.inKind(p.Key, kind) {
				total += p.Total
				delta += p.Delta
			}
		}
		total += m.exitedNone[kind] + m.forgotten[kind] + s.Idle.Total + s.Unattributed.Total
		delta += s.Idle.Delta + s.Unattributed.Delta
		if total != s.Host.Total {
			t.Errorf("tick %d, %s: cumulative sum %d µJ, host %d µJ", s.Seq, kind, total, s.Host.Total)
		}
		if delta != s.Host.Delta {
			t.Errorf("tick %d, %s: interval sum %d µJ, host %d µJ", s.Seq, kind, delta, s.Host.Delta)
		}
	}

	// Each group against its live processes; pods against containers.
	for key, g := range groups {
		var live int
		var delta units.Energy
		var cpu time.Duration
		for _, p := range s.Processes {
			for _, k := range m.keys[p.Key] {
				if k == key {
					live++
					delta += p.Delta
					cpu += p.CPUDelta
				}
			}
		}
		if g.Processes != live || g.Delta != delta || g.CPUDelta != cpu {
			t.Errorf("tick %d, %s: %d processes, %d µJ, cpu %v; its live processes: %d, %d µJ, cpu %v",
				s.Seq, key, g.Processes, g.Delta, g.CPUDelta, live, delta, cpu)
		}
		if prev, ok := m.prevGroups[key]; ok && g.Total < prev {
			t.Errorf("tick %d, %s: total went down from %d to %d µJ", s.Seq, key, prev, g.Total)
		}
		if !strings.HasPrefix(key, "pod:") {
			continue
		}
		want := snapshot.Energy{Total: m.podExtra[key]}
		for ckey, pod := range m.podOf {
			if c, ok := groups[ckey]; ok && pod == key {
				want.Total += c.Total
				want.Delta += c.Delta
			}
		}
		if g.Total != want.Total || g.Delta != want.Delta {
			t.Errorf("tick %d, %s: %d µJ (%d this tick), its containers %d µJ (%d)", s.Seq, key, g.Total, g.Delta, want.Total, want.Delta)
		}
	}

	clear(m.prevProcs)
	for k, p := range procs {
		m.prevProcs[k] = p.Total
	}
	clear(m.prevGroups)
	for k, g := range groups {
		m.prevGroups[k] = g.Total
	}
}

// TestGroupsConservationUnderChurn runs random births, deaths and PID
// reuse of processes in containers, pods, services and none, with a short
// retention so groups are forgotten and come back, and checks the group
// accounts against the host's every tick.
func TestGroupsConservationUnderChurn(t *testing.T) {
	// Where a new process goes: containers c0, c1 in pod pa, c2 in pod pb,
	// c3 and c4 in no pod, a service, or nowhere.
	places := [][]string{
		{"container:c0", "pod:pa"}, {"container:c1", "pod:pa"}, {"container:c2", "pod:pb"},
		{"container:c3"}, {"container:c4"}, {"service:s.service"}, nil, nil,
	}
	podOf := map[string]string{"container:c0": "pod:pa", "container:c1": "pod:pa", "container:c2": "pod:pb"}
	for _, policy := range []string{snapshot.IdleSeparate, snapshot.IdleShared} {
		t.Run(policy, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			a := New(Options{IdlePolicy: policy, IdlePower: 3 * units.Watt, IdleOrigin: IdleFromFlag, GroupRetention: 3 * time.Second})
			m := newGroupModel(podOf)
			const max = 10_000_000
			var raw uint64
			procs := map[int]procinfo.Proc{}
			for tick := 0; tick < 400; tick++ {
				raw = (raw + rng.Uint64N(max/2)) % max
				for i := 0; i < 4; i++ {
					pid := 1 + rng.IntN(30)
					p, ok := procs[pid]
					switch {
					case ok && rng.IntN(3) == 0:
						delete(procs, pid)
						continue
					case !ok:
						where := places[rng.IntN(len(places))]
						p = inGroups(pid, uint64(tick), 0, where...)
						if where == nil {
							p = proc(pid, uint64(tick), 0)
						}
						m.keys[p.Key] = where
					}
					p.CPU += rng.Uint64N(50)
					procs[pid] = p
				}
				list := make([]procinfo.Proc, 0, len(procs))
				for _, p := range procs {
					list = append(list, p)
				}
				if s := a.Observe(sample(tick, []power.Zone{pkg("p0", 0, raw, max)}, list...)); s != nil {
					checkConservation(t, s)
					m.check(t, s)
				}
			}
			if m.forgetCount == 0 {
				t.Error("no group was ever forgotten: the test does not cover retention")
			}
		})
	}
}

// benchGroups returns n processes spread over containers containers
// (each in a pod of 2), or in no group when grouped is false.
func benchGroups(n, containers int, grouped bool) []procinfo.Proc {
	procs := make([]procinfo.Proc, n)
	metas := make([]*procinfo.Meta, containers)
	for c := range metas {
		metas[c] = &procinfo.Meta{Comm: "p"}
		if grouped {
			metas[c].Workload = &testWorkload{keys: []string{fmt.Sprintf("container:%064x", c), fmt.Sprintf("pod:%d", c/2)}}
		}
	}
	for i := range procs {
		procs[i] = procinfo.Proc{Key: procinfo.Key{PID: i + 1, StartTime: 1}, Meta: metas[i%containers]}
	}
	return procs
}

// BenchmarkObserveGroups is BenchmarkObserve with 10 000 processes spread
// over 500 containers (each in a pod of 2), against the same processes in
// no group: the steady-state cost of the group accounts per tick.
func BenchmarkObserveGroups(b *testing.B) {
	const n, containers = 10000, 500
	for _, grouped := range []bool{false, true} {
		b.Run(fmt.Sprintf("procs=%d/containers=%v", n, grouped), func(b *testing.B) {
			procs := benchGroups(n, containers, grouped)
			a := New(Options{})
			a.Observe(sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, procs...))
			b.ReportAllocs()
			for i := 1; b.Loop(); i++ {
				for j := range procs {
					procs[j].CPU += uint64(j % 7)
				}
				a.Observe(sample(i, []power.Zone{pkg("p0", 0, uint64(i)*1_000_000, 0)}, procs...))
			}
		})
	}
}

// BenchmarkObserveGroupsPaired runs, in each iteration, one tick of the
// grouped accounts and one of the same processes in no group (which goes
// first alternates), timing each by the CPU time of the benchmark's
// thread: on a shared machine the ratio is steadier than two separate
// benchmarks. It reports the ticks' costs and grouped/plain.
func BenchmarkObserveGroupsPaired(b *testing.B) {
	const n, containers = 10000, 500
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	plain, grouped := benchGroups(n, containers, false), benchGroups(n, containers, true)
	ap, ag := New(Options{}), New(Options{})
	ap.Observe(sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, plain...))
	ag.Observe(sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, grouped...))
	var tp, tg time.Duration
	tick := func(a *Attributor, procs []procinfo.Proc, i int) time.Duration {
		for j := range procs {
			procs[j].CPU += uint64(j % 7)
		}
		t0 := threadCPU(b)
		a.Observe(sample(i, []power.Zone{pkg("p0", 0, uint64(i)*1_000_000, 0)}, procs...))
		return threadCPU(b) - t0
	}
	for i := 1; b.Loop(); i++ {
		if i%2 == 0 {
			tp += tick(ap, plain, i)
			tg += tick(ag, grouped, i)
		} else {
			tg += tick(ag, grouped, i)
			tp += tick(ap, plain, i)
		}
	}
	b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N), "cpu-ns/tick-plain")
	b.ReportMetric(float64(tg.Nanoseconds())/float64(b.N), "cpu-ns/tick-groups")
	b.ReportMetric(float64(tg)/float64(tp), "groups/plain")
}

func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// TestGroupsFollowAnExec: when a process's metadata is read again (an
// exec into a container's entrypoint, libvirt's qemu), its later energy
// goes to the new group, and what it drew before stays where it was.
func TestGroupsFollowAnExec(t *testing.T) {
	a := New(Options{})
	z := func(uj uint64) []power.Zone { return []power.Zone{pkg("p0", 0, uj, 0)} }
	before := &procinfo.Meta{Comm: "sh"}
	after := &procinfo.Meta{Comm: "app", Workload: &testWorkload{keys: []string{"container:c1"}}}
	p1 := procinfo.Proc{Key: procinfo.Key{PID: 7, StartTime: 1}, Meta: before}
	a.Observe(sample(0, z(0), p1))
	p1.CPU = 10
	s := a.Observe(sample(1, z(100), p1))
	if len(s.Groups) != 0 {
		t.Fatalf("groups before the exec: %+v", s.Groups)
	}
	p1.CPU, p1.Meta = 20, after
	s = a.Observe(sample(2, z(300), p1))
	if len(s.Groups) != 1 || s.Groups[0].ID != "c1" || s.Groups[0].Total != 200 {
		t.Fatalf("after the exec: %+v; want container c1 with this tick's 200 µJ", s.Groups)
	}
	checkConservation(t, s)
}
