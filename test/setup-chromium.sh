#!/bin/sh
# setup-chromium.sh installs what the live page's end-to-end test
# (test/e2e/web_test.go) drives: Debian's chromium package, run headless by
# the test through the DevTools protocol (github.com/chromedp/chromedp).
# It does nothing when a chromium binary is already there. The browser
# never reaches the network: the test starts it with
# --disable-background-networking and points it at 127.0.0.1 only.
#
# Usage (as root, on Debian or Ubuntu): sh test/setup-chromium.sh
set -eu

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium || have chromium-browser; then
	echo "setup-chromium: chromium is installed"
	exit 0
fi

if ! have apt-get; then
	echo "setup-chromium: apt-get not found; install chromium by hand" >&2
	exit 1
fi

SUDO=
if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Recommends would pull in a desktop's worth of packages; the fonts are
# needed for a readable screenshot.
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core

if ! have chromium && ! have chromium-browser; then
	echo "setup-chromium: chromium still missing after the install" >&2
	exit 1
fi
echo "setup-chromium: done: $(chromium --version 2>/dev/null || chromium-browser --version)"
