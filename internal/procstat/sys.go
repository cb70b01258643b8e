package procstat

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/fdio"
)

// The helpers below are thin wrappers over open/read/close/getdents64 that
// take NUL-terminated []byte paths, so that the per-tick loop allocates
// nothing: the x/sys/unix functions that take a string copy it to the heap
// on every call.

// cstring returns s followed by a NUL byte.
func cstring(s string) []byte { return append([]byte(s), 0) }

// openat opens path, which must end with a NUL byte, relative to dirfd
// (unix.AT_FDCWD for the working directory), read-only.
func openat(dirfd int, path []byte, flags int) (int, error) {
	fd, errno := fdio.RetryErrno(func() (uintptr, unix.Errno) {
		r, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd),
			uintptr(unsafe.Pointer(&path[0])), uintptr(flags|unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
		return r, errno
	})
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// readlinkat reads the target of the link path (NUL-terminated) relative
// to dirfd into buf.
func readlinkat(dirfd int, path, buf []byte) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd),
		uintptr(unsafe.Pointer(&path[0])), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// readStatOnce opens path relative to dirfd, reads it with a single
// read(2) into buf and closes it: one read is enough for a procfs file
// that fits in buf, the kernel fills as much as it has in one call. It is
// for the per-tick <pid>/stat read, and enters the system calls with
// RawSyscall6: without the Go scheduler's
// entersyscall/exitsyscall around each of them, and without the system
// monitor thread waking every 20 µs during a tick to take back the
// processor of a thread it sees in a system call. Thousands of these
// calls make a tick, and that bookkeeping cost 10–20 % of the whole agent
// (docs/performance.md). It is only for <pid>/stat: reading it never
// waits for I/O or for a lock another task may hold for long (proc(5)'s
// do_task_stat takes no mmap lock, unlike cmdline or environ), so the
// thread never blocks in the kernel holding its processor.
func readStatOnce(dirfd int, path, buf []byte) (int, error) {
	fd, errno := fdio.RetryErrno(func() (uintptr, unix.Errno) {
		r, _, errno := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dirfd),
			uintptr(unsafe.Pointer(&path[0])), uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
		return r, errno
	})
	if errno != 0 {
		return 0, errno
	}
	n, errno := fdio.RetryErrno(func() (uintptr, unix.Errno) {
		r, _, errno := unix.RawSyscall6(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
		return r, errno
	})
	_, _, _ = unix.RawSyscall6(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// readFull opens path relative to dirfd and reads it into buf until EOF or
// buf is full, then closes it. Longer files are cut at len(buf).
func readFull(dirfd int, path, buf []byte) (int, error) {
	fd, err := openat(dirfd, path, 0)
	if err != nil {
		return 0, err
	}
	defer func() { _ = unix.Close(fd) }()
	return fdio.ReadFull(fd, buf)
}

// Offsets in struct linux_dirent64 (getdents64(2)).
const (
	direntReclen = 16 // d_reclen, uint16
	direntType   = 18 // d_type, uint8
	direntName   = 19 // d_name, NUL-terminated
)

// appendPIDs lists the directory dirfd with getdents64(2), using buf, and
// appends to pids every entry whose name is a decimal number (a process
// directory in procfs). The directory must be freshly opened.
func appendPIDs(dirfd int, buf []byte, pids []int) ([]int, error) {
	for {
		// Raw, as in readStatOnce: listing procfs never waits for I/O.
		r, errno := fdio.RetryErrno(func() (uintptr, unix.Errno) {
			r, _, errno := unix.RawSyscall6(unix.SYS_GETDENTS64, uintptr(dirfd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
			return r, errno
		})
		if errno != 0 {
			return pids, errno
		}
		n := int(r)
		if n <= 0 {
			return pids, nil
		}
		for off := 0; off+direntName < n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+direntReclen:]))
			if reclen <= direntName || off+reclen > n {
				break // malformed; never seen from the kernel
			}
			if t := buf[off+direntType]; t == unix.DT_DIR || t == unix.DT_UNKNOWN {
				if pid, ok := direntPID(buf[off+direntName : off+reclen]); ok {
					pids = append(pids, pid)
				}
			}
			off += reclen
		}
	}
}

// direntPID parses a NUL-terminated directory entry name as a PID.
func direntPID(name []byte) (int, bool) {
	pid := 0
	i := 0
	for ; i < len(name) && name[i] != 0; i++ {
		c := name[i] - '0'
		if c > 9 || pid > (1<<31)/10 {
			return 0, false
		}
		pid = pid*10 + int(c)
	}
	return pid, i > 0
}
