package attribution

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func pkg(id string, socket int, uj uint64, max uint64) power.Zone {
	return power.Zone{ID: id, Kind: power.KindPackage, Socket: socket, Energy: units.Energy(uj), MaxRange: units.Energy(max), Source: power.Measured}
}

func zone(id, kind string, uj uint64) power.Zone {
	return power.Zone{ID: id, Kind: kind, Socket: -1, Energy: units.Energy(uj), Source: power.Measured}
}

func proc(pid int, start, cpu uint64) procinfo.Proc {
	return procinfo.Proc{Key: procinfo.Key{PID: pid, StartTime: start}, CPU: cpu, Meta: &procinfo.Meta{Comm: "p"}}
}

func sample(sec int, zones []power.Zone, procs ...procinfo.Proc) Sample {
	return Sample{Time: t0.Add(time.Duration(sec) * time.Second), Zones: zones, Procs: procs}
}

// energies returns pid → interval energy in µJ.
func energies(s *snapshot.Snapshot) map[int]uint64 {
	m := map[int]uint64{}
	for _, p := range s.Processes {
		m[p.PID] = uint64(p.Delta)
	}
	return m
}

func TestObserve(t *testing.T) {
	type want struct {
		host, idle, unattributed uint64
		procs                    map[int]uint64
	}
	tests := []struct {
		name  string
		opts  Options
		first Sample
		next  Sample
		want  want
	}{
		{
			name:  "active energy split by cpu share, idle separate",
			opts:  Options{IdlePower: 10 * units.Watt, IdleOrigin: IdleFromFlag},
			first: sample(0, []power.Zone{pkg("p0", 0, 1_000_000, 0)}, proc(10, 1, 100), proc(20, 1, 100)),
			// 2 s, 60 J: idle 20 J, active 40 J split 3:1
			next: sample(2, []power.Zone{pkg("p0", 0, 61_000_000, 0)}, proc(10, 1, 130), proc(20, 1, 110)),
			want: want{host: 60_000_000, idle: 20_000_000, procs: map[int]uint64{10: 30_000_000, 20: 10_000_000}},
		},
		{
			name:  "shared idle policy spreads idle by the same shares",
			opts:  Options{IdlePolicy: snapshot.IdleShared, IdlePower: 10 * units.Watt, IdleOrigin: IdleFromFlag},
			first: sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, proc(10, 1, 0), proc(20, 1, 0)),
			next:  sample(2, []power.Zone{pkg("p0", 0, 60_000_000, 0)}, proc(10, 1, 30), proc(20, 1, 10)),
			want:  want{host: 60_000_000, idle: 0, procs: map[int]uint64{10: 45_000_000, 20: 15_000_000}},
		},
		{
			name:  "idle baseline above host power: all of it idle",
			opts:  Options{IdlePower: 100 * units.Watt, IdleOrigin: IdleFromFlag},
			first: sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, proc(10, 1, 0)),
			next:  sample(1, []power.Zone{pkg("p0", 0, 5_000_000, 0)}, proc(10, 1, 50)),
			want:  want{host: 5_000_000, idle: 5_000_000, procs: map[int]uint64{10: 0}},
		},
		{
			name:  "no cpu time used: active energy unattributed",
			first: sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, proc(10, 1, 7)),
			next:  sample(1, []power.Zone{pkg("p0", 0, 5_000_000, 0)}, proc(10, 1, 7)),
			want:  want{host: 5_000_000, unattributed: 5_000_000, procs: map[int]uint64{10: 0}},
		},
		{
			name:  "wrap at the zone's range",
			first: sample(0, []power.Zone{pkg("p0", 0, 900_000, 1_000_000)}, proc(10, 1, 0)),
			next:  sample(1, []power.Zone{pkg("p0", 0, 300_000, 1_000_000)}, proc(10, 1, 1)),
			want:  want{host: 400_000, procs: map[int]uint64{10: 400_000}},
		},
		{
			name:  "psys present: host is psys, packages and dram not added",
			first: sample(0, []power.Zone{pkg("p0", 0, 0, 0), zone("d0", power.KindDRAM, 0), zone("ps", power.KindPsys, 0)}, proc(1, 1, 0)),
			next:  sample(1, []power.Zone{pkg("p0", 0, 5, 0), zone("d0", power.KindDRAM, 2), zone("ps", power.KindPsys, 9)}, proc(1, 1, 1)),
			want:  want{host: 9, procs: map[int]uint64{1: 9}},
		},
		{
			name:  "no psys: packages, dram and gpus add; core and uncore do not",
			first: sample(0, []power.Zone{pkg("p0", 0, 0, 0), pkg("p1", 1, 0, 0), zone("d0", power.KindDRAM, 0), zone("c0", power.KindCore, 0), zone("g0", power.KindGPU, 0)}, proc(1, 1, 0)),
			next:  sample(1, []power.Zone{pkg("p0", 0, 5, 0), pkg("p1", 1, 4, 0), zone("d0", power.KindDRAM, 2), zone("c0", power.KindCore, 3), zone("g0", power.KindGPU, 100)}, proc(1, 1, 1)),
			want:  want{host: 111, procs: map[int]uint64{1: 111}},
		},
		{
			name:  "a wall meter holds the gpus already",
			first: sample(0, []power.Zone{{ID: "w", Kind: power.KindPsys, Name: "power_meter", Wall: true, Socket: -1}, zone("g0", power.KindGPU, 0)}, proc(1, 1, 0)),
			next:  sample(1, []power.Zone{{ID: "w", Kind: power.KindPsys, Name: "power_meter", Wall: true, Socket: -1, Energy: 300}, zone("g0", power.KindGPU, 100)}, proc(1, 1, 1)),
			want:  want{host: 300, procs: map[int]uint64{1: 300}},
		},
		{
			name:  "gpu energy goes by gpu shares, the rest by cpu time",
			opts:  Options{IdlePower: 100 * units.Microwatt, IdleOrigin: IdleFromFlag},
			first: sample(0, []power.Zone{pkg("p0", 0, 0, 0), zone("gpu:0", power.KindGPU, 0)}, proc(1, 1, 0), proc(2, 1, 0), proc(3, 1, 0)),
			next: func() Sample {
				s := sample(1, []power.Zone{pkg("p0", 0, 200, 0), zone("gpu:0", power.KindGPU, 200)}, proc(1, 1, 1), proc(2, 1, 1), proc(3, 1, 0))
				s.Shares = map[string]power.Shares{"gpu:0": {3: 0.75, 2: 0.25, 99: 5}}
				return s
			}(),
			// host 400, idle 100: 3/4 of each zone is active. gpu 150 by
			// shares (pid 99 is gone: renormalised), cpu 150 by cpu time.
			want: want{host: 400, idle: 100, procs: map[int]uint64{1: 75, 2: 75 + 38, 3: 112}},
		},
		{
			name:  "remainders are distributed so the split is exact",
			first: sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, proc(1, 1, 0), proc(2, 1, 0), proc(3, 1, 0)),
			next:  sample(1, []power.Zone{pkg("p0", 0, 100, 0)}, proc(1, 1, 1), proc(2, 1, 1), proc(3, 1, 1)),
			want:  want{host: 100, procs: map[int]uint64{1: 34, 2: 33, 3: 33}},
		},
		{
			name: "a process born during the interval counts all its cpu time",
			first: func() Sample {
				s := sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, proc(1, 1, 0))
				s.BootTicks = 1000
				return s
			}(),
			next: func() Sample {
				s := sample(1, []power.Zone{pkg("p0", 0, 100, 0)}, proc(1, 1, 10), proc(2, 1050, 30), proc(3, 500, 40))
				s.BootTicks = 1100
				return s
			}(),
			// pid 3 started before the previous tick: its past is unknown.
			want: want{host: 100, procs: map[int]uint64{1: 25, 2: 75, 3: 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(tt.opts)
			if s := a.Observe(tt.first); s != nil {
				t.Fatalf("first Observe returned a snapshot")
			}
			s := a.Observe(tt.next)
			got := want{host: uint64(s.Host.Delta), idle: uint64(s.Idle.Delta), unattributed: uint64(s.Unattributed.Delta), procs: energies(s)}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("snapshot (-want +got):\n%s", diff)
			}
			checkConservation(t, s)
		})
	}
}

