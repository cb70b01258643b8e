package machine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// writeFiles writes name → content below root, making directories.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// hostFixture is a procfs whose self is PID 42 and a sysfs with one SSD
// (vda, with partition vda1) and one removable rotating disk (sdb).
func hostFixture(t *testing.T) Reader {
	t.Helper()
	proc, sys := filepath.Join(t.TempDir(), "proc"), filepath.Join(t.TempDir(), "sys")
	writeFiles(t, proc, map[string]string{
		"loadavg": "19.41 13.47 5.89 10/213 21275\n",
		"42/mountinfo": "22 1 254:0 / / rw,relatime - ext4 /dev/vda1 rw\n" +
			"23 22 0:5 / /proc rw - proc proc rw\n" +
			"24 22 254:0 /docker /var/lib/docker rw - ext4 /dev/vda1 rw\n" +
			"25 22 8:16 / /media/usb rw - vfat /dev/sdb rw\n" +
			"26 22 8:17 / /gone rw - ext4 /dev/sdc rw\n" +
			"27 22 0:30 / /tmp rw - tmpfs tmpfs rw\n",
		"42/stat": "42 (wattlens) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 123456789 2000 18446744073709551615 " +
			"94000000000000 94000000100000 140720000000000 0 0 0 0 0 2 1 0 0 17 1 0 0 0 0 0 94000000200000 94000000201000 " +
			"94000001000000 140720000001000 140720000001100 140720000001100 140720000002000 0\n",
	})
	if err := os.Symlink("42", filepath.Join(proc, "self")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, sys, map[string]string{
		"devices/virtual/block/vda/queue/rotational": "0\n",
		"devices/virtual/block/vda/removable":        "0\n",
		"devices/virtual/block/vda/vda1/partition":   "1\n",
		"devices/pci/block/sdb/queue/rotational":     "1\n",
		"devices/pci/block/sdb/removable":            "1\n",
	})
	for name, target := range map[string]string{
		"vda1": "../../devices/virtual/block/vda/vda1",
		"sdb":  "../../devices/pci/block/sdb",
	} {
		if err := os.MkdirAll(filepath.Join(sys, "class", "block"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(sys, "class", "block", name)); err != nil {
			t.Fatal(err)
		}
	}
	return New(proc, sys)
}

func TestLoadAvg(t *testing.T) {
	got, err := hostFixture(t).LoadAvg()
	if err != nil {
		t.Fatal(err)
	}
	if want := (LoadAvg{One: 19.41, Five: 13.47, Fifteen: 5.89}); got != want {
		t.Errorf("LoadAvg = %+v, want %+v", got, want)
	}
	if _, err := New(t.TempDir(), "").LoadAvg(); err == nil {
		t.Error("LoadAvg of a procfs without loadavg: no error")
	}
}

func TestDisks(t *testing.T) {
	statfs := func(path string, st *unix.Statfs_t) error {
		switch path {
		case "/", "/var/lib/docker":
			st.Bsize, st.Blocks, st.Bavail = 4096, 1000, 250
		case "/media/usb":
			st.Bsize, st.Blocks, st.Bavail = 512, 100, 100
		default:
			return errors.New("no such file")
		}
		return nil
	}
	got, err := hostFixture(t).Disks(statfs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Disk{
		{Name: "/dev/vda1", FileSystem: "ext4", MountPoint: "/", Type: "SSD", Total: 4096000, Available: 1024000},
		{Name: "/dev/sdb", FileSystem: "vfat", MountPoint: "/media/usb", Type: "HDD", Removable: true, Total: 51200, Available: 51200},
		{Name: "/dev/vda1", FileSystem: "ext4", MountPoint: "/var/lib/docker", Type: "SSD", Total: 4096000, Available: 1024000},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Disks (-want +got):\n%s", diff)
	}
}

func TestDisksUnknownDevice(t *testing.T) {
	r := hostFixture(t)
	r.sysfs = t.TempDir() // no class/block at all
	got, err := r.Disks(func(_ string, st *unix.Statfs_t) error { st.Bsize, st.Blocks = 1, 1; return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range got {
		if d.Type != "Unknown" || d.Removable {
			t.Errorf("%s: type %q removable %v, want Unknown, false", d.MountPoint, d.Type, d.Removable)
		}
	}
	if len(got) != 4 {
		t.Errorf("got %d disks, want 4 (every /dev source)", len(got))
	}
}

func TestSelf(t *testing.T) {
	got, err := hostFixture(t).Self()
	if err != nil {
		t.Fatal(err)
	}
	page := uint64(os.Getpagesize())
	if want := (Self{CPUSeconds: 3, Resident: 2000 * page, Virtual: 123456789}); got != want {
		t.Errorf("Self = %+v, want %+v", got, want)
	}
	if _, err := New(t.TempDir(), "").Self(); !errors.Is(err, errSelf) {
		t.Errorf("Self without a self link: %v, want errSelf", err)
	}
}

func TestProcessMemory(t *testing.T) {
	r := hostFixture(t)
	page := uint64(os.Getpagesize())
	rss, vsz, ok := r.ProcessMemory(42, 100)
	if !ok || rss != 2000*page || vsz != 123456789 {
		t.Errorf("ProcessMemory(42, 100) = %d, %d, %v; want %d, 123456789, true", rss, vsz, ok, 2000*page)
	}
	if _, _, ok := r.ProcessMemory(42, 101); ok {
		t.Error("a PID whose start time differs (reused): ok")
	}
	if _, _, ok := r.ProcessMemory(43, 100); ok {
		t.Error("a process that is not there: ok")
	}
}
