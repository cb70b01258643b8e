package qemu

import (
	"strings"
	"testing"

	"github.com/wattlens/wattlens/internal/units"
	"github.com/wattlens/wattlens/internal/vmdetect"
)

// FuzzCmdlineToDirName: any qemu/libvirt/Proxmox command line (NUL
// separated, as /proc/<pid>/cmdline) gives a VM name or none, and that
// name a directory name that is safe: valid by the share's own rule, no
// '/', not "." or "..", at most MaxDirName bytes, and stable (a safe name
// maps to itself).
func FuzzCmdlineToDirName(f *testing.F) {
	for _, s := range []string{
		"/usr/bin/qemu-system-x86_64\x00-name\x00guest=web01,debug-threads=on\x00-uuid\x00c7a5fdbd-cdaf-9455-926a-d65c16db1809\x00",
		"/usr/bin/kvm\x00-id\x00101\x00-name\x00db,debug-threads=on\x00",
		"qemu-system-aarch64\x00-name\x00../../etc\x00",
		"qemu-kvm\x00-name\x00guest=a,,b\x00",
		"/usr/libexec/qemu-kvm\x00-uuid\x00x\x00",
		"qemu-system-x86_64\x00-name\x00\u202eevil\x1b[2J\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, cmdline []byte) {
		args := vmdetect.ParseArgs(cmdline)
		vm, ok := vmdetect.Detect(vmdetect.Process{PID: 4242, Args: args})
		if !ok {
			return
		}
		if vm.Name == "" {
			t.Fatalf("Detect(%q): a VM with no name", cmdline)
		}
		dir, _ := DirName(vm.Name)
		if !validDirName(dir) || strings.Contains(dir, "/") || dir == "." || dir == ".." || len(dir) > MaxDirName {
			t.Fatalf("DirName(%q) = %q: not a safe directory name", vm.Name, dir)
		}
		if again, changed := DirName(dir); changed || again != dir {
			t.Fatalf("DirName(%q) = %q, %v: a safe name must map to itself", dir, again, changed)
		}
	})
}

// FuzzParseUJ: a share's energy_uj content parses to the number it
// spells, or fails.
func FuzzParseUJ(f *testing.F) {
	f.Add([]byte("123456789\n"))
	f.Add([]byte("18446744073709551616\n"))
	f.Add([]byte(" 1 \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseUJ(b)
		if err != nil {
			return
		}
		back, err := parseUJ(append(formatUJ(units.Energy(v)), '\n'))
		if err != nil || back != v {
			t.Errorf("parseUJ(%q) = %d; formatted and parsed again: %d, %v", b, v, back, err)
		}
	})
}
