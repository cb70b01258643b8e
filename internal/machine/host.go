package machine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// The machine's state that changes from one tick to the next: its load
// average, its disks' space and the agent's own process. Scaphandre's
// dashboards chart them beside power (scaph_host_load_avg_*,
// scaph_host_disk_*, scaph_self_*); wattlens reads them with the roots of
// a Reader, once per tick, only where --compat=scaphandre asks.

// LoadAvg is <procfs>/loadavg: the run-queue averages over 1, 5 and 15
// minutes (proc(5), "/proc/loadavg").
type LoadAvg struct {
	One, Five, Fifteen float64
}

// LoadAvg reads <procfs>/loadavg (prometheus/procfs parses it).
func (r Reader) LoadAvg() (LoadAvg, error) {
	fs, err := procfs.NewFS(r.procfs)
	if err != nil {
		return LoadAvg{}, err
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return LoadAvg{}, err
	}
	return LoadAvg{One: l.Load1, Five: l.Load5, Fifteen: l.Load15}, nil
}

// Disk is one mounted block-device file system and its space, with the
// labels Scaphandre gives scaph_host_disk_*_bytes.
type Disk struct {
	// Name is the device (/dev/vda1), FileSystem its type (ext4),
	// MountPoint where it is mounted.
	Name, FileSystem, MountPoint string
	// Type is "SSD", "HDD" or "Unknown" from the disk's
	// queue/rotational in sysfs; Removable from its removable file.
	Type      string
	Removable bool
	// Total and Available are in bytes; Available is what an
	// unprivileged user may still write (statfs f_bavail).
	Total, Available uint64
}

// Statfs is statfs(2); Reader.Disks calls it on each mount point.
type Statfs func(path string, st *unix.Statfs_t) error

// Disks lists the file systems of <procfs>/self/mountinfo whose source is
// a block device (/dev/…), one per mount point, with statfs's figures
// (statfs nil: unix.Statfs). The mount points are those of the reading
// process's own mount namespace, so they are paths it can statfs. A
// mount point statfs refuses is left out; an unreadable mountinfo is an
// error.
func (r Reader) Disks(statfs Statfs) ([]Disk, error) {
	if statfs == nil {
		statfs = unix.Statfs
	}
	fs, err := procfs.NewFS(r.procfs)
	if err != nil {
		return nil, err
	}
	self, err := fs.Self()
	if err != nil {
		return nil, err
	}
	mounts, err := self.MountInfo()
	if err != nil {
		return nil, err
	}
	var out []Disk
	seen := map[string]bool{}
	for _, m := range mounts {
		if !strings.HasPrefix(m.Source, "/dev/") || seen[m.MountPoint] {
			continue
		}
		var st unix.Statfs_t
		if statfs(m.MountPoint, &st) != nil || st.Blocks == 0 {
			continue
		}
		seen[m.MountPoint] = true
		d := Disk{
			Name: m.Source, FileSystem: m.FSType, MountPoint: m.MountPoint,
			Total:     st.Blocks * uint64(st.Bsize),
			Available: st.Bavail * uint64(st.Bsize),
		}
		d.Type, d.Removable = r.blockKind(filepath.Base(m.Source))
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Disk) int { return strings.Compare(a.MountPoint, b.MountPoint) })
	return out, nil
}

// blockKind reads <sysfs>/class/block/<dev>/queue/rotational and
// removable, or its disk's when dev is a partition (a partition's sysfs
// directory sits inside its disk's). Unreadable: "Unknown", false.
func (r Reader) blockKind(dev string) (kind string, removable bool) {
	dir, err := filepath.EvalSymlinks(filepath.Join(r.sysfs, "class", "block", dev))
	if err != nil {
		return "Unknown", false
	}
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		dir = filepath.Dir(dir)
	}
	kind = "Unknown"
	switch strings.TrimSpace(readString(filepath.Join(dir, "queue", "rotational"))) {
	case "0":
		kind = "SSD"
	case "1":
		kind = "HDD"
	}
	return kind, strings.TrimSpace(readString(filepath.Join(dir, "removable"))) == "1"
}

func readString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// Self is the reading process's own CPU time and memory, from
// <procfs>/self/stat (fields 14, 15, 23, 24).
type Self struct {
	// CPUSeconds is utime + stime since it started.
	CPUSeconds float64
	// Resident and Virtual are its resident set and virtual memory, in
	// bytes.
	Resident, Virtual uint64
}

// errSelf wraps a failure to read the agent's own stat.
var errSelf = errors.New("machine: reading the agent's own stat")

// Self reads <procfs>/self/stat.
func (r Reader) Self() (Self, error) {
	fs, err := procfs.NewFS(r.procfs)
	if err != nil {
		return Self{}, fmt.Errorf("%w: %w", errSelf, err)
	}
	p, err := fs.Self()
	if err != nil {
		return Self{}, fmt.Errorf("%w: %w", errSelf, err)
	}
	st, err := p.Stat()
	if err != nil {
		return Self{}, fmt.Errorf("%w: %w", errSelf, err)
	}
	return Self{CPUSeconds: st.CPUTime(), Resident: uint64(max(st.ResidentMemory(), 0)), Virtual: uint64(st.VirtualMemory())}, nil
}

// ProcessMemory reads <procfs>/<pid>/stat and returns the process's
// resident set and virtual memory sizes in bytes (fields 24 × the page
// size, 23). startTime (field 22, clock ticks since boot) must match, so
// that a PID reused since is not mistaken for the process; ok is false
// when the process is gone, reused or unreadable.
func (r Reader) ProcessMemory(pid int, startTime uint64) (resident, virtual uint64, ok bool) {
	fs, err := procfs.NewFS(r.procfs)
	if err != nil {
		return 0, 0, false
	}
	p, err := fs.Proc(pid)
	if err != nil {
		return 0, 0, false
	}
	st, err := p.Stat()
	if err != nil || st.Starttime != startTime {
		return 0, 0, false
	}
	return uint64(max(st.ResidentMemory(), 0)), uint64(st.VirtualMemory()), true
}
