#!/bin/sh
# setup-prometheus.sh installs what the Prometheus end-to-end tests
# (test/e2e/prometheus_test.go, test/e2e/push_test.go) run against: Debian's
# prometheus (prometheus, promtool) and prometheus-pushgateway packages.
# It does nothing when the binaries are already there. The packages'
# maintainer scripts may try to start their services; a policy-rc.d that
# denies it is put in place for the install, and systemd is never needed:
# the tests start their own servers on 127.0.0.1 with temporary storage.
#
# Usage (as root, on Debian or Ubuntu): sh test/setup-prometheus.sh
set -eu

have() { command -v "$1" >/dev/null 2>&1; }

gateway() {
	have prometheus-pushgateway || have pushgateway
}

if have prometheus && have promtool && gateway; then
	echo "setup-prometheus: prometheus, promtool and the pushgateway are installed"
	exit 0
fi

if ! have apt-get; then
	echo "setup-prometheus: apt-get not found; install prometheus and prometheus-pushgateway by hand" >&2
	exit 1
fi

SUDO=
if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
fi

# Keep the packages' services from starting during the install.
policy=/usr/sbin/policy-rc.d
added_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	added_policy=1
fi
cleanup() {
	if [ -n "$added_policy" ]; then
		$SUDO rm -f "$policy"
	fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus prometheus-pushgateway

for b in prometheus promtool; do
	have "$b" || { echo "setup-prometheus: $b still missing after the install" >&2; exit 1; }
done
gateway || { echo "setup-prometheus: the pushgateway is still missing after the install" >&2; exit 1; }
echo "setup-prometheus: done"
