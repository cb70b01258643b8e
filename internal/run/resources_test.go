package run

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

var (
	iStorage = power.ResourceStorage.Index()
	iNetwork = power.ResourceNetwork.Index()
	iCPU     = power.ResourceCPU.Index()
)

// snapAt is a snapshot at t whose host spends storageJ on storage and
// networkJ on network, none of it idle.
func snapAt(t time.Time, storageJ, networkJ float64) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Time: t, Interval: time.Second}
	s.Resources.Host.Delta[iStorage] = units.FromJoules(storageJ)
	s.Resources.Host.Delta[iNetwork] = units.FromJoules(networkJ)
	return s
}

// TestIOPricerStorage: the command's storage energy is the tick's storage
// energy × its bytes over the disks' (at most all of it); bytes it counted
// before the disks showed them (page cache, writeback) are matched when
// the disks do, within creditLife, and never twice.
func TestIOPricerStorage(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const mib = 1 << 20
	steps := []struct {
		name       string
		tree, disk uint64 // cumulative
		storageJ   float64
		want       float64
	}{
		{"a quarter of the disks' bytes", 25 * mib, 100 * mib, 4, 1},
		{"more than the disks: all of it, the rest waits", 75 * mib, 120 * mib, 2, 2},
		{"the disks catch up with the waiting 30 MiB, then others", 75 * mib, 180 * mib, 6, 3},
		{"no disk traffic: nothing, however much the command counted", 95 * mib, 180 * mib, 0.5, 0},
		{"the 20 MiB still wait", 95 * mib, 200 * mib, 1, 1},
		{"nothing of its own", 95 * mib, 300 * mib, 5, 0},
	}
	pr := newIOPricer(ioCounters{DiskOK: true})
	var cmd snapshot.ResourceEnergy
	cmd[iStorage] = units.FromJoules(9) // what the attribution gave: replaced
	cmd[iCPU] = units.FromJoules(3)
	for i, st := range steps {
		s := snapAt(t0.Add(time.Duration(i+1)*time.Second), st.storageJ, 0)
		got := pr.price(s, cmd, ioCounters{Tree: st.tree, Disk: st.disk, DiskOK: true})
		if j := got[iStorage].Joules(); abs(j-st.want) > 1e-5 {
			t.Errorf("%s: storage %.6f J, want %.6f J", st.name, j, st.want)
		}
		if got[iCPU] != cmd[iCPU] {
			t.Errorf("%s: cpu %v, want the attribution's %v", st.name, got[iCPU], cmd[iCPU])
		}
	}
	if pr.tree != 95*mib || pr.disk != 300*mib || pr.matched != 95*mib || pr.storageBy() != StorageByBytes {
		t.Errorf("run totals: tree %d disk %d matched %d by %q", pr.tree, pr.disk, pr.matched, pr.storageBy())
	}

	// Bytes the disks never show expire after creditLife.
	pr = newIOPricer(ioCounters{DiskOK: true})
	pr.price(snapAt(t0, 0, 0), cmd, ioCounters{Tree: 50 * mib, DiskOK: true})
	s := snapAt(t0.Add(creditLife+time.Second), 3, 0)
	if got := pr.price(s, cmd, ioCounters{Tree: 50 * mib, Disk: 10 * mib, DiskOK: true}); got[iStorage] != 0 {
		t.Errorf("expired bytes still priced: %v", got[iStorage])
	}

	// Disks unreadable: no storage energy, and said so.
	pr = newIOPricer(ioCounters{})
	if got := pr.price(snapAt(t0, 3, 0), cmd, ioCounters{Tree: mib}); got[iStorage] != 0 || pr.storageBy() != StorageUnknown {
		t.Errorf("no disks: storage %v by %q, want 0 by %q", got[iStorage], pr.storageBy(), StorageUnknown)
	}
}

