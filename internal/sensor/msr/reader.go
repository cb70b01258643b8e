package msr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// RegisterReader reads one 64-bit model-specific register of one CPU.
// The file implementation reads the msr driver's device files; tests use a
// fake.
type RegisterReader interface {
	ReadMSR(cpu int, reg uint32) (uint64, error)
}

// devReader reads <devfs>/cpu/<n>/msr, the Linux msr driver's device
// (arch/x86/kernel/msr.c): a pread of 8 bytes at offset reg returns the
// register little-endian; a register the CPU lacks fails with EIO; opening
// needs CAP_SYS_RAWIO (EPERM otherwise) and read access to the file
// (EACCES). Files are opened on first use and kept open until Close.
type devReader struct {
	root string // <devfs>/cpu

	mu    sync.Mutex
	files map[int]*os.File
}

func newDevReader(devfs string) *devReader {
	return &devReader{root: filepath.Join(devfs, "cpu"), files: map[int]*os.File{}}
}

// ReadMSR implements RegisterReader.
func (d *devReader) ReadMSR(cpu int, reg uint32) (uint64, error) {
	f, err := d.open(cpu)
	if err != nil {
		return 0, err
	}
	var b [8]byte
	if _, err := f.ReadAt(b[:], int64(reg)); err != nil {
		return 0, fmt.Errorf("read msr %#x of cpu %d: %w", reg, cpu, err)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

func (d *devReader) open(cpu int) (*os.File, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f, ok := d.files[cpu]; ok {
		return f, nil
	}
	f, err := os.Open(filepath.Join(d.root, strconv.Itoa(cpu), "msr"))
	if err != nil {
		return nil, err
	}
	d.files[cpu] = f
	return f, nil
}

// Close closes every device file opened so far.
func (d *devReader) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for cpu, f := range d.files {
		errs = append(errs, f.Close())
		delete(d.files, cpu)
	}
	return errors.Join(errs...)
}