// checkConservation asserts the conservation invariant, for the interval and
// since start.
func checkConservation(t *testing.T, s *snapshot.Snapshot) {
	t.Helper()
	var delta, total units.Energy
	for _, p := range s.Processes {
		delta += p.Delta
		total += p.Total
	}
	if got := delta + s.Idle.Delta + s.Unattributed.Delta; got != s.Host.Delta {
		t.Errorf("tick %d: processes+idle+unattributed = %d µJ, host = %d µJ", s.Seq, got, s.Host.Delta)
	}
	if got := total + s.Exited + s.Idle.Total + s.Unattributed.Total; got != s.Host.Total {
		t.Errorf("tick %d: cumulative processes+exited+idle+unattributed = %d µJ, host = %d µJ", s.Seq, got, s.Host.Total)
	}
	for _, n := range []int{0, 1, 3} {
		head, rest, _ := s.TopN(n)
		var sum units.Energy
		for _, p := range head {
			sum += p.Total
		}
		if sum+rest.Total+s.Idle.Total+s.Unattributed.Total != s.Host.Total {
			t.Errorf("tick %d: TopN(%d) head+rest+idle+unattributed = %d, host = %d", s.Seq, n, sum+rest.Total+s.Idle.Total+s.Unattributed.Total, s.Host.Total)
		}
	}
}

