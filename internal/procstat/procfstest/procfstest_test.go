package procfstest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuild(t *testing.T) {
	fs := Build(t, t.TempDir(), []Proc{
		{PID: 42, Comm: "my prog)", UTime: 7, STime: 8, StartTime: 99, Cmdline: []string{"/bin/my", "a b"}, Exe: "/bin/my", Cgroup: CgroupV2("/x.slice")},
		{PID: 2, Comm: "kthreadd"},
	})
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(fs.Root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	statFields := func(pid string) []string {
		s := read(pid + "/stat")
		if !strings.HasSuffix(s, "\n") {
			t.Errorf("%s/stat does not end with a newline", pid)
		}
		i := strings.LastIndexByte(s, ')')
		return append([]string{"pid", "comm"}, strings.Fields(s[i+1:])...)
	}

	f := statFields("42")
	if diff := cmp.Diff([]string{"52", "S", "7", "8", "99"}, []string{
		// Counted as in proc(5): field n is f[n-1].
		strconv.Itoa(len(f)), f[2], f[13], f[14], f[21],
	}); diff != "" {
		t.Errorf("stat fields (-want +got):\n%s", diff)
	}
	files := map[string]string{
		"42/comm":    read("42/comm"),
		"42/cmdline": read("42/cmdline"),
		"42/cgroup":  read("42/cgroup"),
		"2/cmdline":  read("2/cmdline"),
		"2/cgroup":   read("2/cgroup"),
	}
	want := map[string]string{
		"42/comm":    "my prog)\n",
		"42/cmdline": "/bin/my\x00a b\x00",
		"42/cgroup":  "0::/x.slice\n",
		"2/cmdline":  "",
		"2/cgroup":   "0::/\n",
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got, err := os.Readlink(filepath.Join(fs.Root, "42/exe")); err != nil || got != "/bin/my" {
		t.Errorf("42/exe -> %q, %v; want /bin/my", got, err)
	}
	if _, err := os.Lstat(filepath.Join(fs.Root, "2/exe")); !os.IsNotExist(err) {
		t.Errorf("2/exe: %v, want no link", err)
	}

	fs.SetCPUTime(42, 100, 200)
	if f := statFields("42"); f[13] != "100" || f[14] != "200" || f[21] != "99" {
		t.Errorf("after SetCPUTime: utime %s stime %s starttime %s; want 100 200 99", f[13], f[14], f[21])
	}
	fs.Remove(42)
	if _, err := os.Stat(filepath.Join(fs.Root, "42")); !os.IsNotExist(err) {
		t.Errorf("after Remove: %v, want gone", err)
	}
}

func TestSetCPU(t *testing.T) {
	fs := New(t, t.TempDir())
	fs.SetCPU(CPU{User: 10, Idle: 20, Guest: 3}, 2)
	lines := strings.Split(strings.TrimSpace(mustRead(t, filepath.Join(fs.Root, "stat"))), "\n")
	if diff := cmp.Diff([]string{"cpu  10 0 0 20 0 0 0 0 3 0", "cpu0 5 0 0 10 0 0 0 0 1 0", "cpu1 5 0 0 10 0 0 0 0 1 0"}, lines[:3]); diff != "" {
		t.Errorf("stat cpu lines (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(lines[3], "intr ") {
		t.Errorf("line 4 = %q, want the intr line", lines[3])
	}
}

func TestGenerateMany(t *testing.T) {
	fs := GenerateMany(t, t.TempDir(), 25)
	entries, err := os.ReadDir(fs.Root)
	if err != nil {
		t.Fatal(err)
	}
	dirs := 0
	for _, e := range entries {
		if e.IsDir() {
			dirs++
		}
	}
	if dirs != 25 {
		t.Errorf("%d process directories, want 25", dirs)
	}
	if got := mustRead(t, filepath.Join(fs.Root, "1024", "cmdline")); got != "/usr/bin/worker\x00--id=24\x00--config\x00/etc/worker.conf\x00" {
		t.Errorf("1024/cmdline = %q", got)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
