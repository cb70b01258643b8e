package attribution

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

func ioProc(pid int, cpu, io, netns uint64) procinfo.Proc {
	p := proc(pid, 1, cpu)
	p.IO, p.NetNS = io, netns
	return p
}

// estimatedZones is an estimate sensor's reading: cpu, dram, platform, a
// disk and a NIC, each counter at the given µJ.
func estimatedZones(cpu, dram, plat, disk, nic uint64) []power.Zone {
	return []power.Zone{
		zone("estimate:cpu", power.KindPackage, cpu),
		zone("estimate:dram", power.KindDRAM, dram),
		zone("estimate:platform", power.KindPlatform, plat),
		zone("estimate:storage:sda", power.KindStorage, disk),
		zone("estimate:network:eth0", power.KindNetwork, nic),
	}
}

// resourcesOf returns pid → per-resource interval energy.
func resourcesOf(s *snapshot.Snapshot) map[int]snapshot.ResourceEnergy {
	m := map[int]snapshot.ResourceEnergy{}
	for _, p := range s.Processes {
		m[p.PID] = p.Resources.Delta
	}
	return m
}

func res(cpu, mem, storage, network, gpu, platform units.Energy) snapshot.ResourceEnergy {
	return snapshot.ResourceEnergy{cpu, mem, storage, network, gpu, platform}
}

func TestEachResourceGoesToItsUsers(t *testing.T) {
	tests := []struct {
		name      string
		first     Sample
		next      Sample
		want      map[int]snapshot.ResourceEnergy
		lost      snapshot.ResourceEnergy
		networkBy string
	}{
		{
			name: "the writer gets the disk, the burner the cpu, the talker the nic",
			// 1: burner, 2: writer (10 MB in the interval), 3: talker
			// in namespace 7, whose bytes grow; 1 and 2 in namespace
			// 5, whose bytes do not.
			first: withNet(sample(0, estimatedZones(0, 0, 0, 0, 0),
				ioProc(1, 0, 0, 5), ioProc(2, 0, 0, 5), ioProc(3, 0, 0, 7)), map[uint64]uint64{5: 100, 7: 100}),
			next: withNet(sample(1, estimatedZones(30_000, 3_000, 6_000, 9_000, 12_000),
				ioProc(1, 80, 0, 5), ioProc(2, 10, 10_000_000, 5), ioProc(3, 10, 0, 7)), map[uint64]uint64{5: 100, 7: 900}),
			want: map[int]snapshot.ResourceEnergy{
				1: res(24_000, 2_400, 0, 0, 0, 4_800),
				2: res(3_000, 300, 9_000, 0, 0, 600),
				3: res(3_000, 300, 0, 12_000, 0, 600),
			},
			networkBy: NetworkByNetNS,
		},
		{
			name: "no bytes anywhere: the disk's energy is unattributed, the nic's goes by cpu time",
			first: sample(0, estimatedZones(0, 0, 0, 0, 0),
				ioProc(1, 0, 0, 0), ioProc(2, 0, 0, 0)),
			next: sample(1, estimatedZones(10_000, 1_000, 2_000, 4_000, 5_000),
				ioProc(1, 30, 0, 0), ioProc(2, 20, 0, 0)),
			want: map[int]snapshot.ResourceEnergy{
				1: res(6_000, 600, 0, 3_000, 0, 1_200),
				2: res(4_000, 400, 0, 2_000, 0, 800),
			},
			lost:      res(0, 0, 4_000, 0, 0, 0),
			networkBy: NetworkByCPU,
		},
		{
			name: "a namespace with bytes but no busy process keeps its part out",
			first: withNet(sample(0, estimatedZones(0, 0, 0, 0, 0),
				ioProc(1, 0, 0, 5), ioProc(2, 0, 0, 7)), map[uint64]uint64{5: 0, 7: 0}),
			next: withNet(sample(1, estimatedZones(1_000, 0, 0, 0, 8_000),
				ioProc(1, 10, 0, 5), ioProc(2, 0, 0, 7)), map[uint64]uint64{5: 300, 7: 100}),
			want: map[int]snapshot.ResourceEnergy{
				1: res(1_000, 0, 0, 6_000, 0, 0),
				2: res(0, 0, 0, 0, 0, 0),
			},
			lost:      res(0, 0, 0, 2_000, 0, 0),
			networkBy: NetworkByNetNS,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(Options{})
			a.Observe(tt.first)
			s := a.Observe(tt.next)
			if diff := cmp.Diff(tt.want, resourcesOf(s)); diff != "" {
				t.Errorf("per-resource energy (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.lost, s.Resources.Unattributed.Delta); diff != "" {
				t.Errorf("unattributed (-want +got):\n%s", diff)
			}
			if s.NetworkBy != tt.networkBy {
				t.Errorf("NetworkBy = %q, want %q", s.NetworkBy, tt.networkBy)
			}
			checkResourceConservation(t, s)
		})
	}
}

