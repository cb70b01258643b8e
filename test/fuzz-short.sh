#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short while (FUZZTIME,
# default 5s each), one after another: `make fuzz-short`, which `make test`
# runs. A failing input is written under the package's testdata/fuzz/ by
# go test, where it becomes a regression case of the plain test run.
#
# A run that fails with only "context deadline exceeded" and writes no
# failing input is the Go fuzzer's own time-out at the end of -fuzztime on
# a loaded machine (not a finding): it is run once more, and a second such
# time-out is reported as a warning.
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
		for try in 1 2; do
			dir="$($go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target"
			before=$( (ls "$dir" 2>/dev/null || true) | wc -l)
			if out=$($go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
				echo "$out" | tail -n 2
				break
			fi
			echo "$out"
			after=$( (ls "$dir" 2>/dev/null || true) | wc -l)
			if [ "$after" = "$before" ] && echo "$out" | grep -q 'context deadline exceeded'; then
				if [ "$try" = 1 ]; then
					echo "fuzz $target: the fuzzer timed out at the end of its time without a finding; once more"
					continue
				fi
				echo "warning: fuzz $target timed out twice without a finding (a loaded machine)"
				break
			fi
			status=1
			break
		done
	done
done
exit $status
