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
