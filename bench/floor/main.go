// Command floor is the procfs floor of the whole-agent benchmark
// (bench/agentperf): every step it lists the procfs root and opens, reads
// and closes every <pid>/stat, and does nothing else. Nothing cheaper can
// give a process's CPU time each step, so an agent's CPU is compared with
// this program's, run side by side with it.
//
// It uses the system calls procstat.Reader uses (getdents64 into one
// buffer, openat relative to the root with the path built in place, one
// read, close) and allocates nothing per step. With -raw it enters them
// with syscall.RawSyscall6, which skips the Go scheduler's bookkeeping
// around each call (entersyscall/exitsyscall, and the system monitor
// thread that wakes to take back the processor of a thread in a system
// call): the cheapest a Go program can read procfs.
//
//	floor [-procfs /proc] [-step 1s] [-raw]
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	procfs := flag.String("procfs", "/proc", "procfs root")
	step := flag.Duration("step", time.Second, "interval between two passes")
	flag.BoolVar(&raw, "raw", false, "enter the system calls with RawSyscall6")
	flag.Parse()
	root := append([]byte(*procfs), 0)
	dir := make([]byte, 64*1024)
	buf := make([]byte, 4096)
	path := make([]byte, 0, 64)
	pids := make([]int, 0, 16384)
	t := time.NewTicker(*step)
	defer t.Stop()
	for {
		if err := pass(root, dir, buf, &path, &pids); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		<-t.C
	}
}

var raw bool

func syscall6(trap, a1, a2, a3 uintptr) (uintptr, unix.Errno) {
	if raw {
		r, _, e := unix.RawSyscall6(trap, a1, a2, a3, 0, 0, 0)
		return r, e
	}
	r, _, e := unix.Syscall6(trap, a1, a2, a3, 0, 0, 0)
	return r, e
}

// pass lists root and reads every <pid>/stat once.
func pass(root, dir, buf []byte, path *[]byte, pids *[]int) error {
	dfd, err := openat(unix.AT_FDCWD, root, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(dfd) }()
	*pids = (*pids)[:0]
	for {
		n, err := unix.Getdents(dfd, dir)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		for off := 0; off < n; {
			reclen := int(*(*uint16)(unsafe.Pointer(&dir[off+16])))
			name := dir[off+19 : off+reclen]
			if pid, ok := atoi(name); ok {
				*pids = append(*pids, pid)
			}
			off += reclen
		}
	}
	for _, pid := range *pids {
		p := strconv.AppendInt((*path)[:0], int64(pid), 10)
		p = append(p, "/stat\x00"...)
		*path = p
		fd, err := openat(dfd, p, unix.O_RDONLY)
		if err != nil {
			continue // gone
		}
		_, _ = syscall6(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		_, _ = syscall6(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	}
	return nil
}

// atoi parses a NUL-terminated decimal directory entry name.
func atoi(b []byte) (int, bool) {
	n := 0
	for i, c := range b {
		if c == 0 {
			return n, i > 0
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// openat opens the NUL-terminated path p relative to dirfd without
// copying it (unix.Openat copies the path to the heap).
func openat(dirfd int, p []byte, flags int) (int, error) {
	fd, errno := syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(&p[0])), uintptr(flags|unix.O_CLOEXEC))
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}
