#!/bin/sh
# setup-otelcol.sh builds the OpenTelemetry Collector that the otlp
# end-to-end tests (test/e2e/otlp_test.go) send to: test/otelcol, a tiny
# main package with its own go.mod that links the collector's OTLP receiver
# and the contrib file exporter, all at one release (collector v0.165.0 /
# v1.71.0, contrib v0.165.0). Modules come from the Go module proxy.
#
# The binary is cached as test/.bin/otelcol (gitignored) with a stamp of
# the sources it was built from; a rerun with the same sources does
# nothing. The first build takes a few minutes (measured: 4.5 min of CPU,
# 13 min of wall time on a loaded 2-core machine; 14 s once the build
# cache is warm).
#
# Usage: sh test/setup-otelcol.sh   (needs go; root is not needed)
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
src="$here/otelcol"
bin="$here/.bin/otelcol"
stamp="$here/.bin/otelcol.stamp"

if ! command -v go >/dev/null 2>&1; then
	echo "setup-otelcol: go not found; install Go to build the test collector" >&2
	exit 1
fi

sum="$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -d' ' -f1) $(go env GOVERSION)"
if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
	echo "setup-otelcol: $bin is up to date"
	exit 0
fi

mkdir -p "$here/.bin"
echo "setup-otelcol: building the test collector (first time: a few minutes)"
start=$(date +%s)
# GOFLAGS from the caller (say -mod=vendor) would not fit this module.
(cd "$src" && GOFLAGS=-mod=readonly go build -trimpath -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
printf '%s\n' "$sum" >"$stamp"
echo "setup-otelcol: built $bin in $(($(date +%s) - start)) s"