// TestIOPricerStorageIdle: only the storage energy above idle is priced.
func TestIOPricerStorageIdle(t *testing.T) {
	s := snapAt(time.Unix(1, 0), 4, 0)
	s.Resources.Idle.Delta[iStorage] = units.FromJoules(3)
	pr := newIOPricer(ioCounters{DiskOK: true})
	got := pr.price(s, snapshot.ResourceEnergy{}, ioCounters{Tree: 10, Disk: 10, DiskOK: true})
	if got[iStorage] != units.FromJoules(1) {
		t.Errorf("storage %v, want the 1 J above idle", got[iStorage])
	}
}

// TestIOPricerNetwork: in a namespace of its own the command gets the
// network energy × its namespace's bytes over the NICs'; in the host's,
// what the attribution gave it by CPU time.
func TestIOPricerNetwork(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var cmd snapshot.ResourceEnergy
	cmd[iNetwork] = units.FromJoules(0.7) // by CPU time
	pr := newIOPricer(ioCounters{NetOK: true, OwnNetNS: true})
	got := pr.price(snapAt(t0, 0, 2), cmd, ioCounters{TreeNet: 300, Net: 1200, NetOK: true, OwnNetNS: true})
	if got[iNetwork] != units.FromJoules(0.5) {
		t.Errorf("own namespace: network %v, want a quarter of 2 J", got[iNetwork])
	}
	got = pr.price(snapAt(t0.Add(time.Second), 0, 2), cmd, ioCounters{TreeNet: 300, Net: 1200, NetOK: true})
	if got[iNetwork] != cmd[iNetwork] {
		t.Errorf("host's namespace: network %v, want the attribution's %v", got[iNetwork], cmd[iNetwork])
	}
	if pr.networkBy() != NetworkByBoth || pr.treeNet != 300 || pr.hostNet != 1200 {
		t.Errorf("by %q, bytes %d of %d", pr.networkBy(), pr.treeNet, pr.hostNet)
	}
}

type fakeRes struct {
	io    map[int]uint64
	ns    map[int]uint64
	bytes map[uint64]uint64
	own   uint64
	calls int
}

func (f *fakeRes) Fill(procs []procinfo.Proc) (map[uint64]uint64, error) {
	f.calls++
	out := map[uint64]uint64{}
	for i := range procs {
		procs[i].IO, procs[i].NetNS = f.io[procs[i].PID], f.ns[procs[i].PID]
		out[procs[i].NetNS] = f.bytes[procs[i].NetNS]
	}
	return out, nil
}
func (f *fakeRes) OwnNetNS() uint64 { return f.own }

type fakeHost struct{ disk, net uint64 }

func (f *fakeHost) DiskBytes() (uint64, bool) { return f.disk, true }
func (f *fakeHost) NetBytes() (uint64, bool)  { return f.net, true }

