// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// cputime.c counts on-CPU time per process (thread group) from the
// scheduler, for wattlens's bpfcpu package. See ../doc.go for the design;
// in short:
//
//   - tp_btf/sched_switch: the on-CPU time of the task switched out since
//     it was last credited (the growth of its se.sum_exec_runtime, the
//     kernel's own count, kept per thread in `credited`) is added to its
//     process (prev's tgid, keyed with its start time so that a reused PID
//     is another process), in one of two hash maps chosen by `epoch`. User space flips `epoch` each tick and drains
//     the map no longer written, so a tick costs what ran, not what exists.
//   - tp_btf/sched_process_exit: when the last thread of a process exits,
//     what it ran so far is credited and an exit record (key, parent,
//     comm, cgroup id) goes to a ring buffer. What its threads still run
//     after it (the rest of do_exit: files, the parent's notification) is
//     counted at their last switch out; user space keeps the process one
//     more tick to collect it.
//   - a per-CPU record of who runs now and since when, so that user space
//     can count the slice of a task that has not switched out yet.
//
// Full maps and a full ring buffer are counted in dropped_updates and
// dropped_exits, never silent.

// The few kernel types used, with CO-RE relocations: fields are found by
// name in the running kernel's BTF, not by the offsets below.
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;

// From include/uapi/linux/bpf.h (stable ABI).
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};
#define BPF_ANY 0
#define BPF_NOEXIST 1

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live;
} __attribute__((preserve_access_index));

struct sched_entity {
	__u64 sum_exec_runtime;
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int flags;
	int exit_state;
	struct sched_entity se;
	int pid;
	int tgid;
	__u64 start_boottime;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct signal_struct *signal;
	char comm[16];
} __attribute__((preserve_access_index));

#define PF_EXITING 0x00000004
#define PF_KTHREAD 0x00200000

// USER_HZ: /proc/<pid>/stat's start time (field 22) is start_boottime in
// 1/100 s (fs/proc/array.c, nsec_to_clock_t).
#define NSEC_PER_USER_HZ 10000000ULL

// MAX_ENTRIES is the default size of each delta map; user space may set
// another before loading.
#define MAX_ENTRIES 16384

#define COMM_LEN 16

struct key {
	__u32 tgid;
	__u32 pad;
	__u64 start; // group leader's start time, USER_HZ ticks since boot
};

struct delta {
	__u64 ns;        // on-CPU nanoseconds since the map was last drained
	__u64 cgroup_id; // cgroup v2 id of the thread that first ran this interval
	__u32 ppid;      // real parent's tgid
	__u32 flags;     // PF_KTHREAD of the task
	char comm[COMM_LEN];
};

struct exit_event {
	struct key key;
	__u64 cgroup_id;
	__u32 ppid;
	__u32 flags;
	char comm[COMM_LEN];
};

struct running {
	__u64 since; // bpf_ktime_get_ns when it was switched in; 0: unknown
	struct key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct key);
	__type(value, struct delta);
} delta0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct key);
	__type(value, struct delta);
} delta1 SEC(".maps");

// credited holds, per thread (its PID), its se.sum_exec_runtime as far as
// it has been added to its process: a switch out adds what it grew by
// since. Per thread rather than per CPU because a switch out is not always
// of the task this program saw switched in on that CPU. LRU: a thread
// whose entry is evicted loses one slice (it is counted again from its
// next switch); a dead thread's entry is deleted at its last switch out.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} credited SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} exits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct running);
} oncpu SEC(".maps");

// epoch selects the delta map written: delta0 when even, delta1 when odd.
__u32 epoch = 0;
// dropped_updates counts slices lost to a full delta map; dropped_exits
// exit records lost to a full ring buffer.
__u64 dropped_updates = 0;
__u64 dropped_exits = 0;

// Never used: they put the record types in the object's BTF, for bpf2go
// to generate their Go twins.
const struct exit_event *unused_exit_event __attribute__((unused));
const struct delta *unused_delta __attribute__((unused));

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void key_of(struct task_struct *t, struct key *k)
{
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);
	k->tgid = BPF_CORE_READ(t, tgid);
	k->pad = 0;
	k->start = BPF_CORE_READ(leader, start_boottime) / NSEC_PER_USER_HZ;
}

