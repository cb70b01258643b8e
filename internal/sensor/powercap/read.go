package powercap

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/fdio"
)

// readInto reads the small file at path into buf, up to len(buf) bytes or
// end of file, and returns the byte count. It opens, reads and closes with
// plain system calls: an os.File costs an allocation and an fstat per open,
// on a path taken once per zone per tick.
func readInto(path string, buf []byte) (int, error) {
	fd, err := fdio.Open(path) // a FIFO planted in the tree is refused, not waited on
	if err != nil {
		return 0, err
	}
	defer func() { _ = unix.Close(fd) }()
	n, err := fdio.ReadFull(fd, buf)
	if err != nil {
		return n, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return n, nil
}

var (
	errEmpty    = errors.New("empty")
	errOverflow = errors.New("beyond 64 bits")
)

// parseMicrojoules parses the contents of energy_uj or max_energy_range_uj:
// a decimal unsigned integer, optionally surrounded by white space (the
// kernel writes "%llu\n").
func parseMicrojoules(b []byte) (uint64, error) {
	digits := bytes.TrimSpace(b)
	if len(digits) == 0 {
		return 0, errEmpty
	}
	var v uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("want a count of microjoules, got %q", digits)
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, fmt.Errorf("%s: %w", digits, errOverflow)
		}
		v = v*10 + d
	}
	return v, nil
}
