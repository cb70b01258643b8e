package bpfcpu

// pkey identifies one process lifetime as the BPF program keys it: the
// thread group ID and the group leader's start time in USER_HZ ticks since
// boot, exactly /proc/<pid>/stat's fields 1 and 22.
type pkey struct {
	tgid  uint32
	start uint64
}

// commLen is the size of the kernel's task comm (TASK_COMM_LEN), NUL
// included.
const commLen = 16

// taskInfo is what the BPF program tells of a process when it first
// records it in an interval, or when it exits.
type taskInfo struct {
	cgroupID uint64 // cgroup v2 ID (the cgroup directory's inode number); 0 when unknown
	ppid     uint32 // the real parent's thread group ID
	kthread  bool   // a kernel thread
	comm     [commLen]byte
}

// delta is the on-CPU time one process used since the delta map it comes
// from was last drained.
type delta struct {
	key pkey
	ns  uint64
	taskInfo
}

// exit is the end of a process: its last thread has exited.
type exit struct {
	key pkey
	taskInfo
}

// running is the process on one CPU when it was read, and since when
// (CLOCK_MONOTONIC nanoseconds, bpf_ktime_get_ns); since is 0 when the CPU
// runs nothing (its idle task) or nothing is known yet.
type running struct {
	key   pkey
	since uint64
}

// source is what the Reader needs of the BPF program and its maps; the
// kernel's is in kernel.go, a hand-written fake in the tests.
type source interface {
	// Exits appends the exit records that arrived since the last call.
	Exits(dst []exit) ([]exit, error)
	// Drain switches the program to the other delta map and appends
	// what the map it wrote until now holds, emptying it.
	Drain(dst []delta) ([]delta, error)
	// Running appends, for each CPU, what runs there now, and returns
	// CLOCK_MONOTONIC read after them in nanoseconds.
	Running(dst []running) ([]running, uint64, error)
	// Dropped returns how many slices a full delta map and how many exit
	// records a full ring buffer have lost since the program was loaded.
	Dropped() (updates, exits uint64)
	// Close detaches the program and frees its maps.
	Close() error
}
