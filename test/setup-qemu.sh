#!/usr/bin/env bash
# setup-qemu.sh installs what test/e2e's real-guest test (TestQemuGuest)
# needs and is not on a new machine: Debian's qemu-system-x86 (TCG
# software emulation is enough: no /dev/kvm needed) and a Debian kernel
# image to boot the guest with.
#
# The kernel: a readable /boot/vmlinuz-* of the host is used as it is.
# Otherwise the package linux-image-amd64 is installed with
# --no-install-recommends and its /boot/vmlinuz-* and /lib/modules/<ver>
# (the 9p modules the guest needs) are used.
#
# Idempotent: it installs only what is missing. Run as root (CI is).
# Exit status 0 when qemu-system-x86_64 and a kernel are ready.
set -euo pipefail

need_qemu=0
command -v qemu-system-x86_64 >/dev/null 2>&1 || need_qemu=1

have_kernel() {
	local k
	for k in /boot/vmlinuz-*; do
		[ -r "$k" ] || continue
		local ver=${k#/boot/vmlinuz-}
		# The guest needs 9p: built in, or modules next to the kernel.
		if [ -d "/lib/modules/$ver" ] || grep -qs '^CONFIG_9P_FS=y' "/boot/config-$ver"; then
			return 0
		fi
	done
	return 1
}
need_kernel=0
have_kernel || need_kernel=1

if [ "$need_qemu" = 0 ] && [ "$need_kernel" = 0 ]; then
	echo "setup-qemu: qemu-system-x86_64 and a kernel are already here"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "setup-qemu: must run as root to install packages" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
pkgs=()
[ "$need_qemu" = 1 ] && pkgs+=(qemu-system-x86)
[ "$need_kernel" = 1 ] && pkgs+=(linux-image-amd64)
echo "setup-qemu: installing ${pkgs[*]}"
# The kernel package's hooks try to build an initramfs and update a boot
# loader; neither is needed (the test builds its own initramfs), so a
# failing hook must not fail the install: the files are unpacked before.
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" || {
	echo "setup-qemu: apt-get install reported an error; checking what was unpacked" >&2
	dpkg --configure -a || true
}

command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "setup-qemu: qemu-system-x86_64 still missing" >&2; exit 1; }
have_kernel || { echo "setup-qemu: no usable /boot/vmlinuz-* after install" >&2; exit 1; }
echo "setup-qemu: ready: $(qemu-system-x86_64 --version | head -1); kernel $(ls /boot/vmlinuz-* | head -1)"
