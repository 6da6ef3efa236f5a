#!/usr/bin/env bash
# Runs a command with a private dev Kafka broker (tools/kafka-dev-broker)
# that lives exactly as long as the command:
#
#   tools/with-broker.sh [-n BROKERS] COMMAND [ARGS...]
#
# The command sees KAFKA_BROKERS and TEST_NGINX_KAFKA_BROKERS (the bootstrap
# list) and TEST_NGINX_KAFKA_CONTROL (the broker's control address).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
broker_bin=${KAFKA_DEV_BROKER:-$top/build/kafka-dev-broker}
nbrokers=3

if [ "${1:-}" = "-n" ]; then
    nbrokers=$2
    shift 2
fi

work=$(mktemp -d /tmp/kafka-dev-broker.XXXXXX)
info=$work/broker.info

"$broker_bin" -n "$nbrokers" -f "$info" -c 0 -q > "$work/broker.out" 2>&1 &
broker_pid=$!

cleanup() {
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 100); do
    if grep -q '^ready' "$info" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$broker_pid" 2>/dev/null; then
        cat "$work/broker.out" >&2
        echo "with-broker: the dev broker did not start" >&2
        exit 1
    fi
    sleep 0.1
done

KAFKA_BROKERS=$(sed -n 's/^bootstrap=//p' "$info")
TEST_NGINX_KAFKA_CONTROL=$(sed -n 's/^control=//p' "$info")

if [ -z "$KAFKA_BROKERS" ]; then
    echo "with-broker: no bootstrap list from the dev broker" >&2
    exit 1
fi

export KAFKA_BROKERS TEST_NGINX_KAFKA_CONTROL
export TEST_NGINX_KAFKA_BROKERS=$KAFKA_BROKERS

set +e
"$@"
rc=$?
set -e
exit $rc
