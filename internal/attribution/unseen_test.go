package attribution

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// work is /proc/stat with the given busy (Work) ticks over a 2-CPU machine
// whose total moves by 200 ticks a second.
func work(sec int, busy uint64) procinfo.CPUTimes {
	return procinfo.CPUTimes{Work: busy, Busy: busy, Total: uint64(sec) * 200, CPUs: 2}
}

func withCPU(s Sample, c procinfo.CPUTimes) Sample {
	s.CPU = c
	return s
}

func child(pid, ppid int, start, cpu, childCPU uint64) procinfo.Proc {
	p := proc(pid, start, cpu)
	p.PPID, p.ChildCPU = ppid, childCPU
	return p
}

// TestPricedPerBusyCPUSecond: a process gets the interval's energy per busy
// CPU-second times its own CPU time, whatever else is visible; the busy
// time no process holds is booked to unattributed.
func TestPricedPerBusyCPUSecond(t *testing.T) {
	tests := []struct {
		name             string
		opts             Options
		busy             uint64 // ticks over the 2 s interval
		cpu10, cpu20     uint64 // ticks of the two processes
		want10, want20   uint64 // µJ
		wantUnattributed uint64
		wantIdle         uint64
		wantCoverage     float64
	}{
		{
			name: "half the busy time is unseen", busy: 200, cpu10: 80, cpu20: 20,
			// 60 J active: 0.3 J per tick
			want10: 24_000_000, want20: 6_000_000, wantUnattributed: 30_000_000, wantCoverage: 0.5,
		},
		{
			name: "processes hold it all", busy: 100, cpu10: 75, cpu20: 25,
			want10: 45_000_000, want20: 15_000_000, wantCoverage: 1,
		},
		{
			name: "processes hold more than /proc/stat says (tick skew): split among them", busy: 90, cpu10: 75, cpu20: 25,
			want10: 45_000_000, want20: 15_000_000, wantCoverage: 1,
		},
		{
			name: "shared idle follows the same shares, unattributed part included",
			opts: Options{IdlePolicy: snapshot.IdleShared, IdlePower: 10 * units.Watt, IdleOrigin: IdleFromFlag},
			busy: 200, cpu10: 100, cpu20: 0,
			want10: 30_000_000, want20: 0, wantUnattributed: 30_000_000, wantCoverage: 0.5,
		},
		{
			name: "separate idle: only active energy is priced",
			opts: Options{IdlePower: 10 * units.Watt, IdleOrigin: IdleFromFlag},
			busy: 200, cpu10: 100, cpu20: 0,
			want10: 20_000_000, want20: 0, wantUnattributed: 20_000_000, wantIdle: 20_000_000, wantCoverage: 0.5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(tt.opts)
			a.Observe(withCPU(sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, proc(10, 1, 0), proc(20, 1, 0)), work(0, 0)))
			s := a.Observe(withCPU(sample(2, []power.Zone{pkg("p0", 0, 60_000_000, 0)},
				proc(10, 1, tt.cpu10), proc(20, 1, tt.cpu20)), work(2, tt.busy)))
			checkConservation(t, s)
			got := map[string]uint64{"10": energies(s)[10], "20": energies(s)[20],
				"unattributed": uint64(s.Unattributed.Delta), "idle": uint64(s.Idle.Delta)}
			want := map[string]uint64{"10": tt.want10, "20": tt.want20, "unattributed": tt.wantUnattributed, "idle": tt.wantIdle}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("energy (-want +got):\n%s", diff)
			}
			if c, ok := s.CPU.Coverage(); !ok || c != tt.wantCoverage {
				t.Errorf("coverage = %v, %v; want %v", c, ok, tt.wantCoverage)
			}
		})
	}
}

// TestUnknownBusyTimeFallsBackOnProcesses: without /proc/stat figures the
// processes' CPU time is the whole, and coverage is unknown.
func TestUnknownBusyTimeFallsBackOnProcesses(t *testing.T) {
	a := New(Options{})
	a.Observe(sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, proc(10, 1, 0), proc(20, 1, 0)))
	s := a.Observe(sample(2, []power.Zone{pkg("p0", 0, 40_000_000, 0)}, proc(10, 1, 30), proc(20, 1, 10)))
	if got := energies(s); got[10] != 30_000_000 || got[20] != 10_000_000 {
		t.Errorf("energies %v, want 30 J and 10 J", got)
	}
	if _, ok := s.CPU.Coverage(); ok {
		t.Error("coverage known without /proc/stat figures")
	}
}

