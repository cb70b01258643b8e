package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// unitFile is a systemd unit: section → key → values in order.
type unitFile map[string]map[string][]string

func parseUnit(b []byte) (unitFile, error) {
	u := unitFile{}
	section := ""
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if _, dup := u[section]; dup {
				return nil, fmt.Errorf("line %d: section [%s] twice", n+1, section)
			}
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: %q is not key=value in a section", n+1, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u, nil
}

func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("systemd/wattlens.service")
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Errorf("no [%s] section", s)
		}
	}
	svc := u["Service"]
	want := map[string][]string{
		"DynamicUser":             {"yes"},
		"NoNewPrivileges":         {"yes"},
		"CapabilityBoundingSet":   {"CAP_PERFMON"},
		"AmbientCapabilities":     {"CAP_PERFMON"},
		"ProtectSystem":           {"strict"},
		"ProtectHome":             {"yes"},
		"PrivateTmp":              {"yes"},
		"RestrictAddressFamilies": {"AF_UNIX AF_INET AF_INET6"},
		"SystemCallFilter":        {"@system-service", "~@privileged @resources", "perf_event_open"},
	}
	for k, v := range want {
		if diff := cmp.Diff(v, svc[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	for _, k := range []string{"ProtectProc", "ProcSubset"} {
		if svc[k] != nil {
			t.Errorf("%s=%q would hide the processes wattlens measures", k, svc[k])
		}
	}
	execStart := svc["ExecStart"]
	if len(execStart) != 1 || !strings.HasPrefix(execStart[0], "/usr/local/bin/wattlens ") {
		t.Fatalf("ExecStart %q", execStart)
	}
	args := strings.Fields(execStart[0])[1:]
	args = slices.DeleteFunc(args, func(a string) bool { return strings.HasPrefix(a, "$") })
	checkArgs(t, "ExecStart", args, "prometheus")

	t.Run("systemd-analyze verify", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze not found")
		}
		// verify wants ExecStart's binary to exist: use the one just built.
		dir := t.TempDir()
		unit := bytes.ReplaceAll(b, []byte("/usr/local/bin/wattlens"), []byte(wattlensBinary(t)))
		path := filepath.Join(dir, "wattlens.service")
		if err := os.WriteFile(path, unit, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sa, "verify", path).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
}

// TestEBPFDropIn checks the drop-in that turns the eBPF CPU-time source
// on: it grants CAP_BPF and CAP_PERFMON and the bpf(2) call, nothing else,
// and the base unit grants CAP_PERFMON only (for perf_rapl).
func TestEBPFDropIn(t *testing.T) {
	read := func(path string) map[string]map[string][]string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		u, err := parseUnit(b)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	base := read("systemd/wattlens.service")["Service"]
	if diff := cmp.Diff([]string{"WATTLENS_CPU_SOURCE=procfs"}, base["Environment"]); diff != "" {
		t.Errorf("base unit Environment (-want +got):\n%s", diff)
	}
	u := read("systemd/wattlens-ebpf.conf")
	if len(u) != 1 || u["Service"] == nil {
		t.Fatalf("sections %v, want [Service] only", u)
	}
	want := map[string][]string{
		"Environment":           {"WATTLENS_CPU_SOURCE=ebpf"},
		"CapabilityBoundingSet": {"CAP_BPF CAP_PERFMON"},
		"AmbientCapabilities":   {"CAP_BPF CAP_PERFMON"},
		"SystemCallFilter":      {"bpf"},
	}
	if diff := cmp.Diff(want, u["Service"]); diff != "" {
		t.Errorf("drop-in (-want +got):\n%s", diff)
	}
	// The variable is the --cpu-source flag's: the binary must take it
	// (info says which source and by what flag).
	for v, want := range map[string]string{"ebpf": "(--cpu-source ebpf", "procfs": "procfs (--cpu-source procfs)"} {
		cmd := exec.Command(wattlensBinary(t), "--sensor=estimate", "info")
		cmd.Env = append(os.Environ(), "WATTLENS_CPU_SOURCE="+v)
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("WATTLENS_CPU_SOURCE=%s: %v; info does not say %q:\n%s", v, err, want, out)
		}
	}
	cmd := exec.Command(wattlensBinary(t), "--sensor=estimate", "info")
	cmd.Env = append(os.Environ(), "WATTLENS_CPU_SOURCE=bogus")
	if err := cmd.Run(); err == nil {
		t.Error("WATTLENS_CPU_SOURCE=bogus accepted: the variable is not the flag's")
	}
}

// TestPowercapTmpfiles applies wattlens-powercap.conf to a fake root with
// systemd-tmpfiles and checks energy_uj becomes readable by group powercap,
// in zones and subzones, and by nobody else.
func TestPowercapTmpfiles(t *testing.T) {
	conf, err := os.ReadFile("systemd/wattlens-powercap.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^z /sys/devices/virtual/powercap/intel-rapl/intel-rapl:\*/energy_uj\s+0440 root powercap -$`).Match(conf) {
		t.Errorf("no package-zone rule in:\n%s", conf)
	}
	tmpfiles, err := exec.LookPath("systemd-tmpfiles")
	if err != nil {
		t.Skip("systemd-tmpfiles not found")
	}
	if os.Geteuid() != 0 {
		t.Skip("changing a file's group to powercap needs root")
	}
	root := t.TempDir()
	const gid = 4242
	files := []string{
		"etc/group", "etc/passwd",
		"sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj",
		"sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0/energy_uj",
		"sys/devices/virtual/powercap/intel-rapl/intel-rapl:1/energy_uj",
		"sys/devices/virtual/powercap/intel-rapl-mmio/intel-rapl-mmio:0/energy_uj",
	}
	content := map[string]string{
		"etc/group":  fmt.Sprintf("root:x:0:\npowercap:x:%d:\n", gid),
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
	}
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		c, ok := content[f]
		if !ok {
			c = "123456\n"
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(f, "energy_uj") {
			mode = 0o400
		}
		if err := os.WriteFile(p, []byte(c), mode); err != nil {
			t.Fatal(err)
		}
	}
	confPath, err := filepath.Abs("systemd/wattlens-powercap.conf")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tmpfiles, "--root="+root, "--create", confPath).CombinedOutput(); err != nil {
		t.Fatalf("systemd-tmpfiles: %v\n%s", err, out)
	}
	for _, f := range files[2:] {
		fi, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		wantMode, wantGid := os.FileMode(0o440), uint32(gid)
		if strings.Contains(f, "mmio") {
			wantMode, wantGid = 0o400, 0
		}
		if fi.Mode().Perm() != wantMode || groupOf(fi) != wantGid {
			t.Errorf("%s: mode %v group %d, want %v group %d", f, fi.Mode().Perm(), groupOf(fi), wantMode, wantGid)
		}
	}
}

// groupOf returns a file's group ID where the system has one (the Gid
// field of fi.Sys(), *syscall.Stat_t on Unix), else 0.
func groupOf(fi os.FileInfo) uint32 {
	v := reflect.ValueOf(fi.Sys())
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		if g := v.Elem().FieldByName("Gid"); g.IsValid() && g.CanUint() {
			return uint32(g.Uint())
		}
	}
	return 0
}
