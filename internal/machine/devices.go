package machine

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Storage device classes (BlockDevice.Class).
const (
	StorageHDD     = "hdd"     // a rotating disk: queue/rotational is 1
	StorageSSD     = "ssd"     // a SATA or SAS solid-state drive
	StorageNVMe    = "nvme"    // an NVMe drive
	StorageVirtual = "virtual" // a disk a hypervisor presents (virtio, Xen): a cloud volume
)

// Network interface classes (NetInterface.Class).
const (
	NetPhysical = "physical" // a NIC (or an SR-IOV function of one) with a driver of its own
	NetVirtual  = "virtual"  // a paravirtual NIC a hypervisor presents (virtio_net, Xen netfront)
)

// BlockDevice is one whole disk under <sysfs>/block.
type BlockDevice struct {
	Name  string // "nvme0n1", "sda", "vda"
	Class string // one of the Storage* constants
	// Dev is the device number, "major:minor" (<sysfs>/block/<name>/dev),
	// as cgroup v2's io.stat names devices; empty when unreadable.
	Dev string
}

// NetInterface is one network interface under <sysfs>/class/net that has
// hardware (or a hypervisor's device) behind it.
type NetInterface struct {
	Name  string // "eth0", "enp3s0"
	Class string // NetPhysical or NetVirtual
	// SpeedMbps is the link speed (<sysfs>/class/net/<if>/speed); 0 when
	// unknown (link down, or a virtual NIC that reports -1).
	SpeedMbps int
}

// skippedBlock are the kernel's software block devices: they hold no
// hardware of their own (their I/O is counted on the disk below, or in
// memory).
var skippedBlock = []string{"loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd", "rbd", "drbd"}

// BlockDevices lists the disks under <sysfs>/block (Documentation/ABI/
// stable/sysfs-block), whole devices only (partitions are directories
// below them), skipping the software ones (loop, ram, zram, device-mapper,
// md RAID, nbd, optical and floppy drives) and any without a device link.
// The class is NVMe for nvme*, virtual for a device bound to virtio_blk or
// xen-blkfront (vd*, xvd*), else HDD when queue/rotational is 1, else SSD.
func (r Reader) BlockDevices() ([]BlockDevice, error) {
	dir := filepath.Join(r.sysfs, "block")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []BlockDevice
	for _, e := range ents {
		name := e.Name()
		if slices.ContainsFunc(skippedBlock, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name, "device")); err != nil {
			continue
		}
		out = append(out, BlockDevice{Name: name, Class: r.blockClass(dir, name), Dev: readTrim(filepath.Join(dir, name, "dev"))})
	}
	return out, nil
}

func (r Reader) blockClass(dir, name string) string {
	driver := driverOf(filepath.Join(dir, name, "device"))
	switch {
	case strings.HasPrefix(name, "nvme"):
		return StorageNVMe
	case driver == "virtio_blk" || driver == "vbd" || strings.HasPrefix(name, "vd") || strings.HasPrefix(name, "xvd"):
		return StorageVirtual
	case readTrim(filepath.Join(dir, name, "queue", "rotational")) == "1":
		return StorageHDD
	}
	return StorageSSD
}

// NetInterfaces lists the interfaces under <sysfs>/class/net
// (Documentation/ABI/testing/sysfs-class-net) that have a device link —
// hardware, or a hypervisor's device — leaving out lo and the software
// ones (bridges, veth pairs, tunnels, ifb, bonds), whose traffic is
// counted on a device below them or never leaves the machine. A device
// bound to virtio_net or Xen's vif driver is virtual; any other physical.
func (r Reader) NetInterfaces() ([]NetInterface, error) {
	dir := filepath.Join(r.sysfs, "class", "net")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []NetInterface
	for _, e := range ents {
		name := e.Name()
		dev := filepath.Join(dir, name, "device")
		if name == "lo" {
			continue
		}
		if _, err := os.Stat(dev); err != nil {
			continue
		}
		class := NetPhysical
		if d := driverOf(dev); d == "virtio_net" || d == "vif" {
			class = NetVirtual
		} else if target, err := os.Readlink(dev); err == nil && strings.Contains(filepath.Base(target), "virtio") {
			class = NetVirtual // the link names the virtio device itself ("virtio2")
		}
		speed, _ := strconv.Atoi(readTrim(filepath.Join(dir, name, "speed")))
		out = append(out, NetInterface{Name: name, Class: class, SpeedMbps: max(speed, 0)})
	}
	return out, nil
}

// driverOf returns the name of the driver bound to the device dev (the
// base name of its driver link), "" when none.
func driverOf(dev string) string {
	target, err := os.Readlink(filepath.Join(dev, "driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(target)
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
