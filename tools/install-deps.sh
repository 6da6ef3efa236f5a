#!/bin/sh
# Installs what building, running and testing the module needs on Debian 12
# (or a similar Debian/Ubuntu).  Does nothing when everything is there.
set -eu

pkgs="nginx nginx-dev librdkafka-dev libjansson-dev libjwt-dev
      libpcre2-dev libyaml-dev
      build-essential pkg-config libpcre3-dev zlib1g-dev libssl-dev
      curl openssl valgrind perl
      libtest-base-perl libtext-diff-perl libwww-perl libipc-run-perl
      liblist-moreutils-perl libtest-longstring-perl libipc-run3-perl"

# kcat: what "make run" suggests for reading a topic (tools/run-demo.sh)
# and what KafkaGateway::Blocks' kafka_produce_before produces with; the
# tests read Kafka back with build/kafka-dev-dump
pkgs="$pkgs kcat"

# kafka_status is checked with Prometheus' own tools (t/status.t runs
# promtool, t/status-prometheus.t a server); policy-rc.d below keeps the
# package's service from starting
pkgs="$pkgs prometheus"

# the browser test (t/browser.t): Debian's chromium, and node/npm for
# playwright-core unless a node is already installed
pkgs="$pkgs chromium"
if ! command -v node > /dev/null 2>&1 || ! command -v npm > /dev/null 2>&1
then
    pkgs="$pkgs nodejs npm"
fi

# "tools/install-deps.sh deb" ("make deb"): also Debian's packaging tools
if [ "${1:-}" = deb ]; then
    pkgs="$pkgs debhelper dpkg-dev"
fi

# "tools/install-deps.sh asan" ("make test-asan"): clang and its sanitizer
# runtimes
if [ "${1:-}" = asan ]; then
    pkgs="$pkgs clang-14 libclang-rt-14-dev"
fi

# "tools/install-deps.sh fuzz" ("make fuzz"): clang with libFuzzer and the
# sanitizer runtimes
if [ "${1:-}" = fuzz ]; then
    pkgs="$pkgs clang-14 libclang-rt-14-dev"
fi

pkgs="$pkgs ${EXTRA_PACKAGES:-}"

missing=
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
         | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's nginx package starts a server on port 80 when it can; the
# module never needs it, so policy-rc.d keeps services from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing > /dev/null
