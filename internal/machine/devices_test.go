package machine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeTree writes files (path → content) and symlinks (path → "->target")
// under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(c, "->"); ok {
			err = os.Symlink(target, full)
		} else if c == "/" {
			err = os.MkdirAll(full, 0o755)
		} else {
			err = os.WriteFile(full, []byte(c), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestBlockDevicesAndNetInterfaces(t *testing.T) {
	sys := t.TempDir()
	writeTree(t, sys, map[string]string{
		"devices/virtio1/driver/x":       "",
		"devices/drv/virtio_blk/x":       "",
		"devices/drv/virtio_net/x":       "",
		"devices/drv/igb/x":              "",
		"block/sda/device/x":             "",
		"block/sda/queue/rotational":     "1\n",
		"block/sda/dev":                  "8:0\n",
		"block/sdb/device/x":             "",
		"block/sdb/queue/rotational":     "0\n",
		"block/nvme0n1/device/x":         "",
		"block/vda/device/driver":        "->../../../devices/drv/virtio_blk",
		"block/vda/queue/rotational":     "1\n", // virtio disks say rotational
		"block/loop0/device/x":           "",
		"block/dm-0/queue/rotational":    "0\n",
		"block/zram0/queue/rotational":   "0\n",
		"block/md0/device/x":             "",
		"class/net/lo/speed":             "",
		"class/net/eth0/device/driver":   "->../../../../devices/drv/virtio_net",
		"class/net/eth0/speed":           "-1\n",
		"class/net/enp3s0/device/driver": "->../../../../devices/drv/igb",
		"class/net/enp3s0/speed":         "1000\n",
		"class/net/veth1/speed":          "10000\n", // no device: software
		"class/net/docker0/speed":        "",
	})
	r := New(t.TempDir(), sys)
	disks, err := r.BlockDevices()
	if err != nil {
		t.Fatal(err)
	}
	wantDisks := []BlockDevice{{"nvme0n1", StorageNVMe, ""}, {"sda", StorageHDD, "8:0"}, {"sdb", StorageSSD, ""}, {"vda", StorageVirtual, ""}}
	if diff := cmp.Diff(wantDisks, disks); diff != "" {
		t.Errorf("BlockDevices (-want +got):\n%s", diff)
	}
	nics, err := r.NetInterfaces()
	if err != nil {
		t.Fatal(err)
	}
	wantNICs := []NetInterface{{"enp3s0", NetPhysical, 1000}, {"eth0", NetVirtual, 0}}
	if diff := cmp.Diff(wantNICs, nics); diff != "" {
		t.Errorf("NetInterfaces (-want +got):\n%s", diff)
	}
	if _, err := New("", filepath.Join(sys, "missing")).BlockDevices(); err == nil {
		t.Error("BlockDevices of a missing sysfs: no error")
	}
}

func TestParseDiskIOTicks(t *testing.T) {
	tests := []struct {
		name, text string
		want       map[string]uint64
		wantErr    bool
	}{
		{"kernel 5.5+ (20 fields)", "   8       0 sda 100 0 800 50 10 0 80 5 0 1234 60 0 0 0 0 2 1\n 259 0 nvme0n1 1 0 8 0 0 0 0 0 0 7 0 0 0 0 0\n",
			map[string]uint64{"sda": 1234, "nvme0n1": 7}, false},
		{"kernel 4.x (14 fields)", "   8       0 sda 100 0 800 50 10 0 80 5 0 99 60\n", map[string]uint64{"sda": 99}, false},
		{"short line", "8 0 sda 1 2 3\n", nil, true},
		{"bad io_ticks", "8 0 sda 1 2 3 4 5 6 7 8 9 x 11\n", nil, true},
		{"empty", "", map[string]uint64{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDiskIOTicks(strings.NewReader(tc.text))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNetDevBytes(t *testing.T) {
	const head = "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	tests := []struct {
		name, text string
		want       map[string]uint64
		wantErr    bool
	}{
		{"two interfaces", head + "    lo: 500 5 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n",
			map[string]uint64{"lo": 1000, "eth0": 3000}, false},
		{"no space after the colon", head + "eth0:1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n", map[string]uint64{"eth0": 3000}, false},
		{"short", head + "eth0: 1 2 3\n", nil, true},
		{"not a number", head + "eth0: x 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseNetDevBytes([]byte(tc.text))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
