package procstat

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// Limits on what is read once per process. A process chooses its own
// command line (up to megabytes) and name, so they are cut before they
// reach labels and JSON.
const (
	maxCmdline = 4096      // bytes kept of /proc/<pid>/cmdline
	maxComm    = 256       // bytes kept of /proc/<pid>/comm (the kernel's limit is 64)
	maxExe     = 4096      // PATH_MAX
	maxCgroup  = 64 * 1024 // bytes read of /proc/<pid>/cgroup
)

// readMeta reads, relative to the procfs directory dirfd:
//   - exe: readlink(2) of <pid>/exe;
//   - comm: <pid>/comm without its newline, else statComm (field 2 of stat);
//   - cmdline: <pid>/cmdline, NULs turned into spaces, trailing NULs dropped;
//   - cgroup: the path of the "0::" line of <pid>/cgroup (cgroup v2), else
//     of its first line (cgroups(7), "/proc/pid/cgroup").
//
// What cannot be read (kernel threads have no exe and an empty cmdline;
// another user's exe needs CAP_SYS_PTRACE) is left empty. Every string is
// made safe for labels and JSON by sanitize.
func (r *Reader) readMeta(dirfd, pid int, statComm []byte) *entry {
	e := &entry{}
	m := &e.meta
	buf := r.metaBuf

	if n, err := readlinkat(dirfd, r.metaPath(pid, "exe"), buf[:maxExe]); err == nil {
		m.Exe = sanitize(buf[:n], maxExe)
	}
	if n, err := readFull(dirfd, r.metaPath(pid, "comm"), buf[:maxComm]); err == nil && n > 0 {
		m.Comm = sanitize(bytes.TrimSuffix(buf[:n], []byte{'\n'}), maxComm)
	} else {
		m.Comm = sanitize(statComm, maxComm)
	}
	// The stat line's comm, for Read to tell an exec by; the string of
	// m.Comm serves when it holds the same bytes, saving an allocation.
	if e.comm = m.Comm; string(statComm) != e.comm {
		e.comm = string(statComm)
	}
	if n, err := readFull(dirfd, r.metaPath(pid, "cmdline"), buf[:maxCmdline]); err == nil {
		m.Cmdline = cmdline(buf[:n])
	}
	if n, err := readFull(dirfd, r.metaPath(pid, "cgroup"), buf[:maxCgroup]); err == nil {
		m.Cgroup = sanitize([]byte(CgroupPath(buf[:n])), maxExe)
	}
	return e
}

// metaPath returns "<pid>/<name>\x00" in the Reader's path buffer.
func (r *Reader) metaPath(pid int, name string) []byte {
	p := strconv.AppendInt(r.path[:0], int64(pid), 10)
	p = append(p, '/')
	p = append(p, name...)
	p = append(p, 0)
	r.path = p
	return p
}

// cmdline turns the content of /proc/<pid>/cmdline (arguments separated
// and ended by NULs) into one line. b is modified.
func cmdline(b []byte) string {
	b = bytes.TrimRight(b, "\x00")
	for i, c := range b {
		if c == 0 {
			b[i] = ' '
		}
	}
	return sanitize(b, maxCmdline)
}

// sanitize returns b as a string of at most max bytes that is valid
// UTF-8 on one line: invalid bytes become U+FFFD; tab, newline, vertical
// tab, form feed and carriage return become spaces; a cut never splits a
// character. Other control and format characters (ESC, BEL, C1, bidi
// overrides) are kept as the process set them: each
// exporter makes them safe its own way (stdout escapes them, Prometheus
// labels turn them into spaces, JSON into U+FFFD), as docs/exporters.md
// says.
func sanitize(b []byte, max int) string {
	if len(b) <= max && utf8.Valid(b) && !bytes.ContainsAny(b, "\t\n\v\f\r") {
		return string(b) // the common case
	}
	out := make([]byte, 0, min(len(b), max))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' {
			r = ' '
		}
		if len(out)+utf8.RuneLen(r) > max {
			break
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}
