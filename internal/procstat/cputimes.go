package procstat

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/fdio"
	"github.com/wattlens/wattlens/internal/procinfo"
)

var (
	errCPUMissing = errors.New("procstat: /proc/stat: no cpu line")
	errCPUNumber  = errors.New("procstat: /proc/stat: bad cpu field")
)

// CPUTimes reads the machine-wide CPU times from <procfs>/stat: the first
// line ("cpu  user nice system idle iowait irq softirq steal guest
// guest_nice", USER_HZ ticks summed over CPUs; proc(5), "/proc/stat") and
// the number of cpuN lines.
func (r *Reader) CPUTimes() (procinfo.CPUTimes, error) {
	b, err := r.readProcStat()
	if err != nil {
		return procinfo.CPUTimes{}, fmt.Errorf("procstat: read %s/stat: %w", r.root, err)
	}
	return parseCPUTimes(b)
}

// readProcStat reads <procfs>/stat until EOF or until the cpu lines are
// complete (they come first; the "intr" line after them can be long).
func (r *Reader) readProcStat() ([]byte, error) {
	fd, err := openat(unix.AT_FDCWD, r.statPath, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = unix.Close(fd) }()
	if r.sysBuf == nil {
		r.sysBuf = make([]byte, 0, 16*1024)
	}
	b := r.sysBuf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := fdio.Retry(func() (int, error) { return unix.Read(fd, b[len(b):cap(b)]) })
		if err != nil {
			return nil, err
		}
		b = b[:len(b)+n]
		if n == 0 || cpuLinesDone(b) {
			break
		}
	}
	r.sysBuf = b
	return b, nil
}

// cpuLinesDone reports whether b holds a complete line that is not a cpu
// line, so that every cpu line has been read.
func cpuLinesDone(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		if !bytes.HasPrefix(b[:i], []byte("cpu")) {
			return true
		}
		b = b[i+1:]
	}
}

// parseCPUTimes parses the content of /proc/stat. Work is user + nice +
// system + irq + softirq, Busy adds steal; guest and guest_nice are not added, the
// kernel already counts them in user and nice. Fields missing on old
// kernels count as zero; the first four are required.
func parseCPUTimes(b []byte) (procinfo.CPUTimes, error) {
	var c procinfo.CPUTimes
	seen := false
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		rest, ok := bytes.CutPrefix(line, []byte("cpu"))
		if !ok {
			break
		}
		if len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
			c.CPUs++
			continue
		}
		if seen {
			continue
		}
		seen = true
		var v [8]uint64 // user nice system idle iowait irq softirq steal
		fields := bytes.Fields(rest)
		if len(fields) < 4 {
			return procinfo.CPUTimes{}, errCPUNumber
		}
		for i := 0; i < len(v) && i < len(fields); i++ {
			n, ok := parseUint(fields[i])
			if !ok {
				return procinfo.CPUTimes{}, fmt.Errorf("%w: %q", errCPUNumber, fields[i])
			}
			v[i] = n
		}
		c.Work = v[0] + v[1] + v[2] + v[5] + v[6]
		c.Busy = c.Work + v[7]
		c.Total = c.Busy + v[3] + v[4]
	}
	if !seen {
		return procinfo.CPUTimes{}, errCPUMissing
	}
	return c, nil
}
