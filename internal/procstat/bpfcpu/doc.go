// Package bpfcpu is the eBPF CPU-time source (--cpu-source ebpf): a
// procstat-compatible process reader whose per-process CPU time comes from
// the scheduler instead of from reading every /proc/<pid>/stat each tick.
//
// The BPF program (bpf/cputime.c; its object and Go bindings are generated
// by bpf2go, see gen.go, and committed) has two BTF tracepoints:
//
//   - sched_switch: the task switched out has its se.sum_exec_runtime
//     growth since it was last credited (kept per thread in an LRU map)
//     added to its process, keyed by thread group ID and the group
//     leader's start time in USER_HZ ticks (exactly /proc/<pid>/stat's
//     fields 1 and 22, so a reused PID is another process), in one of two
//     hash maps chosen by an epoch user space flips each tick; a per-CPU
//     record keeps what runs now and since when.
//   - sched_process_exit: when a process's last thread exits, what it ran
//     so far is credited and an exit record (key, parent, comm, cgroup v2
//     ID) goes to a ring buffer.
//
// Each tick (Reader.Read) reads the exit records, flips the epoch and
// drains the map the program wrote until then, and reads the per-CPU
// record: the cost follows what ran and what exited, not what exists. A
// table of live processes, seeded from procfs once, turns that into the
// procinfo.Proc list the sampler wants, with each process's Meta read
// from procfs (procstat.Reader.ReadProcess, MetaHook included) once, when
// the program first shows it. Full maps and a full ring buffer are
// counted (Reader.Dropped) and logged; lost exit records are made up for
// by checking the table against the procfs listing.
//
// New fails with the reason when the program cannot be used: no BTF, no
// privilege (root, or CAP_BPF and CAP_PERFMON), a user namespace, or a
// procfs root that does not show the kernel's PIDs.
package bpfcpu
