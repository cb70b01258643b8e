#!/usr/bin/env bash
# setup-containers.sh makes ready what test/e2e's real-container tests
# (realcontainers_test.go, incontainer_test.go) run against, offline:
#
#   - Debian's docker.io, podman and busybox-static packages;
#   - a Docker daemon: dockerd --iptables=false --bridge=none (no network
#     set-up at all: the tests run every container with --network none),
#     on the default socket /var/run/docker.sock, its log in
#     /var/log/wattlens-e2e-dockerd.log;
#   - podman's Docker-compatible API (podman system service) on its
#     default socket /run/podman/podman.sock, which wattlens names podman's
#     containers through;
#   - the image wattlens-e2e-busybox:latest, in Docker and in podman,
#     imported from a tarball of /bin/busybox (busybox-static) and its
#     applets' links: no registry is reached.
#
# Idempotent: each step is skipped when already done (a running daemon, an
# answering socket, an image that is there). Run as root (CI is).
set -euo pipefail

image=wattlens-e2e-busybox:latest
docker_log=/var/log/wattlens-e2e-dockerd.log
podman_log=/var/log/wattlens-e2e-podman-service.log
podman_sock=/run/podman/podman.sock
started=$(date +%s.%N)

added_policy=
tmp=
cleanup() {
	if [ -n "$added_policy" ]; then rm -f "$added_policy"; fi
	if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT

say() { echo "setup-containers: $*"; }
die() { echo "setup-containers: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# Debian's docker client is /usr/bin/docker; another one earlier in PATH
# would do as well (the API is negotiated), but use the package's.
docker=/usr/bin/docker

static_busybox() {
	[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1
}

# --- packages ---------------------------------------------------------------
pkgs=()
{ [ -x "$docker" ] && have dockerd; } || pkgs+=(docker.io)
have podman || pkgs+=(podman)
static_busybox || pkgs+=(busybox-static)
have curl || pkgs+=(curl)
if [ "${#pkgs[@]}" -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "must run as root to install ${pkgs[*]}"
	have apt-get || die "apt-get not found; install ${pkgs[*]} by hand"
	# The packages' maintainer scripts would start their services; the
	# tests start their own daemon, so keep them from it.
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		added_policy=$policy
	fi
	export DEBIAN_FRONTEND=noninteractive
	say "installing ${pkgs[*]}"
	# The package lists may be there already: update only when the
	# install cannot find what it needs.
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; }
fi
[ -x "$docker" ] && have dockerd || die "docker.io did not install dockerd and /usr/bin/docker"
have podman || die "podman is still missing"
static_busybox || die "/bin/busybox is missing or not static"

# --- dockerd ----------------------------------------------------------------
if "$docker" info >/dev/null 2>&1; then
	say "dockerd answers already"
else
	[ "$(id -u)" = 0 ] || die "must run as root to start dockerd"
	say "starting dockerd --iptables=false --bridge=none (log: $docker_log)"
	setsid nohup dockerd --iptables=false --bridge=none >>"$docker_log" 2>&1 </dev/null &
	for _ in $(seq 120); do
		"$docker" info >/dev/null 2>&1 && break
		sleep 0.25
	done
	"$docker" info >/dev/null 2>&1 || { tail -20 "$docker_log" >&2; die "dockerd did not answer within 30 s"; }
fi

# --- podman's API service ----------------------------------------------------
podman_ping() {
	# /_ping answers "OK" when the service is up.
	[ -S "$podman_sock" ] && [ "$(curl -s --max-time 2 --unix-socket "$podman_sock" http://d/_ping 2>/dev/null)" = OK ]
}
if podman_ping; then
	say "podman's API answers already on $podman_sock"
else
	say "starting podman system service on $podman_sock (log: $podman_log)"
	mkdir -p "$(dirname "$podman_sock")"
	rm -f "$podman_sock"
	setsid nohup podman system service --time=0 "unix://$podman_sock" >>"$podman_log" 2>&1 </dev/null &
	for _ in $(seq 80); do
		podman_ping && break
		sleep 0.25
	done
	podman_ping || { tail -20 "$podman_log" >&2; die "podman's API did not answer within 20 s"; }
fi

# --- the busybox image ---------------------------------------------------------
need_docker=0
need_podman=0
"$docker" image inspect "$image" >/dev/null 2>&1 || need_docker=1
podman image exists "localhost/$image" || need_podman=1
if [ "$need_docker" = 1 ] || [ "$need_podman" = 1 ]; then
	tmp=$(mktemp -d)
	mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/proc" "$tmp/rootfs/sys" "$tmp/rootfs/dev" "$tmp/rootfs/etc" "$tmp/rootfs/tmp"
	cp /bin/busybox "$tmp/rootfs/bin/busybox"
	for applet in sh yes sleep cat ls ps true false echo; do
		ln -s busybox "$tmp/rootfs/bin/$applet"
	done
	tar -C "$tmp/rootfs" --owner=0 --group=0 -cf "$tmp/busybox.tar" .
	if [ "$need_docker" = 1 ]; then
		say "docker import $image"
		"$docker" import --change 'CMD ["/bin/sh"]' "$tmp/busybox.tar" "$image" >/dev/null
	fi
	if [ "$need_podman" = 1 ]; then
		say "podman import localhost/$image"
		podman import --quiet --change 'CMD ["/bin/sh"]' "$tmp/busybox.tar" "localhost/$image" >/dev/null
	fi
else
	say "the image $image is in Docker and podman already"
fi

say "ready in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"
