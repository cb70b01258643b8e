package procstat

import (
	"bytes"
	"errors"
	"os"

	"github.com/wattlens/wattlens/internal/procinfo"
)

// statFields are the fields of /proc/<pid>/stat that wattlens uses
// (proc(5), "/proc/pid/stat"; fs/proc/array.c do_task_stat).
type statFields struct {
	PID       int
	Comm      []byte // field 2 without its parentheses; points into the parsed buffer
	PPID      int    // field 4
	Flags     uint64 // field 9: the kernel's PF_* task flags
	UTime     uint64 // field 14, USER_HZ ticks
	STime     uint64 // field 15, USER_HZ ticks
	CUTime    uint64 // field 16: waited-for children's utime, USER_HZ ticks
	CSTime    uint64 // field 17: waited-for children's stime, USER_HZ ticks
	StartTime uint64 // field 22, USER_HZ ticks since boot
	VSize     uint64 // field 23: virtual memory size, bytes
	RSS       uint64 // field 24: resident set size, pages
	// HasMemory is true when the line goes on to field 24 (every kernel
	// writes it; a line cut after starttime has no memory figures).
	HasMemory bool
}

var (
	errStatComm      = errors.New("procstat: stat: no (comm) field")
	errStatTruncated = errors.New("procstat: stat: too few fields")
	errStatNumber    = errors.New("procstat: stat: bad number")
)

// Field numbers (1-based, as in proc(5)) of what parseStat reads after comm.
const (
	fieldPPID      = 4
	fieldFlags     = 9
	fieldUTime     = 14
	fieldSTime     = 15
	fieldCUTime    = 16
	fieldCSTime    = 17
	fieldStartTime = 22
	fieldVSize     = 23
	fieldRSS       = 24
)

// parseStat parses the content of /proc/<pid>/stat.
//
// comm (field 2) is whatever the process named itself, between
// parentheses, and may hold spaces and ')': it ends at the last ')' of the
// line, since no later field can contain one.
func parseStat(b []byte) (statFields, error) {
	var f statFields
	open := bytes.IndexByte(b, '(')
	if open < 2 || b[open-1] != ' ' {
		return f, errStatComm
	}
	pid, ok := parseUint(b[:open-1])
	if !ok || pid > 1<<31 {
		return f, errStatNumber
	}
	f.PID = int(pid)
	end := lastIndexByte(b, open+1, ')')
	if end < 0 {
		return f, errStatComm
	}
	f.Comm = b[open+1 : end]

	// Fields 3 onwards are separated by single spaces: " S 1 ...".
	rest := b[end+1:]
	field := 2
	for i := 0; field < fieldRSS; {
		// rest[i] is the space before field+1.
		if i >= len(rest) || rest[i] != ' ' {
			if field >= fieldStartTime {
				// A line that ends at starttime: no memory figures.
				return f, nil
			}
			return f, errStatTruncated
		}
		i++
		field++
		j := i
		for j < len(rest) && rest[j] != ' ' && rest[j] != '\n' {
			j++
		}
		switch field {
		case fieldPPID, fieldFlags, fieldUTime, fieldSTime, fieldCUTime, fieldCSTime, fieldStartTime, fieldVSize, fieldRSS:
			v, ok := parseUint(rest[i:j])
			if !ok {
				return f, errStatNumber
			}
			switch field {
			case fieldPPID:
				if v > 1<<31 {
					return f, errStatNumber
				}
				f.PPID = int(v)
			case fieldFlags:
				f.Flags = v
			case fieldUTime:
				f.UTime = v
			case fieldSTime:
				f.STime = v
			case fieldCUTime:
				f.CUTime = v
			case fieldCSTime:
				f.CSTime = v
			case fieldVSize:
				f.VSize = v
			case fieldRSS:
				f.RSS = v
				f.HasMemory = true
			default:
				f.StartTime = v
			}
		}
		i = j
	}
	return f, nil
}

// memory is the process's memory from its stat line; page is the page
// size in bytes (RSS is counted in pages).
func (f *statFields) memory(page uint64) procinfo.Memory {
	if !f.HasMemory {
		return procinfo.Memory{}
	}
	return procinfo.Memory{Resident: f.RSS * page, Virtual: f.VSize, Known: true}
}

// pageSize is the kernel's page size, RSS's unit.
var pageSize = uint64(os.Getpagesize())

// pfKthread is PF_KTHREAD (include/linux/sched.h), set in the stat flags
// of a kernel thread; execve clears it.
const pfKthread = 0x00200000

// kernelThread reports whether the process is a kernel thread now.
func (f *statFields) kernelThread() bool { return f.Flags&pfKthread != 0 }

// lastIndexByte returns the index of the last c in b at or after from, or
// -1. It hops forward with the vectorised IndexByte: in a stat line the
// first ')' found is almost always the last.
func lastIndexByte(b []byte, from int, c byte) int {
	last := -1
	for from <= len(b) {
		i := bytes.IndexByte(b[from:], c)
		if i < 0 {
			break
		}
		last = from + i
		from = last + 1
	}
	return last
}

// parseUint parses a non-empty run of decimal digits that fits in 64 bits.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		d := uint64(c - '0')
		if d > 9 {
			return 0, false
		}
		n := v*10 + d
		if n < v || v > (1<<64-1)/10 {
			return 0, false
		}
		v = n
	}
	return v, true
}
