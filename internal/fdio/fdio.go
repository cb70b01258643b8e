// Package fdio reads small kernel files (sysfs, procfs) through raw file
// descriptors into caller-owned buffers, with no allocation: the per-tick
// readers of procstat, powercap and the qemu exporter share it.
package fdio

import "golang.org/x/sys/unix"

// ReadFull reads fd until EOF or until buf is full, retrying reads that a
// signal interrupted (EINTR), and returns how many bytes it read. Files
// longer than buf are cut at len(buf). The caller opens and closes fd.
func ReadFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
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
