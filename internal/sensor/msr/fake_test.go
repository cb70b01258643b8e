package msr

import (
	"fmt"
	"io/fs"
	"sync"
	"syscall"
)

// fakeMSR is a register file per CPU. A register that was never set reads
// as the msr driver answers for a register the CPU lacks: EIO.
type fakeMSR struct {
	mu    sync.Mutex
	regs  map[int]map[uint32]uint64
	errs  map[int]error // per CPU: every read fails (open errors)
	reads map[uint32]int
}

func newFakeMSR() *fakeMSR {
	return &fakeMSR{regs: map[int]map[uint32]uint64{}, errs: map[int]error{}, reads: map[uint32]int{}}
}

func (f *fakeMSR) set(cpu int, reg uint32, v uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.regs[cpu] == nil {
		f.regs[cpu] = map[uint32]uint64{}
	}
	f.regs[cpu][reg] = v
}

// advance adds n to the low 32 bits of a register, wrapping at 2^32 as the
// hardware does, and leaves the reserved upper bits as they are.
func (f *fakeMSR) advance(cpu int, reg uint32, n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.regs[cpu][reg]
	low := (v&counterMask + n) & counterMask
	f.regs[cpu][reg] = v&^uint64(counterMask) | low
}

func (f *fakeMSR) fail(cpu int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.errs, cpu)
		return
	}
	f.errs[cpu] = err
}

func (f *fakeMSR) readsOf(reg uint32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads[reg]
}

func (f *fakeMSR) ReadMSR(cpu int, reg uint32) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads[reg]++
	if err := f.errs[cpu]; err != nil {
		return 0, err
	}
	v, ok := f.regs[cpu][reg]
	if !ok {
		return 0, fmt.Errorf("read msr %#x of cpu %d: %w", reg, cpu, syscall.EIO)
	}
	return v, nil
}

// openError is what os.Open returns for a device the user may not open.
func openError(errno syscall.Errno) error {
	return &fs.PathError{Op: "open", Path: "/dev/cpu/0/msr", Err: errno}
}
