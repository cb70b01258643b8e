//go:build linux && (386 || amd64 || arm64)

package bpfcpu

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// batchSize is how many delta records one map syscall moves.
const batchSize = 1024

// kernel is the source backed by the loaded BPF program.
type kernel struct {
	objs  cputimeObjects
	links []link.Link
	exits *ringbuf.Reader
	epoch uint32

	rec     ringbuf.Record
	keys    []cputimeKey
	vals    []cputimeDelta
	oncpu   []cputimeRunning
	cursor  ebpf.MapBatchCursor
	noBatch bool
}

// errNoBTF is returned by load when the kernel does not describe its own
// types (CONFIG_DEBUG_INFO_BTF), which the program's CO-RE relocations and
// BTF tracepoints need.
var errNoBTF = errors.New("the kernel has no BTF (/sys/kernel/btf/vmlinux); it needs CONFIG_DEBUG_INFO_BTF=y")

// errNotPermitted explains a refusal to load.
var errNotPermitted = errors.New("not permitted to load BPF programs: it needs root, or CAP_BPF and CAP_PERFMON " +
	"(and CAP_SYS_RESOURCE before Linux 5.11), outside a user namespace")

// load loads and attaches the BPF program, with room for maxEntries
// processes per interval in each delta map (0: the program's default).
func load(maxEntries uint32) (source, error) {
	k, err := loadKernel(maxEntries)
	if err != nil {
		return nil, err
	}
	return k, nil
}

func loadKernel(maxEntries uint32) (*kernel, error) {
	if _, err := btf.LoadKernelSpec(); err != nil {
		if errors.Is(err, btf.ErrNotSupported) || errors.Is(err, os.ErrNotExist) {
			return nil, errNoBTF
		}
		return nil, fmt.Errorf("read the kernel's BTF: %w", err)
	}
	spec, err := loadCputime()
	if err != nil {
		return nil, err
	}
	if maxEntries > 0 {
		spec.Maps[cputimeMapDelta0].MaxEntries = maxEntries
		spec.Maps[cputimeMapDelta1].MaxEntries = maxEntries
	}
	k := &kernel{
		keys: make([]cputimeKey, batchSize),
		vals: make([]cputimeDelta, batchSize),
	}
	// Before Linux 5.11 BPF memory counts against RLIMIT_MEMLOCK; later
	// kernels charge the memory cgroup and this does nothing.
	_ = rlimit.RemoveMemlock()
	if err := spec.LoadAndAssign(&k.objs, nil); err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) && (errno == unix.EPERM || errno == unix.EACCES) {
			return nil, fmt.Errorf("%w: %w", errNotPermitted, errno)
		}
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("the kernel refused the program: %w", ve)
		}
		return nil, fmt.Errorf("load the program: %w", err)
	}
	for _, p := range []*ebpf.Program{k.objs.OnSwitch, k.objs.OnExit} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			_ = k.Close()
			return nil, fmt.Errorf("attach %s: %w", p, err)
		}
		k.links = append(k.links, l)
	}
	if k.exits, err = ringbuf.NewReader(k.objs.Exits); err != nil {
		_ = k.Close()
		return nil, fmt.Errorf("open the exit ring buffer: %w", err)
	}
	// Never wait: a read returns what is there.
	k.exits.SetDeadline(time.Unix(1, 0))
	return k, nil
}

func (k *kernel) Exits(dst []exit) ([]exit, error) {
	if k.exits.AvailableBytes() == 0 {
		return dst, nil
	}
	for {
		err := k.exits.ReadInto(&k.rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return dst, nil
		}
		if err != nil {
			return dst, fmt.Errorf("read exit records: %w", err)
		}
		if len(k.rec.RawSample) < int(unsafe.Sizeof(cputimeExitEvent{})) {
			continue
		}
		e := (*cputimeExitEvent)(unsafe.Pointer(&k.rec.RawSample[0]))
		dst = append(dst, exit{key: keyOf(e.Key), taskInfo: info(e.CgroupId, e.Ppid, e.Flags, &e.Comm)})
	}
}

func (k *kernel) Drain(dst []delta) ([]delta, error) {
	old := k.objs.Delta0
	if k.epoch&1 == 1 {
		old = k.objs.Delta1
	}
	k.epoch++
	if err := k.objs.Epoch.Set(k.epoch); err != nil {
		k.epoch--
		return dst, fmt.Errorf("switch delta maps: %w", err)
	}
	if !k.noBatch {
		out, err := k.drainBatch(old, dst)
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return out, err
		}
		k.noBatch = true // before Linux 5.6
	}
	return k.drainIterate(old, dst)
}

func (k *kernel) drainBatch(m *ebpf.Map, dst []delta) ([]delta, error) {
	k.cursor = ebpf.MapBatchCursor{}
	for {
		n, err := m.BatchLookupAndDelete(&k.cursor, k.keys, k.vals, nil)
		for i := range n {
			dst = appendDelta(dst, &k.keys[i], &k.vals[i])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return dst, nil
		}
		if err != nil {
			return dst, fmt.Errorf("drain a delta map: %w", err)
		}
	}
}

// drainIterate is drainBatch for kernels without batch operations: the
// entries are read, then deleted one by one.
func (k *kernel) drainIterate(m *ebpf.Map, dst []delta) ([]delta, error) {
	var key cputimeKey
	var val cputimeDelta
	start := len(dst)
	it := m.Iterate()
	for it.Next(&key, &val) {
		dst = appendDelta(dst, &key, &val)
	}
	if err := it.Err(); err != nil {
		return dst, fmt.Errorf("drain a delta map: %w", err)
	}
	for _, d := range dst[start:] {
		key = cputimeKey{Tgid: d.key.tgid, Start: d.key.start}
		if err := m.Delete(&key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return dst, fmt.Errorf("drain a delta map: %w", err)
		}
	}
	return dst, nil
}

func (k *kernel) Running(dst []running) ([]running, uint64, error) {
	if err := k.objs.Oncpu.Lookup(uint32(0), &k.oncpu); err != nil {
		return dst, 0, fmt.Errorf("read the running processes: %w", err)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return dst, 0, err
	}
	for _, r := range k.oncpu {
		dst = append(dst, running{key: keyOf(r.Key), since: r.Since})
	}
	return dst, uint64(ts.Nano()), nil
}

func (k *kernel) Dropped() (updates, exits uint64) {
	_ = k.objs.DroppedUpdates.Get(&updates)
	_ = k.objs.DroppedExits.Get(&exits)
	return updates, exits
}

func (k *kernel) Close() error {
	var errs []error
	if k.exits != nil {
		errs = append(errs, k.exits.Close())
	}
	for _, l := range k.links {
		errs = append(errs, l.Close())
	}
	k.links = nil
	errs = append(errs, k.objs.Close())
	return errors.Join(errs...)
}

func keyOf(k cputimeKey) pkey { return pkey{tgid: k.Tgid, start: k.Start} }

func appendDelta(dst []delta, k *cputimeKey, v *cputimeDelta) []delta {
	return append(dst, delta{key: keyOf(*k), ns: v.Ns, taskInfo: info(v.CgroupId, v.Ppid, v.Flags, &v.Comm)})
}

// pfKthread is PF_KTHREAD, as the program copies it into flags.
const pfKthread = 0x00200000

func info(cgroupID uint64, ppid, flags uint32, comm *[commLen]int8) taskInfo {
	t := taskInfo{cgroupID: cgroupID, ppid: ppid, kthread: flags&pfKthread != 0}
	for i, c := range comm {
		t.comm[i] = byte(c)
	}
	return t
}
