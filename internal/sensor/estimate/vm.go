package estimate

import (
	"os"
	"path/filepath"
	"strings"
)

// dmi is what /sys/class/dmi/id says about the machine (SMBIOS system
// information; Documentation/ABI/testing/sysfs-class-dmi-id).
type dmi struct{ vendor, product string }

func readDMI(sysfs string) dmi {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(sysfs, "class", "dmi", "id", name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return dmi{vendor: read("sys_vendor"), product: read("product_name")}
}

// platforms recognise virtual machines from their SMBIOS strings, in
// order; the first match wins. Cloud bare-metal instances carry their
// provider's vendor string too, so they are matched first.
var platforms = []struct {
	name    string
	virtual bool
	match   func(d dmi) bool
}{
	{"cloud bare-metal instance", false, func(d dmi) bool { return strings.Contains(d.product, ".metal") }},
	{"QEMU/KVM", true, func(d dmi) bool {
		return d.vendor == "QEMU" || strings.Contains(d.product, "KVM") || strings.HasPrefix(d.product, "Standard PC (")
	}},
	{"Amazon EC2", true, func(d dmi) bool { return d.vendor == "Amazon EC2" }},
	{"Google Compute Engine", true, func(d dmi) bool { return d.vendor == "Google" }},
	{"Microsoft Hyper-V", true, func(d dmi) bool {
		return d.vendor == "Microsoft Corporation" && d.product == "Virtual Machine"
	}},
	{"VMware", true, func(d dmi) bool { return strings.HasPrefix(d.vendor, "VMware") }},
	{"Xen", true, func(d dmi) bool { return d.vendor == "Xen" || d.product == "HVM domU" }},
	{"VirtualBox", true, func(d dmi) bool { return d.vendor == "innotek GmbH" }},
	{"OpenStack", true, func(d dmi) bool { return strings.Contains(d.vendor, "OpenStack") || d.product == "OpenStack Nova" }},
	{"Alibaba Cloud", true, func(d dmi) bool { return d.vendor == "Alibaba Cloud" }},
	{"DigitalOcean", true, func(d dmi) bool { return d.vendor == "DigitalOcean" }},
}

// isVM decides whether the machine is a virtual machine and says why. The
// cpuinfo "hypervisor" flag (x86 CPUID leaf 1 ECX bit 31, set by every
// hypervisor for its guests) is decisive; Arm guests have no such flag, so
// the SMBIOS strings decide next.
func isVM(hypervisorFlag bool, d dmi) (bool, string) {
	if hypervisorFlag {
		return true, "virtual machine: hypervisor flag in /proc/cpuinfo"
	}
	for _, p := range platforms {
		if p.match(d) {
			if p.virtual {
				return true, "virtual machine: " + p.name + " (DMI " + d.vendor + " / " + d.product + ")"
			}
			return false, "bare metal: " + p.name + " (DMI " + d.vendor + " / " + d.product + ")"
		}
	}
	return false, "bare metal: no hypervisor flag, DMI " + orUnknown(d.vendor) + " / " + orUnknown(d.product)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