func withNet(s Sample, netns map[uint64]uint64) Sample {
	s.NetNS = netns
	return s
}

func TestHostResources(t *testing.T) {
	tests := []struct {
		name  string
		zones []power.Zone
		want  snapshot.ResourceEnergy
	}{
		{
			name: "without psys each zone is its own resource, cores inside packages",
			zones: []power.Zone{zone("p", power.KindPackage, 50), zone("c", power.KindCore, 40),
				zone("d", power.KindDRAM, 10), zone("g", power.KindGPU, 70), zone("s", power.KindStorage, 5)},
			want: res(50, 10, 5, 0, 70, 0),
		},
		{
			name: "psys: its parts, and the rest is the platform's",
			zones: []power.Zone{zone("psys", power.KindPsys, 100), zone("p", power.KindPackage, 60),
				zone("d", power.KindDRAM, 10), zone("s", power.KindStorage, 5)},
			want: res(60, 10, 5, 0, 0, 25),
		},
		{
			name: "a wall meter holds psys, its parts and the gpus",
			zones: []power.Zone{zone("bmc", power.KindWall, 300), zone("psys", power.KindPsys, 100),
				zone("p", power.KindPackage, 60), zone("g", power.KindGPU, 150)},
			want: res(60, 0, 0, 0, 150, 90),
		},
		{
			name: "parts that read more than their meter are scaled down to it",
			zones: []power.Zone{zone("psys", power.KindPsys, 50), zone("p", power.KindPackage, 60),
				zone("d", power.KindDRAM, 40)},
			want: res(30, 20, 0, 0, 0, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := make([]units.Energy, len(tt.zones))
			for i, z := range tt.zones {
				d[i] = z.Energy
			}
			got := hostResources(tt.zones, d, viewOf(tt.zones))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestReapedChildsBytesCountOnce: a child seen with 100 bytes is reaped;
// its parent's counter then holds them, and only the parent's own new
// bytes count for the parent.
func TestReapedChildsBytesCountOnce(t *testing.T) {
	a := New(Options{})
	parent, child := ioProc(1, 0, 0, 0), ioProc(2, 0, 0, 0)
	child.PPID, parent.PPID = 1, 0
	a.Observe(sample(0, estimatedZones(0, 0, 0, 0, 0), parent, child))
	child.IO, child.CPU = 100, 1
	parent.CPU = 1
	a.Observe(sample(1, estimatedZones(1, 1, 1, 1000, 1), parent, child))
	parent.IO, parent.ChildCPU, parent.CPU = 150, 1, 2 // 100 reaped + 50 its own
	other := ioProc(3, 1, 50, 0)
	s := a.Observe(sample(2, estimatedZones(2, 2, 2, 2000, 2), parent, other))
	for _, p := range s.Processes {
		if p.PID == 1 && p.IODelta != 50 {
			t.Errorf("parent's storage bytes = %d, want 50 (its own; the child's 100 were counted already)", p.IODelta)
		}
	}
	got := resourcesOf(s)
	if got[1][resStorage] != 500 || got[3][resStorage] != 500 {
		t.Errorf("storage split %d/%d, want 500/500", got[1][resStorage], got[3][resStorage])
	}
	checkResourceConservation(t, s)
}

// checkResourceConservation asserts, per resource, Σ processes +
// unattributed + idle = host for the interval, that the resources add up
// to the totals, and the total conservation.
func checkResourceConservation(t *testing.T, s *snapshot.Snapshot) {
	t.Helper()
	checkConservation(t, s)
	var procs snapshot.ResourceEnergy
	for _, p := range s.Processes {
		if p.Resources.Delta.Sum() != p.Delta {
			t.Errorf("tick %d: pid %d resources sum to %d, delta %d", s.Seq, p.PID, p.Resources.Delta.Sum(), p.Delta)
		}
		if p.Resources.Total.Sum() != p.Total {
			t.Errorf("tick %d: pid %d resource totals sum to %d, total %d", s.Seq, p.PID, p.Resources.Total.Sum(), p.Total)
		}
		for r, e := range p.Resources.Delta {
			procs[r] += e
		}
	}
	hr := s.Resources
	for r, name := range power.Resources {
		if got := procs[r] + hr.Unattributed.Delta[r] + hr.Idle.Delta[r]; got != hr.Host.Delta[r] {
			t.Errorf("tick %d: %s: processes %d + unattributed %d + idle %d = %d, host %d", s.Seq, name,
				procs[r], hr.Unattributed.Delta[r], hr.Idle.Delta[r], got, hr.Host.Delta[r])
		}
	}
	for _, c := range []struct {
		name       string
		res        snapshot.Resources
		delta, tot units.Energy
	}{
		{"host", hr.Host, s.Host.Delta, s.Host.Total},
		{"idle", hr.Idle, s.Idle.Delta, s.Idle.Total},
		{"unattributed", hr.Unattributed, s.Unattributed.Delta, s.Unattributed.Total},
	} {
		if c.res.Delta.Sum() != c.delta || c.res.Total.Sum() != c.tot {
			t.Errorf("tick %d: %s resources sum to %d/%d, figures %d/%d", s.Seq, c.name, c.res.Delta.Sum(), c.res.Total.Sum(), c.delta, c.tot)
		}
	}
}

// TestResourceConservationUnderChurn runs random sequences of counter
// wraps, processes coming and going with CPU time, storage bytes and
// network namespaces, and checks every resource's account every tick,
// under both idle policies.
func TestResourceConservationUnderChurn(t *testing.T) {
	for _, policy := range []string{snapshot.IdleSeparate, snapshot.IdleShared} {
		t.Run(policy, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			a := New(Options{IdlePolicy: policy, IdlePower: 2 * units.Watt, IdleOrigin: IdleFromFlag})
			const max = 10_000_000
			var pk, disk, nic uint64
			var dram, plat uint64
			netns := map[uint64]uint64{}
			procs := map[int]procinfo.Proc{}
			for tick := 0; tick < 300; tick++ {
				pk = (pk + rng.Uint64N(max/2)) % max // wraps
				dram += rng.Uint64N(500_000)
				plat += rng.Uint64N(800_000)
				disk += rng.Uint64N(300_000)
				nic += rng.Uint64N(200_000)
				for ns := uint64(1); ns <= 3; ns++ {
					netns[ns] += rng.Uint64N(3) * rng.Uint64N(1000)
				}
				for range 5 {
					pid := 1 + rng.IntN(40)
					switch rng.IntN(4) {
					case 0:
						delete(procs, pid)
					default:
						p, ok := procs[pid]
						if !ok {
							p = ioProc(pid, 0, 0, uint64(rng.IntN(4)))
							p.StartTime = uint64(tick)
						}
						p.CPU += rng.Uint64N(50)
						p.IO += rng.Uint64N(2) * rng.Uint64N(1<<20)
						procs[pid] = p
					}
				}
				list := make([]procinfo.Proc, 0, len(procs))
				for _, p := range procs {
					list = append(list, p)
				}
				zones := []power.Zone{pkg("p0", 0, pk, max), zone("d", power.KindDRAM, dram), zone("pl", power.KindPlatform, plat),
					zone("s", power.KindStorage, disk), zone("n", power.KindNetwork, nic)}
				smp := sample(tick, zones, list...)
				smp.NetNS = netns
				if s := a.Observe(smp); s != nil {
					checkResourceConservation(t, s)
				}
			}
		})
	}
}
