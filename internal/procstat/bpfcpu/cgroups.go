package bpfcpu

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// maxCgroupNames bounds the IDs remembered.
const maxCgroupNames = 65536

// maxCgroupWalk bounds how many cgroup directories one lookup visits.
const maxCgroupWalk = 20000

// cgroupNames turns the cgroup v2 IDs the BPF program records into cgroup
// paths as /proc/<pid>/cgroup shows them ("/system.slice/cron.service"),
// for the processes that exit before procfs could be read. A cgroup v2
// ID is the inode number of the cgroup's directory in the cgroup2 file
// system (kernfs), so an ID is learnt two ways:
//   - from the processes whose Meta was read from procfs: their ID and
//     their Meta.Cgroup, as the program and procfs saw them;
//   - failing that, by walking the cgroup2 mount (root) for the
//     directory with that inode, at most once per tick, so that a
//     container whose every process is short-lived is still found.
//
// An ID neither way finds (cgroup v1 only, a cgroup already removed) gives
// "".
type cgroupNames struct {
	root     string // the cgroup2 mount, "" when there is none
	names    map[uint64]string
	walkedAt uint64 // tick of the last walk
}

func newCgroupNames(root string) *cgroupNames {
	return &cgroupNames{root: root, names: make(map[uint64]string)}
}

// learn records that cgroup id is path.
func (c *cgroupNames) learn(id uint64, path string) {
	if id != 0 && path != "" {
		if len(c.names) >= maxCgroupNames {
			clear(c.names) // cgroups come and go; start again rather than grow
		}
		c.names[id] = path
	}
}

// path returns the cgroup path of id, walking the cgroup2 mount when it
// is unknown and the mount has not been walked this tick.
func (c *cgroupNames) path(id, tick uint64) string {
	if id == 0 {
		return ""
	}
	if p, ok := c.names[id]; ok {
		return p
	}
	if c.root == "" || c.walkedAt == tick {
		return ""
	}
	c.walkedAt = tick
	c.walk()
	return c.names[id]
}

// walk records the inode of every directory under the cgroup2 mount.
func (c *cgroupNames) walk() {
	n := 0
	_ = filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if n++; n > maxCgroupWalk {
			return filepath.SkipAll
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		rel, err := filepath.Rel(c.root, p)
		if err != nil {
			return nil
		}
		if rel == "." {
			rel = ""
		}
		c.names[st.Ino] = "/" + rel
		return nil
	})
}