func TestExitedAndReusedPIDsKeepTheirAccounts(t *testing.T) {
	a := New(Options{})
	z := func(uj uint64) []power.Zone { return []power.Zone{pkg("p0", 0, uj, 0)} }
	a.Observe(sample(0, z(0), proc(1, 1, 0), proc(2, 1, 0)))
	s := a.Observe(sample(1, z(100), proc(1, 1, 1), proc(2, 1, 1)))
	checkConservation(t, s)
	// pid 2 exits; pid 1 is reused by a new process (other start time).
	s = a.Observe(sample(2, z(300), proc(1, 99, 5), proc(3, 1, 0)))
	checkConservation(t, s)
	if s.Exited != 100 {
		t.Errorf("exited = %d µJ, want 100 (both first-tick processes)", s.Exited)
	}
	for _, p := range s.Processes {
		if p.PID == 1 && p.Total != 0 {
			t.Errorf("reused pid 1 inherited %d µJ of the old process", p.Total)
		}
	}
	if s.Unattributed.Delta != 200 {
		t.Errorf("unattributed = %d, want 200: the new pid 1's past cpu is not this interval's", s.Unattributed.Delta)
	}
}

func TestLearnedIdle(t *testing.T) {
	a := New(Options{})
	cpu := func(busy, total uint64) procinfo.CPUTimes {
		return procinfo.CPUTimes{Busy: busy, Total: total, CPUs: 2}
	}
	steps := []struct {
		uj       uint64
		cpu      procinfo.CPUTimes
		wantIdle units.Power
		origin   string
	}{
		{0, cpu(0, 0), 0, ""},
		{50_000_000, cpu(180, 200), 0, IdleLearning},              // 50 W at 90 %: not idle
		{62_000_000, cpu(185, 400), 0, IdleLearning},              // 12 W at 2.5 %: learned after this tick
		{77_000_000, cpu(195, 600), 12 * units.Watt, IdleLearned}, // 15 W at 5 %: higher, kept at 12
		{89_000_000, cpu(200, 800), 12 * units.Watt, IdleLearned},
	}
	for i, st := range steps {
		s := a.Observe(Sample{Time: t0.Add(time.Duration(i) * time.Second), Zones: []power.Zone{pkg("p0", 0, st.uj, 0)}, CPU: st.cpu, Procs: []procinfo.Proc{proc(1, 1, uint64(i))}})
		if i == 0 {
			continue
		}
		if s.IdlePower != st.wantIdle || s.IdleOrigin != st.origin {
			t.Errorf("tick %d: idle %v (%s), want %v (%s)", i, s.IdlePower, s.IdleOrigin, st.wantIdle, st.origin)
		}
		checkConservation(t, s)
	}
}

