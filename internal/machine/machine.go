// Package machine is the one reader of the facts about the machine the
// agent runs on: its CPUs (<procfs>/cpuinfo), its memory
// (<procfs>/meminfo), what SMBIOS says of it (<sysfs>/class/dmi/id) and
// whether it is a virtual machine (IsVM). Its roots are injected (Reader),
// its parsers take an io.Reader and have table tests on fixtures.
//
// The estimate sensor's power model, the msr sensor's CPU vendor check and
// `wattlens info` read the machine through it. It imports nothing of the
// project.
package machine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// Default roots.
const (
	DefaultProcFS = "/proc"
	DefaultSysFS  = "/sys"
)

// Reader reads the machine's facts below a procfs and a sysfs root.
type Reader struct {
	procfs, sysfs string
}

// New returns a Reader below procfs and sysfs ("" for DefaultProcFS,
// DefaultSysFS).
func New(procfs, sysfs string) Reader {
	if procfs == "" {
		procfs = DefaultProcFS
	}
	if sysfs == "" {
		sysfs = DefaultSysFS
	}
	return Reader{procfs: procfs, sysfs: sysfs}
}

// ParseError is a file that was read but could not be parsed; its text is
// the parser's.
type ParseError struct{ Err error }

func (e *ParseError) Error() string { return e.Err.Error() }

// Unwrap returns the parser's error.
func (e *ParseError) Unwrap() error { return e.Err }

// CPUInfo reads and parses <procfs>/cpuinfo. An error reading the file is
// returned as it is; a parse error is a *ParseError.
func (r Reader) CPUInfo() (CPUInfo, error) {
	b, err := os.ReadFile(filepath.Join(r.procfs, "cpuinfo"))
	if err != nil {
		return CPUInfo{}, err
	}
	ci, err := ParseCPUInfo(bytes.NewReader(b))
	if err != nil {
		return CPUInfo{}, &ParseError{err}
	}
	return ci, nil
}

// MemTotal reads MemTotal from <procfs>/meminfo, in bytes. An error
// reading the file is returned as it is; a parse error is a *ParseError.
func (r Reader) MemTotal() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(r.procfs, "meminfo"))
	if err != nil {
		return 0, err
	}
	total, err := ParseMemTotal(bytes.NewReader(b))
	if err != nil {
		return 0, &ParseError{err}
	}
	return total, nil
}

// DMI reads <sysfs>/class/dmi/id/sys_vendor and product_name (SMBIOS
// system information; Documentation/ABI/testing/sysfs-class-dmi-id),
// without surrounding space. What cannot be read is "" (no DMI on many Arm
// boards).
func (r Reader) DMI() DMI {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(r.sysfs, "class", "dmi", "id", name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return DMI{Vendor: read("sys_vendor"), Product: read("product_name")}
}
