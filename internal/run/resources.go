package run

import (
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// How a run's storage and network energy went to the command
// (Result.StorageBy, Result.NetworkBy).
const (
	// StorageByBytes: the storage energy of each tick × the command's
	// bytes over the machine's disk bytes (at most 1).
	StorageByBytes = "bytes"
	// StorageUnknown: the machine's disk bytes could not be read (no disk
	// listed, no /proc/diskstats): no storage energy was priced to the
	// command.
	StorageUnknown = "unknown"
	// NetworkByNetNS: the command's processes were in a network namespace
	// of their own; the network energy × its bytes over the machine's NIC
	// bytes (at most 1).
	NetworkByNetNS = "netns"
	// NetworkByCPU: the command shared the host's network namespace, whose
	// bytes no process can be told by: its CPU time's share of the host's
	// busy time, as cpu, memory and platform.
	NetworkByCPU = "cpu"
	// NetworkByBoth: some ticks one way, some the other.
	NetworkByBoth = "netns+cpu"
)

// creditLife is how long bytes the command's processes counted wait for
// the disks to show them: a write through the page cache is counted in
// write_bytes when the page is dirtied and reaches the disk at writeback,
// at most dirty_expire_centisecs (30 s by default) plus one
// dirty_writeback_centisecs (5 s) later (Documentation/admin-guide/sysctl/
// vm.rst). Bytes older than that never matched a disk transfer (a file
// deleted before writeback, a cancelled write) and are dropped.
const creditLife = 35 * time.Second

type credit struct {
	at    time.Time
	bytes uint64
}

// ioPricer prices each tick's storage and network energy to the command by
// its bytes against the machine's.
type ioPricer struct {
	prev    ioCounters
	pending []credit // the command's bytes the disks have not shown yet, oldest first
	// Over the run: the command's bytes, those matched by the disks, the
	// disks' bytes; the namespace's and the NICs' bytes.
	tree, matched, disk uint64
	treeNet, hostNet    uint64
	storageKnown        bool
	byNetNS, byCPU      bool
}

func newIOPricer(start ioCounters) *ioPricer { return &ioPricer{prev: start} }

// price returns the command's energy per resource in the tick of s: what
// the attribution gave it (cmd) for cpu, memory, platform and gpu; storage
// by its bytes; network by its namespace's bytes, or what the attribution
// gave it by CPU time.
func (p *ioPricer) price(s *snapshot.Snapshot, cmd snapshot.ResourceEnergy, cur ioCounters) snapshot.ResourceEnergy {
	defer func() { p.prev = cur }()
	host, idle := s.Resources.Host.Delta, s.Resources.Idle.Delta
	pool := func(r power.Resource) units.Energy {
		i := r.Index()
		if host[i] <= idle[i] {
			return 0
		}
		return host[i] - idle[i]
	}
	out := cmd
	st := power.ResourceStorage.Index()
	out[st] = 0
	dTree := sub(cur.Tree, p.prev.Tree)
	p.tree += dTree
	if cur.DiskOK && p.prev.DiskOK {
		p.storageKnown = true
		dDisk := sub(cur.Disk, p.prev.Disk)
		p.disk += dDisk
		m := p.match(s.Time, dTree, dDisk)
		p.matched += m
		out[st] = scaled(pool(power.ResourceStorage), m, dDisk)
	}
	nt := power.ResourceNetwork.Index()
	if cur.OwnNetNS && cur.NetOK && p.prev.NetOK {
		dNS, dNet := sub(cur.TreeNet, p.prev.TreeNet), sub(cur.Net, p.prev.Net)
		p.treeNet += dNS
		p.hostNet += dNet
		out[nt] = scaled(pool(power.ResourceNetwork), min(dNS, dNet), dNet)
		p.byNetNS = true
	} else if host[nt] > 0 {
		p.byCPU = true
	}
	return out
}

// match adds the command's new bytes to those waiting for the disks,
// drops those older than creditLife, and takes up to disk of them, oldest
// first; it returns how many it took.
func (p *ioPricer) match(now time.Time, tree, disk uint64) uint64 {
	if tree > 0 {
		p.pending = append(p.pending, credit{at: now, bytes: tree})
	}
	for len(p.pending) > 0 && now.Sub(p.pending[0].at) > creditLife {
		p.pending = p.pending[1:]
	}
	var took uint64
	for len(p.pending) > 0 && took < disk {
		c := &p.pending[0]
		n := min(c.bytes, disk-took)
		took += n
		if c.bytes -= n; c.bytes == 0 {
			p.pending = p.pending[1:]
		}
	}
	return took
}

func (p *ioPricer) storageBy() string {
	if p.storageKnown {
		return StorageByBytes
	}
	return StorageUnknown
}

func (p *ioPricer) networkBy() string {
	switch {
	case p.byNetNS && p.byCPU:
		return NetworkByBoth
	case p.byNetNS:
		return NetworkByNetNS
	case p.byCPU:
		return NetworkByCPU
	}
	return ""
}

// scaled is e × num / den, rounded down (never above e); 0 when den is 0.
func scaled(e units.Energy, num, den uint64) units.Energy {
	if den == 0 || num == 0 || e <= 0 {
		return 0
	}
	if num >= den {
		return e
	}
	return units.Energy(float64(e) * float64(num) / float64(den))
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// splitLike divides e among the resources in proportion to weights, in
// whole microjoules that add up to e; all to cpu when the weights are 0.
func splitLike(e units.Energy, weights snapshot.ResourceEnergy) snapshot.ResourceEnergy {
	var out snapshot.ResourceEnergy
	sum := weights.Sum()
	if sum <= 0 {
		out[power.ResourceCPU.Index()] = e
		return out
	}
	var given units.Energy
	last := -1
	for i, w := range weights {
		if w <= 0 {
			continue
		}
		out[i] = units.Energy(float64(e) * float64(w) / float64(sum))
		given += out[i]
		last = i
	}
	out[last] += e - given
	return out
}
