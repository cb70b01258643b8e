package perfrapl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/sensor"
)

// Opener opens one counting perf event system-wide on one CPU. The
// kernel implementation calls perf_event_open(2); tests use a fake.
type Opener interface {
	Open(typ uint32, config uint64, cpu int) (Counter, error)
}

// Counter is one open event: Read returns its 64-bit count since it was
// opened.
type Counter interface {
	Read() (uint64, error)
	Close() error
}

// Kernel is the Opener of the running kernel: perf_event_open(2) with
// pid -1 and the given CPU (a CPU-wide event, which rapl.c requires),
// counting only (no sampling period), read_format 0, close-on-exec.
//
// A CPU-wide event needs perf_event_paranoid ≤ 0, CAP_PERFMON (Linux
// 5.8+), or CAP_SYS_ADMIN (kernel/events/core.c, perf_allow_cpu); without
// them the kernel answers EACCES. A seccomp filter (a container runtime's
// default profile without CAP_PERFMON) answers EPERM.
type Kernel struct {
	// ProcFS is where perf_event_paranoid is read for error messages
	// (<procfs>/sys/kernel/perf_event_paranoid); default /proc.
	ProcFS string
}

// Open implements Opener.
func (k Kernel) Open(typ uint32, config uint64, cpu int) (Counter, error) {
	attr := unix.PerfEventAttr{
		Type:   typ,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Config: config,
	}
	fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return nil, k.openError(typ, config, cpu, err)
	}
	return &fdCounter{f: os.NewFile(uintptr(fd), fmt.Sprintf("perf_event type %d config %#x cpu %d", typ, config, cpu))}, nil
}

// openError names the privilege that is missing, when one is.
func (k Kernel) openError(typ uint32, config uint64, cpu int, err error) error {
	what := fmt.Sprintf("perf_event_open(type %d, config %#x, cpu %d)", typ, config, cpu)
	switch {
	case errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %s: %w: %s; grant CAP_PERFMON, or run as root", sensor.ErrPermission, what, err, Paranoid(k.ProcFS))
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: %s: %w (a seccomp filter, as a container runtime's default profile without CAP_PERFMON, or a security module): %s; grant CAP_PERFMON, or run as root",
			sensor.ErrPermission, what, err, Paranoid(k.ProcFS))
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w: %s: %w: the kernel has no perf events (CONFIG_PERF_EVENTS)", sensor.ErrUnavailable, what, err)
	case errors.Is(err, unix.ENODEV):
		return fmt.Errorf("%w: %s: %w: CPU %d is offline", sensor.ErrUnavailable, what, err, cpu)
	}
	return fmt.Errorf("%w: %s: %w", sensor.ErrUnavailable, what, err)
}

// Paranoid says what <procfs>/sys/kernel/perf_event_paranoid holds, as
// "perf_event_paranoid is N" (Documentation/admin-guide/sysctl/kernel.rst:
// above 0, CPU-wide events need CAP_PERFMON).
func Paranoid(procfs string) string {
	if procfs == "" {
		procfs = "/proc"
	}
	b, err := os.ReadFile(filepath.Join(procfs, "sys", "kernel", "perf_event_paranoid"))
	if err != nil {
		return "perf_event_paranoid is unknown (" + err.Error() + ")"
	}
	return "perf_event_paranoid is " + strings.TrimSpace(string(b))
}

// fdCounter reads an event's count: read(2) of 8 bytes, the u64 value
// of read_format 0 (perf_event_open(2), "Reading results").
type fdCounter struct {
	f   *os.File
	buf [8]byte
}

func (c *fdCounter) Read() (uint64, error) {
	n, err := c.f.Read(c.buf[:])
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", c.f.Name(), err)
	}
	if n != len(c.buf) {
		return 0, fmt.Errorf("read %s: %d bytes, want 8", c.f.Name(), n)
	}
	return binary.NativeEndian.Uint64(c.buf[:]), nil
}

func (c *fdCounter) Close() error { return c.f.Close() }

// GroupEvent is one event of a group (OpenGroup).
type GroupEvent struct {
	Type   uint32
	Config uint64
}

// OpenGroup opens events as one perf group, system-wide on one CPU: the
// first is the group leader and must open; the others are added where the
// kernel accepts them (opened says which). The Counter reads the whole
// group with one read(2) (read_format PERF_FORMAT_GROUP: nr, then one u64
// value per event; perf_event_open(2), "Reading results") and returns the
// sum of the values. The kernel schedules a group's events together, so
// they count over the same time.
func (k Kernel) OpenGroup(events []GroupEvent, cpu int) (c Counter, opened []bool, err error) {
	if len(events) == 0 {
		return nil, nil, fmt.Errorf("%w: an empty event group", sensor.ErrUnavailable)
	}
	open := func(ev GroupEvent, group int, format uint64) (int, error) {
		attr := unix.PerfEventAttr{Type: ev.Type, Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{})), Config: ev.Config, Read_format: format}
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, group, unix.PERF_FLAG_FD_CLOEXEC)
		if err != nil {
			return -1, k.openError(ev.Type, ev.Config, cpu, err)
		}
		return fd, nil
	}
	lfd, err := open(events[0], -1, unix.PERF_FORMAT_GROUP)
	if err != nil {
		return nil, nil, err
	}
	g := &groupCounter{leader: os.NewFile(uintptr(lfd), fmt.Sprintf("perf_event group type %d config %#x cpu %d", events[0].Type, events[0].Config, cpu))}
	opened = make([]bool, len(events))
	opened[0] = true
	for i, ev := range events[1:] {
		fd, err := open(ev, lfd, 0)
		if err != nil {
			continue // not this PMU's: the group counts without it
		}
		g.siblings = append(g.siblings, os.NewFile(uintptr(fd), fmt.Sprintf("perf_event type %d config %#x cpu %d", ev.Type, ev.Config, cpu)))
		opened[i+1] = true
	}
	g.buf = make([]byte, 8*(2+len(g.siblings)))
	return g, opened, nil
}

// groupCounter reads a group leader's PERF_FORMAT_GROUP record and sums
// its values.
type groupCounter struct {
	leader   *os.File
	siblings []*os.File
	buf      []byte
}

func (g *groupCounter) Read() (uint64, error) {
	n, err := g.leader.Read(g.buf)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", g.leader.Name(), err)
	}
	if n < 8 || n%8 != 0 {
		return 0, fmt.Errorf("read %s: %d bytes, want 8 × (1 + events)", g.leader.Name(), n)
	}
	nr := binary.NativeEndian.Uint64(g.buf)
	if nr != uint64(n/8-1) {
		return 0, fmt.Errorf("read %s: %d values in %d bytes", g.leader.Name(), nr, n)
	}
	var sum uint64
	for i := 1; i <= int(nr); i++ {
		sum += binary.NativeEndian.Uint64(g.buf[8*i:])
	}
	return sum, nil
}

func (g *groupCounter) Close() error {
	var errs []error
	for _, f := range g.siblings {
		errs = append(errs, f.Close())
	}
	return errors.Join(append(errs, g.leader.Close())...)
}
