package procstat_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/procstat/procfstest"
)

func TestReadProcessMetaOfPIDs(t *testing.T) {
	fs := procfstest.Build(t, filepath.Join(t.TempDir(), "proc"), []procfstest.Proc{
		{PID: 7, PPID: 1, Comm: "nginx", UTime: 4, STime: 2, StartTime: 90, Exe: "/usr/sbin/nginx",
			Cmdline: []string{"nginx", "-g", "daemon off;"}, Cgroup: procfstest.CgroupV2("/system.slice/nginx.service")},
		{PID: 12, PPID: 7, Comm: "worker", StartTime: 95},
	})
	var hooked []int
	r := procstat.NewReader(fs.Root, procstat.WithMetaHook(func(pid int, m *procinfo.Meta) {
		hooked = append(hooked, pid)
		m.VM = "hooked"
	}))

	got, ok := r.ReadProcess(7)
	if !ok {
		t.Fatal("ReadProcess(7): not ok")
	}
	want := procinfo.Proc{Key: procinfo.Key{PID: 7, StartTime: 90}, CPU: 6, PPID: 1, Meta: &procinfo.Meta{
		Exe: "/usr/sbin/nginx", Comm: "nginx", Cmdline: "nginx -g daemon off;", Cgroup: "/system.slice/nginx.service", VM: "hooked"},
		// procfstest writes vsize 10 000 000 + PID × 4096 and rss 300 + PID pages.
		Memory: procinfo.Memory{Resident: 307 * uint64(os.Getpagesize()), Virtual: 10_000_000 + 7*4096, Known: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadProcess (-want +got):\n%s", diff)
	}
	if _, ok := r.ReadProcess(99); ok {
		t.Error("ReadProcess(99) of a missing process: ok")
	}

	m := r.MetaOf(40, []byte("cc1\tplus\xff"), "/user.slice")
	if diff := cmp.Diff(&procinfo.Meta{Comm: "cc1 plus\uFFFD", Cgroup: "/user.slice", VM: "hooked"}, m); diff != "" {
		t.Errorf("MetaOf (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{7, 40}, hooked); diff != "" {
		t.Errorf("hook ran for (-want +got):\n%s", diff)
	}

	pids, err := r.PIDs(nil)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pids)
	if diff := cmp.Diff([]int{7, 12}, pids); diff != "" {
		t.Errorf("PIDs (-want +got):\n%s", diff)
	}
	if _, err := procstat.NewReader(filepath.Join(t.TempDir(), "none")).PIDs(nil); err == nil {
		t.Error("PIDs of a missing root: no error")
	}
}
