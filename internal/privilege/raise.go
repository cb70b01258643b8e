package privilege

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RaiseEffective makes every permitted capability effective, in every
// thread of the process, and returns the effective set after.
//
// A non-root process gets capabilities at execve(2) from its ambient set
// (systemd's AmbientCapabilities=, setpriv --ambient-caps) or from the
// binary's file capabilities. A container runtime running a non-root
// user adds no ambient capabilities (kubernetes/kubernetes#56374): there
// the image's binary carries them as permitted-only file capabilities
// (setcap cap_perfmon,cap_bpf=p), which the kernel grants up to the
// container's bounding set without failing the execve when one is
// missing, as it would for a binary whose file effective bit is set
// (capabilities(7), "Safety checking for capability-dumb binaries"); the
// program itself then raises them, here. With nothing permitted it does
// nothing.
//
// Capabilities are per thread, so the change is made with
// syscall.AllThreadsSyscall; a cgo build cannot (ENOTSUP) and keeps what
// the kernel made effective at execve (a binary with file capabilities
// +ep, or ambient ones).
func RaiseEffective() (Set, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	eff := Set(uint64(data[1].Effective)<<32 | uint64(data[0].Effective))
	if data[0].Effective == data[0].Permitted && data[1].Effective == data[1].Permitted {
		return eff, nil
	}
	data[0].Effective, data[1].Effective = data[0].Permitted, data[1].Permitted
	_, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if errno != 0 {
		return eff, fmt.Errorf("capset: %w", errno)
	}
	return Set(uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted)), nil
}
