// Package vmdetect tells whether a process is a qemu/KVM virtual machine
// and, if so, which one, from its command line.
//
// Each hypervisor stack starts qemu its own way; an ordered list of
// matchers (Matchers) recognises them, first match wins, the generic ones
// last:
//
//	proxmox    /usr/bin/kvm -id 100 -name web01,debug-threads=on …
//	openstack  /usr/libexec/qemu-kvm -name guest=instance-0000abcd,debug-threads=on …
//	libvirt    /usr/bin/qemu-system-x86_64 -name guest=NAME,debug-threads=on -S -object …
//	qemu       qemu-system-aarch64 -name NAME[,process=…] …   (any qemu binary, by hand or a script)
//	uuid       a qemu binary with no -name but a -uuid: the UUID is the name
//	pid        a qemu binary with neither: "qemu-<pid>" (see below)
//
// A qemu binary is an argv[0] or executable whose base name is
// qemu-system-<arch>, qemu-kvm (RHEL, CentOS, OpenStack's compute nodes)
// or kvm (Debian's old wrapper, Proxmox). Other processes are never VMs,
// whatever their arguments say.
//
// The -name value is parsed as qemu parses it, by package qemuargs (QemuOpts, see qemu's
// util/qemu-option.c and the -name entry of qemu-options.hx): a list of
// key=value pairs separated by commas, a comma inside a value written as
// ",,", and a first element without "=" standing for guest=. libvirt
// escapes commas in domain names this way.
//
// A qemu with neither -name nor -uuid is still a VM (its energy is booked
// as one, so wattlens_vm_* adds up), named after its PID. Such a name
// changes each time the VM starts, so its share directory does too: give
// every VM that should read its share a -name.
package vmdetect

import (
	"path"
	"strconv"
	"strings"

	"github.com/wattlens/wattlens/internal/ascii"
	"github.com/wattlens/wattlens/internal/vmdetect/qemuargs"
)

// Process is what a matcher sees of a process.
type Process struct {
	PID int
	// Args is the argument vector, argv[0] first. When only the joined
	// command line is known (see qemuargs.SplitJoined), an argument that held
	// spaces may be split in several.
	Args []string
	// Exe is the executable's path (readlink /proc/<pid>/exe); may be
	// empty.
	Exe string
}

// VM is a recognised virtual machine.
type VM struct {
	// Name is the VM's name as the command line gives it (libvirt domain
	// name, Proxmox VM name, -name, -uuid, or "qemu-<pid>"). It is not
	// made safe for a file name: exporters do that.
	Name string
	// ID is the Proxmox VMID (-id), empty elsewhere.
	ID string
	// UUID is the -uuid value, empty when absent.
	UUID string
	// Kind is the name of the matcher that recognised it.
	Kind string
}

// Matcher recognises the VMs of one hypervisor stack.
type Matcher struct {
	Kind  string
	Match func(p Process) (VM, bool)
}

// Matchers returns the matchers in the order Detect tries them: the most
// specific first, the generic ones last.
func Matchers() []Matcher {
	return []Matcher{
		{Kind: "proxmox", Match: matchProxmox},
		{Kind: "openstack", Match: matchOpenStack},
		{Kind: "libvirt", Match: matchLibvirt},
		{Kind: "qemu", Match: matchQemu},
		{Kind: "uuid", Match: matchUUID},
		{Kind: "pid", Match: matchPID},
	}
}

// Detect returns the VM that p runs, trying each matcher in turn.
func Detect(p Process) (VM, bool) {
	if !IsQemu(p) {
		return VM{}, false
	}
	for _, m := range Matchers() {
		if vm, ok := m.Match(p); ok {
			vm.Kind = m.Kind
			return vm, true
		}
	}
	return VM{}, false
}

// IsQemu reports whether p runs a qemu system emulator: its argv[0] or
// executable is named qemu-system-*, qemu-kvm or kvm.
func IsQemu(p Process) bool {
	if len(p.Args) > 0 && isQemuBinary(p.Args[0]) {
		return true
	}
	return isQemuBinary(p.Exe)
}

func isQemuBinary(file string) bool {
	if file == "" {
		return false
	}
	// readlink of /proc/<pid>/exe says "(deleted)" after an upgrade
	// replaced the binary under a running VM.
	base := path.Base(strings.TrimSuffix(file, " (deleted)"))
	return strings.HasPrefix(base, "qemu-system-") || base == "qemu-kvm" || base == "kvm"
}

// matchProxmox recognises Proxmox VE's qemu-server: "-id <vmid>" (an
// option of Proxmox's patched qemu) and "-name <name>,debug-threads=on".
func matchProxmox(p Process) (VM, bool) {
	id, ok := qemuargs.Value(p.Args, "id")
	if !ok || !ascii.IsDigits(id) {
		return VM{}, false
	}
	vm := VM{ID: id, UUID: uuidOf(p)}
	vm.Name = nameOf(p)
	if vm.Name == "" {
		// qemu-server always passes -name; be safe anyway.
		vm.Name = "vmid-" + id
	}
	return vm, true
}

// matchOpenStack recognises nova's libvirt domains, named
// instance-<8 hex digits> (nova's instance_name_template default).
func matchOpenStack(p Process) (VM, bool) {
	opts, ok := nameOpts(p)
	if !ok {
		return VM{}, false
	}
	name, explicit := opts.Guest()
	if !explicit || !isNovaInstance(name) {
		return VM{}, false
	}
	return VM{Name: name, UUID: uuidOf(p)}, true
}

// matchLibvirt recognises libvirt's "-name guest=<domain>,…" (libvirt
// always writes the guest= key).
func matchLibvirt(p Process) (VM, bool) {
	opts, ok := nameOpts(p)
	if !ok {
		return VM{}, false
	}
	name, explicit := opts.Guest()
	if !explicit || name == "" {
		return VM{}, false
	}
	return VM{Name: name, UUID: uuidOf(p)}, true
}

// matchQemu recognises a plain "-name <name>[,…]".
func matchQemu(p Process) (VM, bool) {
	name := nameOf(p)
	if name == "" {
		return VM{}, false
	}
	return VM{Name: name, UUID: uuidOf(p)}, true
}

// matchUUID names a VM with no -name after its -uuid.
func matchUUID(p Process) (VM, bool) {
	u := uuidOf(p)
	if u == "" {
		return VM{}, false
	}
	return VM{Name: u, UUID: u}, true
}

// matchPID names a VM with neither -name nor -uuid after its PID.
func matchPID(p Process) (VM, bool) {
	if p.PID <= 0 {
		return VM{}, false
	}
	return VM{Name: "qemu-" + strconv.Itoa(p.PID)}, true
}

func nameOf(p Process) string {
	opts, ok := nameOpts(p)
	if !ok {
		return ""
	}
	name, _ := opts.Guest()
	return name
}

func nameOpts(p Process) (qemuargs.Opts, bool) {
	v, ok := qemuargs.Value(p.Args, "name")
	if !ok {
		return nil, false
	}
	return qemuargs.ParseOpts(v), true
}

func uuidOf(p Process) string {
	u, _ := qemuargs.Value(p.Args, "uuid")
	return u
}

func isNovaInstance(name string) bool {
	hex, ok := strings.CutPrefix(name, "instance-")
	return ok && len(hex) == 8 && ascii.IsLowerHex(hex)
}
