package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInfoPrivileges: info reads uid and CapEff from <procfs>/self/status
// and names, for each source that lacks it, the capability it needs.
func TestInfoPrivileges(t *testing.T) {
	for _, tt := range []struct {
		name, uid, capEff string
		effective         []string
		missing           map[string]string // source → needs
	}{
		{
			name: "uid 65534 with CAP_PERFMON", uid: "65534", capEff: "0000004000000000",
			effective: []string{"CAP_PERFMON"},
			missing: map[string]string{
				"ebpf (--cpu-source ebpf)":           "CAP_BPF",
				"process exe and I/O of other users": "CAP_SYS_PTRACE",
			},
		},
		{
			name: "uid 65534 with CAP_PERFMON, CAP_BPF and CAP_SYS_PTRACE", uid: "65534", capEff: "000000c000080000",
			effective: []string{"CAP_SYS_PTRACE", "CAP_PERFMON", "CAP_BPF"},
			missing:   map[string]string{},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			procRoot, sysRoot := machineRoots(t, cpuinfo(1, 2, 1, ""), "", "")
			status := "Name:\twattlens\nUid:\t" + strings.Repeat(tt.uid+"\t", 3) + tt.uid + "\nGid:\t0\t0\t0\t0\n" +
				"CapInh:\t0000000000000000\nCapPrm:\t" + tt.capEff + "\nCapEff:\t" + tt.capEff +
				"\nCapBnd:\t" + tt.capEff + "\nCapAmb:\t0000000000000000\n"
			if err := os.MkdirAll(filepath.Join(procRoot, "77"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(procRoot, "77", "status"), []byte(status), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("77", filepath.Join(procRoot, "self")); err != nil {
				t.Fatal(err)
			}
			_, out, stderr := runWattlens(t, "--path.sysfs", sysRoot, "--path.procfs", procRoot, "--path.devfs", t.TempDir(),
				"--cpu-source", "procfs", "-s", "estimate", "info", "--json")
			var rep infoReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v in %s (%s)", err, out, stderr)
			}
			p := rep.Privileges
			if p.Error != "" || p.UID != 65534 || strings.Join(p.Effective, ",") != strings.Join(tt.effective, ",") {
				t.Fatalf("privileges %+v", p)
			}
			got := map[string]string{}
			for _, m := range p.Missing {
				if m.Without == "" {
					t.Errorf("%s: no word of what fails", m.Source)
				}
				got[m.Source] = m.Needs
			}
			delete(got, "containers (Docker)") // depends on this machine's Docker socket
			for src, needs := range tt.missing {
				if got[src] != needs {
					t.Errorf("%s needs %q, want %q", src, got[src], needs)
				}
				delete(got, src)
			}
			if len(got) > 0 {
				t.Errorf("unexpected rows %v", got)
			}
		})
	}
}
