package machine

import (
	"bufio"
	"bytes"
	"errors"
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

// DiskBytes reads <procfs>/diskstats and returns each device's bytes read
// plus bytes written since boot: (sectors read + sectors written) × 512,
// the kernel's sector being 512 bytes whatever the device's
// (Documentation/admin-guide/iostats.rst, fields 3 and 7). A parse error
// is a *ParseError.
func (r Reader) DiskBytes() (map[string]uint64, error) {
	b, err := os.ReadFile(filepath.Join(r.procfs, "diskstats"))
	if err != nil {
		return nil, err
	}
	m, err := ParseDiskBytes(b)
	if err != nil {
		return nil, &ParseError{err}
	}
	return m, nil
}

// ParseDiskBytes parses the text of /proc/diskstats into bytes read plus
// bytes written per device: columns 6 (sectors read) and 10 (sectors
// written), × 512.
func ParseDiskBytes(b []byte) (map[string]uint64, error) {
	out := make(map[string]uint64)
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 10 {
			return nil, fmt.Errorf("diskstats: %d fields in %q, want at least 10", len(f), bytes.TrimSpace(line))
		}
		rd, err1 := strconv.ParseUint(string(f[5]), 10, 64)
		wr, err2 := strconv.ParseUint(string(f[9]), 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("diskstats: sectors of %s: %q %q", f[2], f[5], f[9])
		}
		out[string(f[2])] = (rd + wr) * 512
	}
	return out, nil
}

// HostIO reads the whole machine's storage and network traffic: bytes
// read and written on its disks (the whole disks BlockDevices lists, so
// that a partition, a device-mapper or md volume is not counted beside the
// disk below it) and bytes received and transmitted on its interfaces with
// hardware behind them (NetInterfaces). The devices are listed once, by
// NewHostIO.
type HostIO struct {
	r     Reader
	disks []string
	nics  []string
}

// NewHostIO lists the disks and interfaces of the machine below procfs and
// sysfs; what cannot be listed is returned as an error beside a HostIO that
// reads what could be.
func NewHostIO(procfs, sysfs string) (*HostIO, error) {
	r := New(procfs, sysfs)
	h := &HostIO{r: r}
	disks, err1 := r.BlockDevices()
	for _, d := range disks {
		h.disks = append(h.disks, d.Name)
	}
	nics, err2 := r.NetInterfaces()
	for _, n := range nics {
		h.nics = append(h.nics, n.Name)
	}
	return h, errors.Join(err1, err2)
}

// Disks names the disks whose bytes count.
func (h *HostIO) Disks() []string { return h.disks }

// NICs names the interfaces whose bytes count.
func (h *HostIO) NICs() []string { return h.nics }

// DiskBytes is Σ bytes read + written over the machine's disks since boot;
// ok is false when /proc/diskstats cannot be read or the machine has no
// disk listed.
func (h *HostIO) DiskBytes() (uint64, bool) {
	if len(h.disks) == 0 {
		return 0, false
	}
	m, err := h.r.DiskBytes()
	if err != nil {
		return 0, false
	}
	var sum uint64
	for _, d := range h.disks {
		sum += m[d]
	}
	return sum, true
}

// NetBytes is Σ bytes received + transmitted over the interfaces with
// hardware behind them, in the namespace of procfs's process; ok is false
// when /proc/net/dev cannot be read or no such interface is listed.
func (h *HostIO) NetBytes() (uint64, bool) {
	if len(h.nics) == 0 {
		return 0, false
	}
	m, err := h.r.NetDevBytes()
	if err != nil {
		return 0, false
	}
	var sum uint64
	for _, n := range h.nics {
		sum += m[n]
	}
	return sum, true
}