// TestReapedChildrenCountOnceForTheirParent: a child that lives shorter
// than a tick counts for the parent that reaps it; a child that was seen
// is not counted twice when its parent reaps it.
func TestReapedChildrenCountOnceForTheirParent(t *testing.T) {
	a := New(Options{})
	z := func(uj uint64) []power.Zone { return []power.Zone{pkg("p0", 0, uj, 0)} }
	// Boot ticks: the child (start time 150) is born during the first interval.
	at := func(sec int, uj uint64, c procinfo.CPUTimes, procs ...procinfo.Proc) Sample {
		s := withCPU(sample(sec, z(uj), procs...), c)
		s.BootTicks = uint64(100 + sec*100)
		return s
	}
	a.Observe(at(0, 0, work(0, 0), child(10, 1, 1, 0, 0)))
	// Tick 1: the child (pid 11) was born and used 40 ticks; a short-lived
	// child the agent never saw used 20 and was reaped by 10.
	s := a.Observe(at(1, 60_000_000, work(1, 60), child(10, 1, 1, 0, 20), child(11, 10, 150, 40, 0)))
	checkConservation(t, s)
	if got := energies(s); got[10] != 20_000_000 || got[11] != 40_000_000 {
		t.Errorf("tick 1 energies %v, want 10: 20 J (its reaped child), 11: 40 J", got)
	}
	// Tick 2: pid 11 used 10 more ticks, exited and was reaped by 10 (its
	// 50 ticks move into 10's children's time); 10 itself used 30.
	s = a.Observe(at(2, 100_000_000, work(2, 100), child(10, 1, 1, 30, 70)))
	checkConservation(t, s)
	if got := energies(s); got[10] != 40_000_000 {
		t.Errorf("tick 2 energy of 10 = %d µJ, want 40 J: its own 30 ticks + the 10 its child used after it was last seen", got[10])
	}
	if s.Unattributed.Delta != 0 {
		t.Errorf("unattributed = %d, want 0", s.Unattributed.Delta)
	}
	if s.CPU.Processes != 40*procinfo.TicksToDuration(1) {
		t.Errorf("process CPU = %v, want 400ms", s.CPU.Processes)
	}
}

// TestDisturbedIntervalsDoNotTeachIdle: an interval after an outage or a
// reset is not an idle candidate, however low its power.
func TestDisturbedIntervalsDoNotTeachIdle(t *testing.T) {
	a := New(Options{})
	cpu := func(busy, total uint64) procinfo.CPUTimes {
		return procinfo.CPUTimes{Busy: busy, Work: busy, Total: total, CPUs: 2}
	}
	obs := func(sec int, uj uint64, c procinfo.CPUTimes, disturbed bool) *snapshot.Snapshot {
		s := Sample{Time: t0.Add(time.Duration(sec) * time.Second), Zones: []power.Zone{pkg("p0", 0, uj, 0)}, CPU: c, Procs: []procinfo.Proc{proc(1, 1, uint64(sec))}, Disturbed: disturbed}
		return a.Observe(s)
	}
	obs(0, 0, cpu(0, 0), false)
	obs(1, 10_000_000, cpu(2, 200), false) // 10 W at 1 %: learned
	obs(2, 10_000_000, cpu(4, 400), true)  // 0 W: a reset booked nothing
	obs(3, 20_000_000, cpu(6, 600), false) // 10 W
	obs(4, 19_000_000, cpu(8, 800), false) // backwards without a range: a reset seen by attribution itself
	s := obs(5, 29_000_000, cpu(10, 1000), false)
	if s.IdlePower != 10*units.Watt || s.IdleOrigin != IdleLearned {
		t.Errorf("idle %v (%s), want 10 W learned: disturbed intervals must not teach 0 W", s.IdlePower, s.IdleOrigin)
	}
	if s.Stats.Resets != 1 {
		t.Errorf("resets = %d, want 1", s.Stats.Resets)
	}
}

// TestReapChainCountsOnce: a command, its shell and the shell's reaper —
// the command and the shell both gone in one interval — the reaper's jump
// holds the whole chain; only what is new since they were last seen counts.
func TestReapChainCountsOnce(t *testing.T) {
	a := New(Options{})
	z := func(uj uint64) []power.Zone { return []power.Zone{pkg("p0", 0, uj, 0)} }
	at := func(sec int, uj uint64, c procinfo.CPUTimes, procs ...procinfo.Proc) Sample {
		s := withCPU(sample(sec, z(uj), procs...), c)
		s.BootTicks = uint64(100 + sec*100)
		return s
	}
	// init (1) ← shell (20) ← command (30), all there before the agent.
	a.Observe(at(0, 0, work(0, 0), child(1, 0, 1, 0, 0), child(20, 1, 1, 1, 0), child(30, 20, 1, 3000, 0)))
	// The command used 50 ticks.
	s := a.Observe(at(1, 50_000_000, work(1, 50), child(1, 0, 1, 0, 0), child(20, 1, 1, 1, 0), child(30, 20, 1, 3050, 0)))
	if got := energies(s)[30]; got != 50_000_000 {
		t.Fatalf("command drew %d µJ, want 50 J", got)
	}
	// It used 10 more and exited; the shell reaped it, exited too, and
	// init reaped the shell: init's children's time jumps by 3061.
	s = a.Observe(at(2, 60_000_000, work(2, 60), child(1, 0, 1, 0, 3061)))
	checkConservation(t, s)
	if got := energies(s)[1]; got != 10_000_000 {
		t.Errorf("init drew %d µJ, want 10 J: only the 10 ticks the chain used since it was last seen", got)
	}
	if s.CPU.Processes != 10*procinfo.TicksToDuration(1) {
		t.Errorf("process CPU %v, want 100ms", s.CPU.Processes)
	}
}

// TestReapedPastIsCapped: a reaper's jump beyond the machine's busy time
// (children the agent never saw, from before the interval) counts for no
// more than the interval's busy time.
func TestReapedPastIsCapped(t *testing.T) {
	a := New(Options{})
	a.Observe(withCPU(sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, child(1, 0, 1, 0, 0), child(2, 1, 1, 0, 0)), work(0, 0)))
	s := a.Observe(withCPU(sample(1, []power.Zone{pkg("p0", 0, 100_000_000, 0)}, child(1, 0, 1, 0, 5000), child(2, 1, 1, 100, 0)), work(1, 100)))
	checkConservation(t, s)
	if got := energies(s); got[1] != 50_000_000 || got[2] != 50_000_000 {
		t.Errorf("energies %v, want 50 J each: the reaper's jump is capped at the 100 busy ticks", got)
	}
}
