package procstat

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/procinfo"
)

// ErrNoChildren is returned by Descendants when the procfs tree has no
// <pid>/task/<tid>/children files (a kernel built without
// CONFIG_PROC_CHILDREN, or a fixture tree): the caller must list every
// process instead.
var ErrNoChildren = errors.New("procstat: no /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN)")

// maxChildrenFile bounds one children file: 4 MiB holds the PIDs of more
// children than a thread can have (pid_max is at most 4 194 304).
const maxChildrenFile = 4 << 20

// Descendants appends to dst[:0] the PID root and the PIDs of all its
// living descendants, each once, root first, and returns it. It follows
// <procfs>/<pid>/task/<tid>/children (proc(5)) of every thread of every
// process it finds: a process's children are those its threads forked and
// have not been re-parented since. A child forked while the tree is being
// walked may be missed; it is found at the next walk, with all its CPU
// time. A root that does not exist gives an empty list, not an error.
//
// The cost is that of the tree (one directory listing and one small read
// per thread), not of every process on the host, which is what makes
// `wattlens run` cheap on a busy host.
func (r *Reader) Descendants(root int, dst []int) ([]int, error) {
	dst = dst[:0]
	dirfd, err := openat(unix.AT_FDCWD, r.rootPath, unix.O_DIRECTORY)
	if err != nil {
		return dst, fmt.Errorf("procstat: open %s: %w", r.root, err)
	}
	defer func() { _ = unix.Close(dirfd) }()
	seen := map[int]bool{root: true}
	dst = append(dst, root)
	for i := 0; i < len(dst); i++ {
		var ok bool
		r.kids, ok, err = r.children(dirfd, dst[i], r.kids[:0])
		if err != nil {
			return dst[:0], err
		}
		if i == 0 && !ok {
			return dst[:0], nil // the root is gone
		}
		for _, c := range r.kids {
			if !seen[c] {
				seen[c] = true
				dst = append(dst, c)
			}
		}
	}
	return dst, nil
}

// children appends the children of every thread of pid to kids. ok is
// false when pid has no task directory (it has gone); err is ErrNoChildren
// when a thread that exists has no children file.
func (r *Reader) children(dirfd, pid int, kids []int) (_ []int, ok bool, err error) {
	task := strconv.AppendInt(r.path[:0], int64(pid), 10)
	task = append(task, "/task\x00"...)
	r.path = task
	tfd, err := openat(dirfd, task, unix.O_DIRECTORY)
	if err != nil {
		return kids, false, nil
	}
	r.tids, err = appendPIDs(tfd, r.dirBuf, r.tids[:0])
	_ = unix.Close(tfd)
	if err != nil {
		return kids, false, nil
	}
	if r.childBuf == nil {
		r.childBuf = make([]byte, 4096)
	}
	for _, tid := range r.tids {
		p := strconv.AppendInt(r.path[:0], int64(pid), 10)
		p = append(p, "/task/"...)
		p = strconv.AppendInt(p, int64(tid), 10)
		dir := len(p)
		p = append(p, "/children\x00"...)
		r.path = p
		n, err := r.readGrowing(dirfd, p)
		if errors.Is(err, unix.ENOENT) {
			// The thread has gone, or the kernel has no children files:
			// the thread's directory tells which.
			if fd, derr := openat(dirfd, append(p[:dir:dir], 0), unix.O_DIRECTORY); derr == nil {
				_ = unix.Close(fd)
				return kids, true, ErrNoChildren
			}
			continue
		}
		if err != nil {
			continue // the thread has gone, or cannot be read
		}
		kids = appendPIDList(kids, r.childBuf[:n])
	}
	return kids, true, nil
}

// readGrowing reads path (NUL-terminated) relative to dirfd whole into
// r.childBuf, growing it up to maxChildrenFile.
func (r *Reader) readGrowing(dirfd int, path []byte) (int, error) {
	for {
		n, err := readFull(dirfd, path, r.childBuf)
		if err != nil || n < len(r.childBuf) || len(r.childBuf) >= maxChildrenFile {
			return n, err
		}
		r.childBuf = make([]byte, 2*len(r.childBuf))
	}
}

// appendPIDList appends the PIDs of a space-separated list ("12 345 ") to
// pids; anything that is not a PID is skipped.
func appendPIDList(pids []int, b []byte) []int {
	pid, digits, bad := 0, false, false
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == ' ' || b[i] == '\n' {
			if digits && !bad {
				pids = append(pids, pid)
			}
			pid, digits, bad = 0, false, false
			continue
		}
		if c := b[i]; c >= '0' && c <= '9' && pid <= (1<<31)/10 {
			pid, digits = pid*10+int(c-'0'), true
		} else {
			bad = true
		}
	}
	return pids
}

// ReadPIDs appends one Proc per PID of pids that is alive to dst[:0] and
// returns it: its key, CPU time, parent and children's CPU time, read
// from <procfs>/<pid>/stat as Read does. It reads no Meta (Proc.Meta is
// nil) and leaves Read's cache alone. PIDs that have gone are counted in
// Stats.Skipped.
func (r *Reader) ReadPIDs(dst []procinfo.Proc, pids []int) ([]procinfo.Proc, procinfo.Stats, error) {
	dst = dst[:0]
	dirfd, err := openat(unix.AT_FDCWD, r.rootPath, unix.O_DIRECTORY)
	if err != nil {
		return dst, procinfo.Stats{}, fmt.Errorf("procstat: open %s: %w", r.root, err)
	}
	defer func() { _ = unix.Close(dirfd) }()
	st := procinfo.Stats{Seen: len(pids)}
	for _, pid := range pids {
		f, ok := r.readStat(dirfd, pid)
		if !ok {
			st.Skipped++
			continue
		}
		dst = append(dst, procinfo.Proc{Key: procinfo.Key{PID: pid, StartTime: f.StartTime}, CPU: f.UTime + f.STime, PPID: f.PPID, ChildCPU: f.CUTime + f.CSTime, Memory: f.memory(pageSize)})
	}
	return dst, st, nil
}
