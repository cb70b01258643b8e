// Package privilege says which Linux capability each of wattlens' sources
// needs, and which of them this process holds: its effective set, the
// CapEff line of <procfs>/self/status (proc(5)), read with
// prometheus/procfs. The table is the one docs/deploy.md prints.
package privilege

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/prometheus/procfs"
)

// Cap is a capability number (include/uapi/linux/capability.h).
type Cap uint

// The capabilities wattlens' sources need.
const (
	DACReadSearch Cap = 2
	SysRawIO      Cap = 17
	SysPtrace     Cap = 19
	SysAdmin      Cap = 21
	Perfmon       Cap = 38 // Linux 5.8
	BPF           Cap = 39 // Linux 5.8
)

var names = map[Cap]string{
	0: "CAP_CHOWN", 1: "CAP_DAC_OVERRIDE", DACReadSearch: "CAP_DAC_READ_SEARCH", 3: "CAP_FOWNER",
	4: "CAP_FSETID", 5: "CAP_KILL", 6: "CAP_SETGID", 7: "CAP_SETUID", 8: "CAP_SETPCAP",
	9: "CAP_LINUX_IMMUTABLE", 10: "CAP_NET_BIND_SERVICE", 11: "CAP_NET_BROADCAST", 12: "CAP_NET_ADMIN",
	13: "CAP_NET_RAW", 14: "CAP_IPC_LOCK", 15: "CAP_IPC_OWNER", 16: "CAP_SYS_MODULE", SysRawIO: "CAP_SYS_RAWIO",
	18: "CAP_SYS_CHROOT", SysPtrace: "CAP_SYS_PTRACE", 20: "CAP_SYS_PACCT", SysAdmin: "CAP_SYS_ADMIN",
	22: "CAP_SYS_BOOT", 23: "CAP_SYS_NICE", 24: "CAP_SYS_RESOURCE", 25: "CAP_SYS_TIME",
	26: "CAP_SYS_TTY_CONFIG", 27: "CAP_MKNOD", 28: "CAP_LEASE", 29: "CAP_AUDIT_WRITE",
	30: "CAP_AUDIT_CONTROL", 31: "CAP_SETFCAP", 32: "CAP_MAC_OVERRIDE", 33: "CAP_MAC_ADMIN",
	34: "CAP_SYSLOG", 35: "CAP_WAKE_ALARM", 36: "CAP_BLOCK_SUSPEND", 37: "CAP_AUDIT_READ",
	Perfmon: "CAP_PERFMON", BPF: "CAP_BPF", 40: "CAP_CHECKPOINT_RESTORE",
}

// String is the capability's name, "CAP_PERFMON".
func (c Cap) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("capability %d", uint(c))
}

// Set is a capability set, as a CapEff mask.
type Set uint64

// Has reports whether c is in the set.
func (s Set) Has(c Cap) bool { return c < 64 && s&(1<<c) != 0 }

// Names lists the set's capabilities by name, in number order.
func (s Set) Names() []string {
	out := []string{}
	for v := uint64(s); v != 0; v &= v - 1 {
		out = append(out, Cap(bits.TrailingZeros64(v)).String())
	}
	return out
}

// Process is what this process is allowed.
type Process struct {
	UID       uint64 // effective uid
	Effective Set
}

// Self reads <procfs>/self/status: CapEff and the effective uid. Through
// a host's procfs mounted in a container, self is still this process.
func Self(procfsRoot string) (Process, error) {
	fs, err := procfs.NewFS(procfsRoot)
	if err != nil {
		return Process{}, err
	}
	p, err := fs.Self()
	if err != nil {
		return Process{}, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return Process{}, err
	}
	return Process{UID: st.UIDs[1], Effective: Set(st.CapEff)}, nil
}

// Need is what one source or feature needs.
type Need struct {
	Source string
	// Caps are the capabilities it needs, all of them.
	Caps []Cap
	// Other is the permission that is not a capability (a file's owner,
	// a socket's group), where that is what it takes.
	Other string
	// Without says what fails without it.
	Without string
}

// Needs is the table: every source and what it needs. One row each,
// the least that works.
var Needs = []Need{
	{Source: "perf_rapl", Caps: []Cap{Perfmon},
		Without: "perf_event_open of the power PMU is refused (EACCES) while perf_event_paranoid > 0"},
	{Source: "powercap_rapl", Other: "uid 0 (energy_uj is mode 0400 root since Linux 5.10), or a group given read by deploy/systemd/wattlens-powercap.conf",
		Without: "energy_uj cannot be read (EACCES); perf_rapl reads the same counters with CAP_PERFMON"},
	{Source: "msr_rapl", Caps: []Cap{SysRawIO}, Other: "uid 0 (/dev/cpu/*/msr is mode 0600 root)",
		Without: "opening /dev/cpu/N/msr fails (EPERM without CAP_SYS_RAWIO, EACCES without the file's owner)"},
	{Source: "ebpf (--cpu-source ebpf)", Caps: []Cap{BPF, Perfmon},
		Without: "the scheduler program does not load (EPERM): CPU time is read from /proc/<pid>/stat instead"},
	{Source: "process exe and I/O of other users", Caps: []Cap{SysPtrace},
		Without: "/proc/<pid>/exe and /proc/<pid>/io of processes of other uids cannot be read (EACCES): exe is left empty and their I/O uncounted; names (comm, cmdline) and CPU times (stat) are read without it"},
	{Source: "containers (Docker)", Other: "membership of the group that owns the Docker socket (docker)",
		Without: "connecting to /var/run/docker.sock fails (EACCES): containers are named by ID only"},
}

// Lookup returns the row of source.
func Lookup(source string) (Need, bool) {
	for _, n := range Needs {
		if n.Source == source {
			return n, true
		}
	}
	return Need{}, false
}

// Missing returns the capabilities of n that p lacks.
func (p Process) Missing(n Need) []Cap {
	var out []Cap
	for _, c := range n.Caps {
		if !p.Effective.Has(c) {
			out = append(out, c)
		}
	}
	return out
}

// Fix says, in a few words, what would make n work for p: the missing
// capabilities, else the other permission.
func (p Process) Fix(n Need) string {
	if m := p.Missing(n); len(m) > 0 {
		s := make([]string, len(m))
		for i, c := range m {
			s[i] = c.String()
		}
		fix := strings.Join(s, " and ")
		if n.Other != "" && p.UID != 0 {
			fix += ", and " + n.Other
		}
		return fix
	}
	if n.Other != "" {
		return n.Other
	}
	return "nothing this process lacks: " + strings.Join(capNames(n.Caps), " and ") + " held, so something else refuses it (a seccomp filter, a security module)"
}

func capNames(cs []Cap) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}