func TestZoneAppearsAndVanishes(t *testing.T) {
	a := New(Options{})
	a.Observe(sample(0, []power.Zone{pkg("p0", 0, 0, 0)}, proc(1, 1, 0)))
	s := a.Observe(sample(1, []power.Zone{pkg("p0", 0, 10, 0), pkg("p1", 1, 5_000, 0)}, proc(1, 1, 1)))
	if s.Host.Delta != 10 {
		t.Errorf("host = %d, want 10: a new zone's counter has no past", s.Host.Delta)
	}
	s = a.Observe(sample(2, []power.Zone{pkg("p1", 1, 5_007, 0)}, proc(1, 1, 2)))
	if s.Host.Delta != 7 {
		t.Errorf("host = %d, want 7", s.Host.Delta)
	}
	s = a.Observe(sample(3, []power.Zone{pkg("p0", 0, 50, 0), pkg("p1", 1, 5_010, 0)}, proc(1, 1, 3)))
	if s.Host.Delta != 3 {
		t.Errorf("host = %d, want 3: a zone that comes back starts a new baseline", s.Host.Delta)
	}
	checkConservation(t, s)
}

func TestEstimatedSourcePropagates(t *testing.T) {
	a := New(Options{})
	z := func(uj uint64) []power.Zone {
		return []power.Zone{{ID: "e", Kind: power.KindPackage, Energy: units.Energy(uj), Source: power.Estimated}}
	}
	a.Observe(sample(0, z(0), proc(1, 1, 0)))
	s := a.Observe(sample(1, z(10), proc(1, 1, 1)))
	if s.Host.Source != power.Estimated || s.Processes[0].Source != power.Estimated {
		t.Errorf("sources host=%s process=%s, want estimated", s.Host.Source, s.Processes[0].Source)
	}
}

// TestConservationUnderChurn runs random sequences of wraps, process births,
// deaths and PID reuse, and checks the accounts every tick.
func TestConservationUnderChurn(t *testing.T) {
	for _, policy := range []string{snapshot.IdleSeparate, snapshot.IdleShared} {
		t.Run(policy, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			a := New(Options{IdlePolicy: policy, IdlePower: 3 * units.Watt, IdleOrigin: IdleFromFlag})
			const max = 10_000_000
			var raw uint64
			procs := map[int]procinfo.Proc{}
			for tick := 0; tick < 300; tick++ {
				raw = (raw + rng.Uint64N(max/2)) % max
				for i := 0; i < 5; i++ {
					pid := 1 + rng.IntN(40)
					switch rng.IntN(4) {
					case 0:
						delete(procs, pid)
					default:
						p, ok := procs[pid]
						if !ok {
							p = proc(pid, uint64(tick), 0)
						}
						p.CPU += rng.Uint64N(50)
						procs[pid] = p
					}
				}
				list := make([]procinfo.Proc, 0, len(procs))
				for _, p := range procs {
					list = append(list, p)
				}
				s := a.Observe(sample(tick, []power.Zone{pkg("p0", 0, raw, max)}, list...))
				if s != nil {
					checkConservation(t, s)
				}
			}
		})
	}
}

func BenchmarkObserve(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("procs="+itoa(n), func(b *testing.B) {
			procs := make([]procinfo.Proc, n)
			meta := &procinfo.Meta{Comm: "p"}
			for i := range procs {
				procs[i] = procinfo.Proc{Key: procinfo.Key{PID: i + 1, StartTime: 1}, Meta: meta}
			}
			a := New(Options{})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				for j := range procs {
					procs[j].CPU += uint64(j % 7)
				}
				a.Observe(sample(i, []power.Zone{pkg("p0", 0, uint64(i)*1_000_000, 0)}, procs...))
			}
		})
	}
}

func itoa(n int) string {
	if n == 1000 {
		return "1000"
	}
	return "10000"
}
