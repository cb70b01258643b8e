package privilege

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// status is a /proc/self/status as Linux 6.x writes it (fs/proc/array.c,
// task_cap), for uid 65534 with CAP_PERFMON and CAP_BPF.
const status = `Name:	wattlens
Umask:	0022
State:	S (sleeping)
Tgid:	4242
Ngid:	0
Pid:	4242
PPid:	1
TracerPid:	0
Uid:	65534	65534	65534	65534
Gid:	65534	65534	65534	65534
FDSize:	64
Groups:	
NStgid:	4242
NSpid:	4242
NSpgid:	4242
NSsid:	4242
VmPeak:	  1253680 kB
VmSize:	  1253680 kB
VmRSS:	    20480 kB
Threads:	7
SigQ:	0/63704
SigPnd:	0000000000000000
ShdPnd:	0000000000000000
SigBlk:	0000000000000000
SigIgn:	0000000000000000
SigCgt:	fffffffd7fc1feff
CapInh:	000000c000000000
CapPrm:	000000c000000000
CapEff:	000000c000000000
CapBnd:	000000c000000000
CapAmb:	000000c000000000
NoNewPrivs:	0
Seccomp:	0
voluntary_ctxt_switches:	10
nonvoluntary_ctxt_switches:	1
`

func TestSelf(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "4242"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "4242", "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("4242", filepath.Join(root, "self")); err != nil {
		t.Fatal(err)
	}
	p, err := Self(root)
	if err != nil {
		t.Fatal(err)
	}
	if p.UID != 65534 || !p.Effective.Has(Perfmon) || !p.Effective.Has(BPF) || p.Effective.Has(SysPtrace) {
		t.Fatalf("Self = %+v", p)
	}
	if d := cmp.Diff([]string{"CAP_PERFMON", "CAP_BPF"}, p.Effective.Names()); d != "" {
		t.Errorf("Names (-want +got):\n%s", d)
	}
	if _, err := Self(t.TempDir()); err == nil {
		t.Error("Self of an empty procfs: no error")
	}
}

// TestSelfHere reads this process's own status: the test runs as root
// here with every capability, or as a user with fewer.
func TestSelfHere(t *testing.T) {
	p, err := Self("/proc")
	if err != nil {
		t.Fatal(err)
	}
	if p.UID != uint64(os.Geteuid()) {
		t.Errorf("uid %d, want %d", p.UID, os.Geteuid())
	}
}

func TestFix(t *testing.T) {
	nobody := Process{UID: 65534, Effective: Set(1<<Perfmon | 1<<BPF)}
	root := Process{UID: 0, Effective: Set(1<<SysRawIO | 1<<Perfmon)}
	for _, tt := range []struct {
		p      Process
		source string
		want   string
	}{
		{nobody, "perf_rapl", "nothing this process lacks: CAP_PERFMON held, so something else refuses it (a seccomp filter, a security module)"},
		{Process{UID: 65534}, "perf_rapl", "CAP_PERFMON"},
		{Process{UID: 65534, Effective: 1 << Perfmon}, "ebpf (--cpu-source ebpf)", "CAP_BPF"},
		{Process{UID: 65534, Effective: 1 << BPF}, "ebpf (--cpu-source ebpf)", "CAP_PERFMON"},
		{Process{UID: 65534}, "ebpf (--cpu-source ebpf)", "CAP_BPF and CAP_PERFMON"},
		{nobody, "msr_rapl", "CAP_SYS_RAWIO, and uid 0 (/dev/cpu/*/msr is mode 0600 root)"},
		{Process{UID: 0}, "msr_rapl", "CAP_SYS_RAWIO"},
		{root, "process exe and I/O of other users", "CAP_SYS_PTRACE"},
		{nobody, "powercap_rapl", "uid 0 (energy_uj is mode 0400 root since Linux 5.10), or a group given read by deploy/systemd/wattlens-powercap.conf"},
	} {
		n, ok := Lookup(tt.source)
		if !ok {
			t.Fatalf("no row %q", tt.source)
		}
		if got := tt.p.Fix(n); got != tt.want {
			t.Errorf("%+v, %s: Fix = %q, want %q", tt.p, tt.source, got, tt.want)
		}
	}
	if _, ok := Lookup("nothing"); ok {
		t.Error("Lookup of an unknown source")
	}
	if got := Cap(63).String(); !strings.Contains(got, "63") {
		t.Errorf("Cap(63) = %q", got)
	}
}