// TestTreeReaderIO: the tree's storage bytes are its members' (a reaped
// child's are in its parent's), those of a member that left alive stay,
// the rusage's count after the exit, and never go backwards; other
// processes' bytes are not read. The network namespace is the tree's own
// when every member is outside wattlens's.
func TestTreeReaderIO(t *testing.T) {
	inner := &fakeProcs{}
	res := &fakeRes{own: 1, ns: map[int]uint64{}, bytes: map[uint64]uint64{1: 5000, 7: 100}}
	host := &fakeHost{disk: 1000}
	tr := newTreeReader(inner, res, host)
	if _, _, err := tr.Read(nil); err != nil {
		t.Fatal(err)
	}
	if c := tr.counters(); c.Disk != 1000 || !c.DiskOK || c.Tree != 0 {
		t.Fatalf("before the start: %+v; want the disks read, nothing of the tree", c)
	}
	tr.setRoot(100, 5, []string{"cmd"})
	steps := []struct {
		name     string
		procs    []procinfo.Proc
		io       map[int]uint64
		ns       map[int]uint64
		nsBytes  uint64
		exitIO   uint64
		want     uint64
		wantNet  uint64
		ownNetNS bool
	}{
		{"root and child; another process's bytes are not the command's", []procinfo.Proc{p(100, 50, 1, 0), p(101, 100, 1, 0), p(200, 1, 1, 0)},
			map[int]uint64{100: 10, 101: 20, 200: 1000}, map[int]uint64{100: 1, 101: 1}, 100, 0, 30, 0, false},
		{"the child reaped: its bytes are in the parent's", []procinfo.Proc{p(100, 50, 1, 0), p(200, 1, 1, 0)},
			map[int]uint64{100: 30, 200: 2000}, map[int]uint64{100: 1}, 100, 0, 30, 0, false},
		{"a grandchild leaves the tree alive: its bytes inside stay", []procinfo.Proc{p(100, 50, 1, 0), p(102, 100, 1, 0)},
			map[int]uint64{100: 30, 102: 40}, map[int]uint64{100: 7, 102: 7}, 100, 0, 70, 0, true},
		{"", []procinfo.Proc{p(100, 50, 1, 0), p(102, 1, 1, 0)},
			map[int]uint64{100: 35, 102: 90}, map[int]uint64{100: 7}, 160, 0, 75, 60, true},
		{"a race that reads less never goes backwards", []procinfo.Proc{p(100, 50, 1, 0)},
			map[int]uint64{100: 1}, map[int]uint64{100: 7}, 160, 0, 75, 60, true},
		{"after the exit the rusage counts", nil, nil, nil, 160, 120, 160, 60, true},
	}
	for _, st := range steps {
		inner.procs, res.io, res.ns = st.procs, st.io, st.ns
		res.bytes[7] = st.nsBytes
		if st.exitIO > 0 {
			tr.setExited(0, st.exitIO)
		}
		host.disk += 10
		if _, _, err := tr.Read(nil); err != nil {
			t.Fatal(err)
		}
		c := tr.counters()
		if c.Tree != st.want || c.TreeNet != st.wantNet || c.OwnNetNS != st.ownNetNS || c.Disk != host.disk {
			t.Errorf("%s: %+v; want tree %d net %d own netns %v disk %d", st.name, c, st.want, st.wantNet, st.ownNetNS, host.disk)
		}
	}
}

// TestReportResources: the text and JSON say each resource's energy, which
// add up to the command's, and how storage and network were priced.
func TestReportResources(t *testing.T) {
	r := sampleResult(0)
	r.Resources[iCPU] = units.FromJoules(10)
	r.Resources[iStorage] = units.FromJoules(5.5)
	r.Energy = r.Resources.Sum()
	r.HostResources[iCPU], r.HostResources[iStorage] = units.FromJoules(100), units.FromJoules(6)
	r.HostResources[iNetwork] = units.FromJoules(1)
	r.StorageBy, r.StorageBytes, r.HostDiskBytes = StorageByBytes, 3<<30, 4<<30
	r.NetworkBy = NetworkByCPU
	var b bytes.Buffer
	if err := (Report{Runs: []Result{r}}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  resources  cpu 10.0 J · storage 5.50 J · network 0.00 J\n",
		"  storage    3.0 GiB read and written of the disks' 4.0 GiB (75 %): storage energy by those bytes\n",
		"  network    by CPU time: the command shares the host's network namespace\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := (Report{Runs: []Result{r}}).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var j runJSON
	if err := json.Unmarshal(b.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, name := range power.Resources {
		x, ok := j.Resources[string(name)]
		if !ok {
			t.Errorf("json lacks resource %s", name)
		}
		sum += x.EnergyJoules
	}
	if abs(sum-j.EnergyJoules) > 1e-9 || j.Resources["storage"].HostEnergyJoules != 6 || j.StorageBy != "bytes" || j.NetworkBy != "cpu" || j.HostDiskBytes != 4<<30 {
		t.Errorf("json: resources add to %.6f J of %.6f J; %+v", sum, j.EnergyJoules, j)
	}
}

func TestSplitLike(t *testing.T) {
	var w snapshot.ResourceEnergy
	w[iCPU], w[power.ResourceMemory.Index()], w[power.ResourcePlatform.Index()] = 3, 3, 3
	got := splitLike(units.Energy(1000), w)
	if got.Sum() != 1000 || got[iCPU] != 333 {
		t.Errorf("split %v", got)
	}
	if got := splitLike(units.Energy(7), snapshot.ResourceEnergy{}); got[iCPU] != 7 {
		t.Errorf("no weights: %v, want all to cpu", got)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
