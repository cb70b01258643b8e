package privilege

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRaiseEffective gives a static build of testdata/raise the permitted-only
// file capability cap_perfmon=p (as the container image's binary has),
// runs it as uid 65534 with CAP_PERFMON in its bounding set and nothing
// in its ambient set (as a container runtime runs a non-root user), and
// checks that RaiseEffective makes it effective in every thread; without
// it in the bounding set, the execve still succeeds and nothing is raised.
func TestRaiseEffective(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to set file capabilities and change uid")
	}
	setcap, err1 := exec.LookPath("setcap")
	setpriv, err2 := exec.LookPath("setpriv")
	if err1 != nil || err2 != nil {
		t.Skip("needs setcap (libcap2-bin) and setpriv (util-linux)")
	}
	dir, err := os.MkdirTemp("", "raise-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "raise")
	build := exec.Command("go", "build", "-o", bin, "./testdata/raise")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command(setcap, "cap_perfmon=p", bin).CombinedOutput(); err != nil {
		t.Skipf("setcap on %s: %v: %s (a file system without xattrs?)", dir, err, out)
	}
	for _, tt := range []struct {
		bounding, want string
	}{
		{"-all,+perfmon", "CAP_PERFMON | CAP_PERFMON"},
		{"-all", " | "},
	} {
		cmd := exec.Command(setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups",
			"--inh-caps=-all", "--bounding-set="+tt.bounding, bin)
		out, err := cmd.CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != strings.TrimSpace(tt.want) {
			t.Errorf("bounding %s: %v: %q, want %q (raised | CapEff)", tt.bounding, err, got, tt.want)
		}
	}
}
