package vmdetect

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/vmdetect/qemuargs"
)

// Real command lines, as ps -ww shows them (arguments hold no spaces
// unless said otherwise), from each kind of hypervisor.
const (
	// libvirt 9.0 + qemu 7.2 on Debian 12, a q35 domain with a virtiofs
	// share (memfd memory backend) and the usual devices.
	libvirtLine = `/usr/bin/qemu-system-x86_64 -name guest=debian12,debug-threads=on -S ` +
		`-object {"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-3-debian12/master-key.aes"} ` +
		`-machine pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off,memory-backend=pc.ram -accel kvm -cpu host,migratable=on -m 2048 ` +
		`-object {"qom-type":"memory-backend-memfd","id":"pc.ram","share":true,"x-use-canonical-path-for-ramblock-id":false,"size":2147483648} ` +
		`-overcommit mem-lock=off -smp 2,sockets=2,cores=1,threads=1 -uuid 5a6f3c1e-8f0b-4d2a-9b7e-1c2d3e4f5a6b ` +
		`-no-user-config -nodefaults -chardev socket,id=charmonitor,fd=31,server=on,wait=off -mon chardev=charmonitor,id=monitor,mode=control ` +
		`-rtc base=utc,driftfix=slew -global kvm-pit.lost_tick_policy=delay -no-hpet -no-shutdown -global ICH9-LPC.disable_s3=1 ` +
		`-global ICH9-LPC.disable_s4=1 -boot strict=on ` +
		`-device {"driver":"pcie-root-port","port":16,"chassis":1,"id":"pci.1","bus":"pcie.0","multifunction":true,"addr":"0x2"} ` +
		`-device {"driver":"pcie-root-port","port":17,"chassis":2,"id":"pci.2","bus":"pcie.0","addr":"0x2.0x1"} ` +
		`-device {"driver":"qemu-xhci","p2":15,"p3":15,"id":"usb","bus":"pci.2","addr":"0x0"} ` +
		`-blockdev {"driver":"file","filename":"/var/lib/libvirt/images/debian12.qcow2","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"} ` +
		`-blockdev {"node-name":"libvirt-1-format","read-only":false,"driver":"qcow2","file":"libvirt-1-storage"} ` +
		`-device {"driver":"virtio-blk-pci","bus":"pci.4","addr":"0x0","drive":"libvirt-1-format","id":"virtio-disk0","bootindex":1} ` +
		`-netdev {"type":"tap","fd":"33","vhost":true,"vhostfd":"35","id":"hostnet0"} ` +
		`-device {"driver":"virtio-net-pci","netdev":"hostnet0","id":"net0","mac":"52:54:00:8e:1c:5d","bus":"pci.1","addr":"0x0"} ` +
		`-chardev pty,id=charserial0 -device {"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0} ` +
		`-chardev socket,id=chr-vu-fs0,path=/var/lib/libvirt/qemu/domain-3-debian12/fs0-fs.sock ` +
		`-device {"driver":"vhost-user-fs-pci","id":"fs0","chardev":"chr-vu-fs0","tag":"wattlens","bus":"pci.7","addr":"0x0"} ` +
		`-audiodev {"id":"audio1","driver":"none"} -vnc 127.0.0.1:0,audiodev=audio1 ` +
		`-device {"driver":"virtio-vga","id":"video0","max_outputs":1,"bus":"pcie.0","addr":"0x1"} ` +
		`-device {"driver":"virtio-balloon-pci","id":"balloon0","bus":"pci.5","addr":"0x0"} ` +
		`-object {"qom-type":"rng-random","id":"objrng0","filename":"/dev/urandom"} ` +
		`-device {"driver":"virtio-rng-pci","rng":"objrng0","id":"rng0","bus":"pci.6","addr":"0x0"} ` +
		`-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny -msg timestamp=on`

	// Proxmox VE 8 (qemu-server), VMID 100.
	proxmoxLine = `/usr/bin/kvm -id 100 -name web01,debug-threads=on -no-shutdown ` +
		`-chardev socket,id=qmp,path=/var/run/qemu-server/100.qmp,server=on,wait=off -mon chardev=qmp,mode=control ` +
		`-chardev socket,id=qmp-event,path=/var/run/qmeventd.sock,reconnect=5 -mon chardev=qmp-event,mode=control ` +
		`-pidfile /var/run/qemu-server/100.pid -daemonize -smbios type=1,uuid=7c9e6679-7425-40de-944b-e07fc1f90ae7 ` +
		`-smp 4,sockets=1,cores=4,maxcpus=4 -nodefaults -boot menu=on,strict=on,reboot-timeout=1000,splash=/usr/share/qemu-server/bootsplash.jpg ` +
		`-vnc unix:/var/run/qemu-server/100.vnc,password=on -cpu x86-64-v2-AES,+kvm_pv_eoi,+kvm_pv_unhalt -m 4096 ` +
		`-object iothread,id=iothread-virtioscsi0 -device pci-bridge,id=pci.1,chassis_nr=1,bus=pci.0,addr=0x1e ` +
		`-device pci-bridge,id=pci.2,chassis_nr=2,bus=pci.0,addr=0x1f -device pci-bridge,id=pci.3,chassis_nr=3,bus=pci.0,addr=0x5 ` +
		`-device vmgenid,guid=3b1e7f2a-6c4d-4e5f-8a9b-0c1d2e3f4a5b -device piix3-usb-uhci,id=uhci,bus=pci.0,addr=0x1.0x2 ` +
		`-device usb-tablet,id=tablet,bus=uhci.0,port=1 -device VGA,id=vga,bus=pci.0,addr=0x2 ` +
		`-chardev socket,path=/var/run/qemu-server/100.qga,server=on,wait=off,id=qga0 -device virtio-serial,id=qga0,bus=pci.0,addr=0x8 ` +
		`-device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0 ` +
		`-device virtio-balloon-pci,id=balloon0,bus=pci.0,addr=0x3,free-page-reporting=on ` +
		`-iscsi initiator-name=iqn.1993-08.org.debian:01:4f3b2c1d0e9a -drive if=none,id=drive-ide2,media=cdrom,aio=io_uring ` +
		`-device ide-cd,bus=ide.1,unit=0,drive=drive-ide2,id=ide2,bootindex=101 ` +
		`-device virtio-scsi-pci,id=virtioscsi0,bus=pci.3,addr=0x1,iothread=iothread-virtioscsi0 ` +
		`-drive file=/dev/pve/vm-100-disk-0,if=none,id=drive-scsi0,format=raw,cache=none,aio=io_uring,detect-zeroes=on ` +
		`-device scsi-hd,bus=virtioscsi0.0,channel=0,scsi-id=0,lun=0,drive=drive-scsi0,id=scsi0,bootindex=100 ` +
		`-netdev type=tap,id=net0,ifname=tap100i0,script=/var/lib/qemu-server/pve-bridge,downscript=/var/lib/qemu-server/pve-bridgedown,vhost=on ` +
		`-device virtio-net-pci,mac=BC:24:11:5E:3A:7F,netdev=net0,bus=pci.0,addr=0x12,id=net0,rx_queue_size=1024,tx_queue_size=256 ` +
		`-machine type=pc-i440fx-8.1+pve0`

	// OpenStack nova on RHEL 9 (libvirt, qemu-kvm). The -smbios argument
	// holds spaces ("Red Hat", "OpenStack Compute").
	openstackLine = `/usr/libexec/qemu-kvm -name guest=instance-0000abcd,debug-threads=on -S ` +
		`-object {"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-12-instance-0000abcd/master-key.aes"} ` +
		`-machine pc-q35-rhel9.2.0,usb=off,dump-guest-core=off,memory-backend=pc.ram -accel kvm ` +
		`-cpu Cascadelake-Server,ss=on,vmx=on,hypervisor=on,tsc-adjust=on,umip=on,pku=on,md-clear=on,stibp=on,arch-capabilities=on,xsaves=on,ibpb=on,ibrs=on,amd-stibp=on,amd-ssbd=on,rdctl-no=on,ibrs-all=on,skip-l1dfl-vmentry=on,mds-no=on,pschange-mc-no=on,tsx-ctrl=on ` +
		`-m 4096 -object {"qom-type":"memory-backend-ram","id":"pc.ram","size":4294967296} -overcommit mem-lock=off ` +
		`-smp 2,sockets=2,dies=1,cores=1,threads=1 -uuid 2d3f6a1b-4c5d-4e6f-8a7b-9c0d1e2f3a4b ` +
		"-smbios type=1,manufacturer=Red Hat,product=OpenStack Compute,version=27.1.1-0.20230829,serial=2d3f6a1b-4c5d-4e6f-8a7b-9c0d1e2f3a4b,uuid=2d3f6a1b-4c5d-4e6f-8a7b-9c0d1e2f3a4b,family=Virtual Machine " +
		`-no-user-config -nodefaults -chardev socket,id=charmonitor,fd=28,server=on,wait=off -mon chardev=charmonitor,id=monitor,mode=control ` +
		`-rtc base=utc,driftfix=slew -global kvm-pit.lost_tick_policy=delay -no-hpet -no-shutdown -boot strict=on ` +
		`-blockdev {"driver":"file","filename":"/var/lib/nova/instances/_base/5f1e2d3c","node-name":"libvirt-2-storage","auto-read-only":true,"discard":"unmap"} ` +
		`-device {"driver":"virtio-blk-pci","bus":"pci.3","addr":"0x0","drive":"libvirt-1-format","id":"virtio-disk0","bootindex":1,"write-cache":"on"} ` +
		`-netdev {"type":"tap","fd":"30","vhost":true,"vhostfd":"32","id":"hostnet0"} ` +
		`-device {"driver":"virtio-net-pci","host_mtu":1442,"netdev":"hostnet0","id":"net0","mac":"fa:16:3e:4b:2a:19","bus":"pci.2","addr":"0x0"} ` +
		`-vnc 10.0.0.5:0 -device {"driver":"cirrus-vga","id":"video0","bus":"pcie.0","addr":"0x1"} ` +
		`-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny -msg timestamp=on`

	// qemu started by hand or by a script.
	plainLine = `qemu-system-x86_64 -enable-kvm -name builder,process=qemu-builder -m 1024 -smp 2 ` +
		`-drive file=/srv/vms/builder.qcow2,if=virtio,cache=none -netdev user,id=n0,hostfwd=tcp::2222-:22 ` +
		`-device virtio-net-pci,netdev=n0 -virtfs local,path=/var/lib/wattlens/vms/builder,mount_tag=wattlens,security_model=none,readonly=on -nographic`

	plainEscapedLine = `/opt/qemu/bin/qemu-system-aarch64 -M virt -cpu cortex-a72 -m 2048 -name db,,primary,debug-threads=on ` +
		`-bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd -drive file=/srv/vms/db.img,if=virtio -nographic`

	uuidOnlyLine = `/usr/bin/qemu-system-x86_64 -machine q35,accel=kvm -m 512 -uuid 0b9c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e ` +
		`-kernel /boot/vmlinuz -append console=ttyS0 -nographic`

	anonymousLine = `qemu-system-riscv64 -machine virt -m 256 -bios none -kernel /tmp/Image -nographic`
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		p    Process
		want VM
		ok   bool
	}{
		{"libvirt", proc(libvirtLine), VM{Name: "debian12", UUID: "5a6f3c1e-8f0b-4d2a-9b7e-1c2d3e4f5a6b", Kind: "libvirt"}, true},
		{"proxmox", proc(proxmoxLine), VM{Name: "web01", ID: "100", Kind: "proxmox"}, true},
		{"openstack", procArgs(openstackArgs()), VM{Name: "instance-0000abcd", UUID: "2d3f6a1b-4c5d-4e6f-8a7b-9c0d1e2f3a4b", Kind: "openstack"}, true},
		{"plain qemu", proc(plainLine), VM{Name: "builder", Kind: "qemu"}, true},
		{"plain qemu, escaped comma", proc(plainEscapedLine), VM{Name: "db,primary", Kind: "qemu"}, true},
		{"uuid only", proc(uuidOnlyLine), VM{Name: "0b9c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", UUID: "0b9c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", Kind: "uuid"}, true},
		{"no name, no uuid", Process{PID: 4242, Args: strings.Fields(anonymousLine)}, VM{Name: "qemu-4242", Kind: "pid"}, true},
		{"libvirt name with a space", procArgs([]string{"/usr/bin/qemu-system-x86_64", "-name", "guest=my vm,debug-threads=on", "-S"}), VM{Name: "my vm", Kind: "libvirt"}, true},
		{"libvirt name with an escaped comma", procArgs([]string{"/usr/bin/qemu-system-x86_64", "-name", "guest=a,,b,debug-threads=on"}), VM{Name: "a,b", Kind: "libvirt"}, true},
		{"implied name with an escaped comma and '='", procArgs([]string{"qemu-system-x86_64", "-name", "a,,b=c"}), VM{Name: "a,b=c", Kind: "qemu"}, true},
		{"double-dash option", procArgs([]string{"qemu-system-x86_64", "--name", "dd"}), VM{Name: "dd", Kind: "qemu"}, true},
		{"last -name wins", procArgs([]string{"qemu-system-x86_64", "-name", "first", "-name", "second"}), VM{Name: "second", Kind: "qemu"}, true},
		{"argv0 rewritten, exe tells", Process{PID: 7, Args: []string{"qemu", "-name", "x"}, Exe: "/usr/bin/qemu-system-x86_64"}, VM{Name: "x", Kind: "qemu"}, true},
		{"exe replaced by an upgrade", Process{PID: 7, Args: []string{"/proc/self/fd/3", "-name", "x"}, Exe: "/usr/bin/qemu-system-x86_64 (deleted)"}, VM{Name: "x", Kind: "qemu"}, true},
		{"kvm -id that is not a number", procArgs([]string{"/usr/bin/kvm", "-id", "abc", "-name", "n"}), VM{Name: "n", Kind: "qemu"}, true},
		{"empty guest=", Process{PID: 9, Args: []string{"qemu-system-x86_64", "-name", "guest=,debug-threads=on"}}, VM{Name: "qemu-9", Kind: "pid"}, true},
		{"nova-looking name without guest=", procArgs([]string{"qemu-kvm", "-name", "instance-0000abcd"}), VM{Name: "instance-0000abcd", Kind: "qemu"}, true},

		{"not qemu, with -name", procArgs([]string{"/usr/bin/python3", "worker.py", "-name", "guest=fake"}), VM{}, false},
		{"qemu-img", procArgs([]string{"/usr/bin/qemu-img", "convert", "-name", "x"}), VM{}, false},
		{"grep for qemu", procArgs([]string{"grep", "qemu-system-x86_64", "-name", "guest=x"}), VM{}, false},
		{"qemu user-mode emulator", procArgs([]string{"/usr/bin/qemu-x86_64-static", "/bin/ls"}), VM{}, false},
		{"empty", Process{}, VM{}, false},
		{"-name as the last word", Process{Args: []string{"qemu-system-x86_64", "-name"}}, VM{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Detect(tt.p)
			if ok != tt.ok {
				t.Fatalf("Detect() ok = %v, want %v (got %+v)", ok, tt.ok, got)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Detect() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func proc(line string) Process { return procArgs(strings.Fields(line)) }

func procArgs(args []string) Process { return Process{PID: 1234, Args: args, Exe: ""} }

// openstackArgs is openstackLine as its real argument vector: the -smbios
// value is one argument holding spaces.
func openstackArgs() []string {
	before, after, _ := strings.Cut(openstackLine, "-smbios ")
	smbios, rest, _ := strings.Cut(after, " -no-user-config")
	args := strings.Fields(before)
	args = append(args, "-smbios", smbios)
	return append(args, strings.Fields("-no-user-config"+rest)...)
}

// TestSplitJoinedRealLines checks that the joined fallback finds the same
// VM as the real argument vector for every real line, including the one
// whose -smbios argument holds spaces.
func TestSplitJoinedRealLines(t *testing.T) {
	for name, args := range map[string][]string{
		"libvirt":   strings.Fields(libvirtLine),
		"proxmox":   strings.Fields(proxmoxLine),
		"openstack": openstackArgs(),
		"plain":     strings.Fields(plainLine),
	} {
		t.Run(name, func(t *testing.T) {
			want, _ := Detect(Process{PID: 1, Args: args})
			got, ok := Detect(Process{PID: 1, Args: qemuargs.SplitJoined(strings.Join(args, " "))})
			if !ok {
				t.Fatal("not detected from the joined line")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("joined line mismatch (-raw args +joined):\n%s", diff)
			}
		})
	}
}

// fakeProc writes <root>/<pid>/cmdline with NUL separators, as the kernel
// does.
func fakeProc(t *testing.T, root string, pid int, args []string) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.Join(args, "\x00")+"\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMetaHook(t *testing.T) {
	procfs := t.TempDir()
	spaced := []string{"/usr/bin/qemu-system-x86_64", "-name", "guest=my -vm,debug-threads=on", "-S", "-m", "512"}
	fakeProc(t, procfs, 10, spaced)
	fakeProc(t, procfs, 11, strings.Fields(proxmoxLine))
	hostile := []string{"qemu-system-x86_64", "-name", "guest=\x1b[31mred\x1b[0m,debug-threads=on"}
	fakeProc(t, procfs, 12, hostile)

	tests := []struct {
		name string
		pid  int
		meta procinfo.Meta
		want string
	}{
		{
			// The raw argv keeps " -vm" inside the name; the joined line
			// alone would cut it.
			name: "raw args re-read",
			pid:  10,
			meta: procinfo.Meta{Exe: "/usr/bin/qemu-system-x86_64", Cmdline: strings.Join(spaced, " ")},
			want: "my -vm",
		},
		{
			name: "joined line when procfs has no such process",
			pid:  99,
			meta: procinfo.Meta{Exe: "/usr/bin/qemu-system-x86_64", Cmdline: strings.Join(spaced, " ")},
			want: "my",
		},
		{
			name: "proxmox",
			pid:  11,
			meta: procinfo.Meta{Exe: "/usr/bin/qemu-system-x86_64", Comm: "kvm", Cmdline: proxmoxLine},
			want: "web01",
		},
		{
			name: "control characters are made safe",
			pid:  12,
			meta: procinfo.Meta{Cmdline: "qemu-system-x86_64 -name guest=\ufffd[31mred"},
			want: "\ufffd[31mred\ufffd[0m",
		},
		{
			name: "not qemu",
			pid:  10,
			meta: procinfo.Meta{Exe: "/usr/bin/bash", Cmdline: "bash -c sleep"},
			want: "",
		},
		{
			name: "re-read process is another program: keep the joined line",
			pid:  11,
			meta: procinfo.Meta{Exe: "/usr/bin/qemu-system-x86_64", Cmdline: "qemu-system-x86_64 -name other"},
			want: "other",
		},
	}
	hook := MetaHook(WithProcFS(procfs))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.meta
			hook(tt.pid, &m)
			if m.VM != tt.want {
				t.Errorf("Meta.VM = %q, want %q", m.VM, tt.want)
			}
		})
	}
}

func TestMetaHookLongName(t *testing.T) {
	m := procinfo.Meta{Cmdline: "qemu-system-x86_64 -name " + strings.Repeat("é", 10000)}
	MetaHook(WithProcFS(t.TempDir()))(1, &m)
	if len(m.VM) > maxLabel || len(m.VM) < maxLabel-1 || !strings.HasPrefix(m.VM, "éé") {
		t.Errorf("Meta.VM is %d bytes (%.20q…), want at most %d whole characters", len(m.VM), m.VM, maxLabel)
	}
}

func TestParseArgs(t *testing.T) {
	got := ParseArgs([]byte("kvm\x00-name\x00a b\x00\x00"))
	if diff := cmp.Diff([]string{"kvm", "-name", "a b"}, got); diff != "" {
		t.Errorf("ParseArgs mismatch (-want +got):\n%s", diff)
	}
	if got := ParseArgs(nil); got != nil {
		t.Errorf("ParseArgs(nil) = %q, want nil", got)
	}
}
