#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short while (FUZZTIME,
# default 5s each), one after another: `make fuzz-short`, which `make test`
# runs. A failing input is written under the package's testdata/fuzz/ by
# go test, where it becomes a regression case of the plain test run.
set -euo pipefail
export CGO_CFLAGS=${CGO_CFLAGS:--Wno-deprecated-declarations} # go-nvml deprecation warnings are not ours
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
go=${GO:-go}
status=0
for pkg in $($go list ./...); do
	targets=$($go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for target in $targets; do
		echo "fuzz $pkg $target ($fuzztime)"
		if ! $go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
			status=1
		fi
	done
done
exit $status
