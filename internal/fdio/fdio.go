// Package fdio reads small kernel files (sysfs, procfs) through raw file
// descriptors into caller-owned buffers, with no allocation: the per-tick
// readers of procstat, powercap and the qemu exporter share it. It also
// holds the one rule for a system call that a signal interrupted (EINTR):
// call it again (Retry, RetryErrno).
package fdio

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// Retry calls f until it returns an error other than EINTR, or none, and
// returns what that call returned. f is a system call through
// golang.org/x/sys/unix (open, read, write, …), whose errors are bare
// errnos; a signal that arrives while it waits makes it fail with EINTR
// (signal(7)): an open on a network or FUSE file system, a read or a
// write that waits. It is simply called again.
func Retry[T any](f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err != unix.EINTR {
			return v, err
		}
	}
}

// RetryErrno is Retry for a system call made with unix.Syscall6 or
// unix.RawSyscall6, which reports its result as a word and its error as an
// errno, 0 for none.
func RetryErrno(f func() (uintptr, unix.Errno)) (uintptr, unix.Errno) {
	for {
		r, errno := f()
		if errno != unix.EINTR {
			return r, errno
		}
	}
}

// ReadFull reads fd until EOF or until buf is full, retrying reads that a
// signal interrupted (EINTR), and returns how many bytes it read. Files
// longer than buf are cut at len(buf). The caller opens and closes fd.
func ReadFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := Retry(func() (int, error) { return unix.Read(fd, buf[n:]) })
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// ErrNotRegular is returned by Open for a path that is not a regular file
// (a FIFO, a socket, a device planted in a sysfs or share tree).
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading without ever blocking: O_NONBLOCK makes an
// open of a FIFO return at once (a plain open waits for a writer, deaf to
// signals), and anything but a regular file is closed and refused with
// ErrNotRegular. sysfs and procfs attributes are regular files, so the
// readers lose nothing. O_NONBLOCK has no effect on regular files.
func Open(path string) (int, error) {
	fd, err := Retry(func() (int, error) {
		return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	})
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return -1, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		_ = unix.Close(fd)
		return -1, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return fd, nil
}

// ReadFile reads at most limit bytes of the regular file at path, opened
// with Open. A file longer than limit is an error.
func ReadFile(path string, limit int) ([]byte, error) {
	b, _, err := ReadFileMode(path, limit)
	return b, err
}

// ReadFileMode is ReadFile that also returns the file's permission bits,
// as fstat saw them on the descriptor it read (so a check of the mode
// is of the file read, not of one put in its place in between).
func ReadFileMode(path string, limit int) ([]byte, fs.FileMode, error) {
	fd, err := Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = unix.Close(fd) }()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, 0, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	buf := make([]byte, limit+1)
	n, err := ReadFull(fd, buf)
	if err != nil {
		return nil, 0, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if n > limit {
		return nil, 0, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d bytes", limit)}
	}
	return buf[:n], fs.FileMode(st.Mode & 0o777), nil
}

// Check opens path as Open does and closes it: for a file that a library
// opens itself (a TLS key pair, exporter-toolkit's web configuration),
// checked first so that a FIFO or a device given in its place is refused
// with ErrNotRegular instead of hanging the library's plain open.
func Check(path string) error {
	fd, err := Open(path)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}
