#!/usr/bin/env bash
# Installs the real components the end-to-end tests run against, from
# Debian's packages, when they are missing. Safe to run again.
set -euo pipefail
here="$(dirname "$0")"
for script in "$here"/setup-*.sh; do
	[ -e "$script" ] || continue
	bash "$script"
done