// group_dead reports whether every thread of t's process has passed
// do_exit's decrement of signal->live.
static __always_inline bool group_dead(struct task_struct *t)
{
	return BPF_CORE_READ(t, signal, live.counter) == 0;
}

// credit adds ns to t's process in the delta map of the current epoch.
static __always_inline void credit(struct task_struct *t, struct key *k, __u64 ns)
{
	void *m = (epoch & 1) ? (void *)&delta1 : (void *)&delta0;
	struct delta *d = bpf_map_lookup_elem(m, k);
	if (d) {
		__sync_fetch_and_add(&d->ns, ns);
		return;
	}
	struct delta nd = {};
	nd.ns = ns;
	nd.cgroup_id = bpf_get_current_cgroup_id();
	nd.ppid = BPF_CORE_READ(t, real_parent, tgid);
	nd.flags = BPF_CORE_READ(t, flags) & PF_KTHREAD;
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);
	bpf_probe_read_kernel_str(nd.comm, sizeof(nd.comm), &leader->comm);
	if (bpf_map_update_elem(m, k, &nd, BPF_NOEXIST) == 0)
		return;
	// Another CPU made the entry first, or the map is full.
	d = bpf_map_lookup_elem(m, k);
	if (d) {
		__sync_fetch_and_add(&d->ns, ns);
		return;
	}
	__sync_fetch_and_add(&dropped_updates, 1);
}

// settle adds to t's process what t ran since its runtime was last
// credited, and records its runtime as credited now; a thread not seen
// before is only recorded.
static __always_inline void settle(struct task_struct *t, struct key *k)
{
	__u32 tid = t->pid;
	__u64 rt = t->se.sum_exec_runtime;
	__u64 *last = bpf_map_lookup_elem(&credited, &tid);
	if (last) {
		if (rt > *last)
			credit(t, k, rt - *last);
		*last = rt;
		return;
	}
	bpf_map_update_elem(&credited, &tid, &rt, BPF_ANY);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	// The scheduler has brought prev's sum_exec_runtime up to date before
	// this tracepoint (update_curr, on dequeue or put_prev_task): what it
	// ran since it was last credited is the difference, as the kernel
	// counts it for /proc/<pid>/stat and getrusage (without steal time,
	// and without irq time where IRQ_TIME_ACCOUNTING is on).
	if (prev->pid != 0) {
		struct key k;
		key_of(prev, &k);
		// prev is current here: bpf_get_current_cgroup_id in credit is prev's.
		settle(prev, &k);
		if (prev->exit_state != 0) {
			// Its last switch: it is a zombie or dead now.
			__u32 tid = prev->pid;
			bpf_map_delete_elem(&credited, &tid);
		}
	}
	if (next->pid != 0) {
		__u32 tid = next->pid;
		if (!bpf_map_lookup_elem(&credited, &tid)) {
			__u64 rt = next->se.sum_exec_runtime;
			bpf_map_update_elem(&credited, &tid, &rt, BPF_ANY);
		}
	}

	__u32 zero = 0;
	struct running *r = bpf_map_lookup_elem(&oncpu, &zero);
	if (!r)
		return 0;
	r->since = bpf_ktime_get_ns();
	if (next->pid != 0) {
		key_of(next, &r->key);
	} else {
		r->key.tgid = 0;
		r->key.start = 0;
	}
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	if (!group_dead(p))
		return 0;
	struct key k;
	key_of(p, &k);

	// What p's last thread has run so far, so that the record comes after
	// it; the rest of its exit is counted at its last switch out.
	settle(p, &k);

	struct exit_event *e = bpf_ringbuf_reserve(&exits, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped_exits, 1);
		return 0;
	}
	e->key = k;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->ppid = BPF_CORE_READ(p, real_parent, tgid);
	e->flags = BPF_CORE_READ(p, flags) & PF_KTHREAD;
	struct task_struct *leader = BPF_CORE_READ(p, group_leader);
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &leader->comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
