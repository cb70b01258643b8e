package machine

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DiskIOTicks reads <procfs>/diskstats and returns each device's io_ticks:
// the milliseconds during which it had I/O in flight
// (Documentation/admin-guide/iostats.rst, field 10). A parse error is a
// *ParseError.
func (r Reader) DiskIOTicks() (map[string]uint64, error) {
	b, err := os.ReadFile(filepath.Join(r.procfs, "diskstats"))
	if err != nil {
		return nil, err
	}
	m, err := ParseDiskIOTicks(bytes.NewReader(b))
	if err != nil {
		return nil, &ParseError{err}
	}
	return m, nil
}

// ParseDiskIOTicks parses the text of /proc/diskstats: per line major,
// minor, device name, then the statistics fields, of which the tenth
// (column 13) is io_ticks in milliseconds.
func ParseDiskIOTicks(r io.Reader) (map[string]uint64, error) {
	out := make(map[string]uint64)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 13 {
			return nil, fmt.Errorf("diskstats: %d fields in %q, want at least 13", len(f), sc.Text())
		}
		v, err := strconv.ParseUint(f[12], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("diskstats: io_ticks of %s: %w", f[2], err)
		}
		out[f[2]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read diskstats: %w", err)
	}
	return out, nil
}

// NetDevBytes reads <procfs>/net/dev and returns each interface's bytes
// received plus bytes transmitted since it came up. It is the network
// namespace of the reader (of the process whose procfs it is). A parse
// error is a *ParseError.
func (r Reader) NetDevBytes() (map[string]uint64, error) {
	b, err := os.ReadFile(filepath.Join(r.procfs, "net", "dev"))
	if err != nil {
		return nil, err
	}
	m, err := ParseNetDevBytes(b)
	if err != nil {
		return nil, &ParseError{err}
	}
	return m, nil
}

// ParseNetDevBytes parses the text of /proc/net/dev (two header lines,
// then "iface: rx_bytes rx_packets … (8 receive fields) tx_bytes …") into
// rx_bytes + tx_bytes per interface.
func ParseNetDevBytes(b []byte) (map[string]uint64, error) {
	out := make(map[string]uint64)
	err := EachNetDev(b, func(name []byte, rx, tx uint64) { out[string(name)] = rx + tx })
	return out, err
}

// EachNetDev calls f with each interface of the text of a /proc/net/dev
// (or /proc/<pid>/net/dev) and its rx_bytes and tx_bytes; it allocates no
// map (only each line's fields).
func EachNetDev(b []byte, f func(name []byte, rx, tx uint64)) error {
	for line := range bytes.Lines(b) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue // a header line
		}
		fields := bytes.Fields(rest)
		if len(fields) < 16 {
			return fmt.Errorf("net/dev: %d fields for %q, want 16", len(fields), bytes.TrimSpace(name))
		}
		rx, err1 := strconv.ParseUint(string(fields[0]), 10, 64)
		tx, err2 := strconv.ParseUint(string(fields[8]), 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("net/dev: bytes of %q: %q %q", bytes.TrimSpace(name), fields[0], fields[8])
		}
		f(bytes.TrimSpace(name), rx, tx)
	}
	return nil
}
