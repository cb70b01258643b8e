package machine

import (
	"errors"
	"testing"
)

func TestParseDiskBytes(t *testing.T) {
	// Two lines of a real /proc/diskstats (kernel 6.x: 20 fields) and an
	// old one with 14; sectors read are column 6, written column 10.
	text := "" +
		" 254       0 vda 139297 13230 6176266 50506 270161 425225 95787536 786922 0 158676 967796 388739 313 44722392 117794 6274 12573\n" +
		" 254       1 vda1 100 0 2000 5 300 0 4000 9 0 10 20 0 0 0 0 0 0\n" +
		"   8       0 sda 1 0 8 0 2 0 16 0 0 0 0\n"
	m, err := ParseDiskBytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"vda": (6176266 + 95787536) * 512, "vda1": 6000 * 512, "sda": 24 * 512}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s: %d bytes, want %d", k, m[k], v)
		}
	}
	for _, bad := range []string{"8 0 sda 1 2 3\n", "8 0 sda 1 0 x 0 2 0 16 0 0 0 0\n"} {
		if _, err := ParseDiskBytes([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestHostIOCountsWholeDisksAndNICs(t *testing.T) {
	root := t.TempDir()
	proc, sys := root+"/proc", root+"/sys"
	writeTree(t, sys, map[string]string{
		"devices/drv/virtio_blk/x":    "",
		"block/vda/device/driver":     "->../../../devices/drv/virtio_blk",
		"block/sdb/device/x":          "",
		"block/sdb/queue/rotational":  "0\n",
		"block/dm-0/queue/rotational": "0\n",
		"block/loop0/device/x":        "",
		"class/net/eth0/device/x":     "",
		"class/net/eth0/speed":        "1000\n",
		"class/net/veth1/speed":       "10000\n",
		"class/net/lo/speed":          "",
	})
	writeTree(t, proc, map[string]string{
		"diskstats": "" +
			" 254 0 vda 1 0 10 0 1 0 20 0 0 0 0\n" +
			" 254 1 vda1 1 0 10 0 1 0 20 0 0 0 0\n" + // a partition: inside vda
			" 8 16 sdb 1 0 1 0 1 0 1 0 0 0 0\n" +
			" 253 0 dm-0 1 0 100 0 1 0 100 0 0 0 0\n" + // on top of a disk
			" 7 0 loop0 1 0 100 0 1 0 100 0 0 0 0\n",
		"net/dev": "Inter-|   Receive                                                |  Transmit\n" +
			" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
			"    lo: 500 1 0 0 0 0 0 0 500 1 0 0 0 0 0 0\n" +
			"  eth0: 1000 1 0 0 0 0 0 0 300 1 0 0 0 0 0 0\n" +
			" veth1: 7000 1 0 0 0 0 0 0 7000 1 0 0 0 0 0 0\n",
	})
	h, err := NewHostIO(proc, sys)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := h.DiskBytes(); !ok || d != (30+2)*512 {
		t.Errorf("disk bytes %d %v, want %d (vda and sdb only)", d, ok, 32*512)
	}
	if n, ok := h.NetBytes(); !ok || n != 1300 {
		t.Errorf("net bytes %d %v, want 1300 (eth0 only)", n, ok)
	}

	empty, err := NewHostIO(root+"/none", root+"/none")
	if err == nil {
		t.Error("no sysfs: no error")
	}
	if _, ok := empty.DiskBytes(); ok {
		t.Error("no disk listed: ok")
	}
	if _, ok := empty.NetBytes(); ok {
		t.Error("no interface listed: ok")
	}
	var pe *ParseError
	writeTree(t, root+"/bad", map[string]string{"diskstats": "8 0 sda 1\n"})
	if _, err := New(root+"/bad", sys).DiskBytes(); !errors.As(err, &pe) {
		t.Errorf("bad diskstats: %v, want a *ParseError", err)
	}
}
