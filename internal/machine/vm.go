package machine

import "strings"

// DMI is what SMBIOS says about the machine: /sys/class/dmi/id/sys_vendor
// and product_name (Documentation/ABI/testing/sysfs-class-dmi-id).
type DMI struct{ Vendor, Product string }

// platforms recognise virtual machines from their SMBIOS strings, in
// order; the first match wins. Cloud bare-metal instances carry their
// provider's vendor string too, so they are matched first.
var platforms = []struct {
	name    string
	virtual bool
	match   func(d DMI) bool
}{
	{"cloud bare-metal instance", false, func(d DMI) bool { return strings.Contains(d.Product, ".metal") }},
	{"QEMU/KVM", true, func(d DMI) bool {
		return d.Vendor == "QEMU" || strings.Contains(d.Product, "KVM") || strings.HasPrefix(d.Product, "Standard PC (")
	}},
	{"Amazon EC2", true, func(d DMI) bool { return d.Vendor == "Amazon EC2" }},
	{"Google Compute Engine", true, func(d DMI) bool { return d.Vendor == "Google" }},
	{"Microsoft Hyper-V", true, func(d DMI) bool {
		return d.Vendor == "Microsoft Corporation" && d.Product == "Virtual Machine"
	}},
	{"VMware", true, func(d DMI) bool { return strings.HasPrefix(d.Vendor, "VMware") }},
	{"Xen", true, func(d DMI) bool { return d.Vendor == "Xen" || d.Product == "HVM domU" }},
	{"VirtualBox", true, func(d DMI) bool { return d.Vendor == "innotek GmbH" }},
	{"OpenStack", true, func(d DMI) bool { return strings.Contains(d.Vendor, "OpenStack") || d.Product == "OpenStack Nova" }},
	{"Alibaba Cloud", true, func(d DMI) bool { return d.Vendor == "Alibaba Cloud" }},
	{"DigitalOcean", true, func(d DMI) bool { return d.Vendor == "DigitalOcean" }},
}

// IsVM decides whether the machine is a virtual machine and says why. The
// cpuinfo "hypervisor" flag (x86 CPUID leaf 1 ECX bit 31, set by every
// hypervisor for its guests) is decisive; Arm guests have no such flag, so
// the SMBIOS strings decide next.
func IsVM(hypervisorFlag bool, d DMI) (bool, string) {
	if hypervisorFlag {
		return true, "virtual machine: hypervisor flag in /proc/cpuinfo"
	}
	for _, p := range platforms {
		if p.match(d) {
			if p.virtual {
				return true, "virtual machine: " + p.name + " (DMI " + d.Vendor + " / " + d.Product + ")"
			}
			return false, "bare metal: " + p.name + " (DMI " + d.Vendor + " / " + d.Product + ")"
		}
	}
	return false, "bare metal: no hypervisor flag, DMI " + orUnknown(d.Vendor) + " / " + orUnknown(d.Product)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
