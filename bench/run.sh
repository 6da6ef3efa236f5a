#!/usr/bin/env bash
# "make bench": the gateway measured side by side with references, in one
# run on one machine, and the results as a Markdown table on stdout and in
# bench/results/<date>.md.  See bench/README.md for what each figure means.
#
# Environment: BENCH_RUNS (3) repetitions of every cell, BENCH_SECONDS (5)
# per produce cell, BENCH_SSE_SECONDS (6) per SSE rate, BENCH_SSE_CLIENTS
# ("1000 10000"), BENCH_STATUS_CLIENTS (1000), BENCH_HIGH_CONNS (256),
# BENCH_PARTS ("produce concurrency coldstart recovery contracts sse memory
# status capture discovery"), BENCH_RECOVERY_TRIALS (10), BENCH_OUT
# (bench/results/<date>.md).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# the references come from Debian too; then a dev broker for the whole run
if [ -z "${KAFKA_BROKERS:-}" ]; then
    EXTRA_PACKAGES="wrk libnginx-mod-nchan" tools/install-deps.sh
    exec tools/with-broker.sh "$0" "$@"
fi

BUILD=${BUILD:-$top/build}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
MODULE=${TEST_NGINX_LOAD_MODULES:-$BUILD/ngx_http_kafka_gateway_module.so}
NCHAN=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-5}
SSE_SECS=${BENCH_SSE_SECONDS:-6}
SSE_CLIENTS=${BENCH_SSE_CLIENTS:-1000 10000}
SSE_FLOOR=${BENCH_SSE_FLOOR-1}      # clients of the floor cells: no fan-out
OUT=${BENCH_OUT:-$top/bench/results/$(date -u +%F).md}
PORT=${BENCH_PORT:-18480}
PARTS=" ${BENCH_PARTS:-produce concurrency coldstart recovery contracts sse memory status capture discovery} "
STATUS_CLIENTS=${BENCH_STATUS_CLIENTS:-1000}
CONNS=64
HIGH_CONNS=${BENCH_HIGH_CONNS:-256}
LOAD_CPU=               # capture: "taskset -c 1" for wrk (capture_part)
NOFILE=$(ulimit -Hn)     # nginx may not raise its worker's limit above it
if [ "$NOFILE" = unlimited ] || [ "$NOFILE" -gt 65536 ]; then
    NOFILE=65536
fi

work=$(mktemp -d /tmp/kafka-bench.XXXXXX)
data=$work/data
mkdir -p "$data" "$BUILD/bench"
tick=$(getconf CLK_TCK)

cleanup() {
    local p
    for p in "$work"/*/logs/nginx.pid; do
        [ -f "$p" ] && kill -TERM "$(cat "$p")" 2>/dev/null || true
    done
    sleep 0.5
    rm -rf "$work"
}
trap cleanup EXIT

log() { printf '%s %s\n' "$(date -u +%T)" "$*" >&2; }

for tool in wire publisher sse-client; do
    libs=
    case $tool in wire) libs=-lrdkafka ;; sse-client) libs=-lm ;; esac
    cc -std=gnu99 -O2 -g -Wall -Wextra -Werror -o "$BUILD/bench/$tool" \
       "bench/$tool.c" $libs
done


# --- nginx instances ------------------------------------------------------

# start_nginx NAME: conf/nginx.conf under $work/NAME must exist; sets WPID
start_nginx() {
    local prefix=$work/$1 i
    mkdir -p "$prefix/logs"
    "$NGINX_BIN" -p "$prefix" -e logs/error.log -c conf/nginx.conf
    for i in $(seq 1 50); do
        [ -s "$prefix/logs/nginx.pid" ] && break
        sleep 0.1
    done
    for i in $(seq 1 50); do
        WPID=$(pgrep -P "$(cat "$prefix/logs/nginx.pid")" | head -1 || true)
        [ -n "$WPID" ] && break
        sleep 0.1
    done
    [ -n "$WPID" ] || { echo "bench: nginx $1 has no worker" >&2; exit 1; }
}

stop_nginx() {
    local pid
    pid=$(cat "$work/$1/logs/nginx.pid")
    kill -QUIT "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$work/$1/logs/nginx.pid"
}

# the common head of every configuration; $1: load_module lines
conf_head() {
    cat <<EOF
$1
worker_processes  1;
worker_rlimit_nofile  $NOFILE;
pid  logs/nginx.pid;
error_log  logs/error.log  warn;
events { worker_connections  32768; }
http {
    access_log  off;
    keepalive_requests  100000000;
    client_body_temp_path  body;
EOF
}

write_conf() { mkdir -p "$work/$1/conf"; cat > "$work/$1/conf/nginx.conf"; }

# The dev broker answers an empty Fetch only after fetch.wait.max.ms,
# even when records arrive meanwhile (a real broker answers at once), so
# the consumer's long poll is kept short here; see bench/README.md.
{ conf_head "load_module $MODULE;"; cat <<EOF
    kafka_brokers  $KAFKA_BROKERS;
    kafka_consumer_property  fetch.wait.max.ms  10;
    server {
        listen  127.0.0.1:$PORT backlog=8192;
        location = /ceiling { return 204; }
        location ~ ^/ack/(?<t>[^/]+)$ { kafka_produce \$t; }
        location ~ ^/orders/(?<t>[^/]+)$ {
            kafka_produce \$t;
            client_body_buffer_size  32k;
        }
        location ~ ^/contract/(?<t>[^/]+)$ {
            kafka_produce \$t;
            client_body_buffer_size  32k;
            kafka_produce_schema  $top/bench/order.schema.json;
        }
        location ~ ^/noack/(?<t>[^/]+)$ {
            kafka_produce \$t;
            kafka_produce_ack  off;
        }
        location ~ ^/events/(?<t>[^/]+)$ { kafka_consume_sse \$t; }
    }
}
EOF
} | write_conf gateway

{ conf_head "load_module $NCHAN;"; cat <<EOF
    server {
        listen  127.0.0.1:$((PORT + 1)) backlog=8192;
        location = /pub { nchan_publisher; nchan_channel_id bench; }
        location = /sub { nchan_subscriber; nchan_channel_id bench; }
    }
}
EOF
} | write_conf nchan

{ conf_head ""; cat <<EOF
    server {
        listen  127.0.0.1:$((PORT + 2));
        location = / { return 204; }
    }
}
EOF
} | write_conf plain


# --- measurements ---------------------------------------------------------

# field LINE NAME: the value of NAME=... in a line of key=value pairs
field() { tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p" | head -1; }

# add METRIC VALUE: one more sample
add() { echo "$2" >> "$data/$1"; }

# per_client RSS BASE N: KiB of worker memory per client
per_client() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.2f\n", (a - b) / n }'; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# CPU seconds of a process, all its threads
cpu_s() {
    awk -v t="$tick" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / t }' \
        "/proc/$1/stat"
}

# median, min and max of a metric's samples: "M (min–max)" or "—"
summary() {
    [ -s "$data/$1" ] || { echo "—"; return; }
    sort -g "$data/$1" | awk -v f="${2:-%.1f}" '
        { v[NR] = $1 }
        END {
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf f " (" f "–" f ")\n", m, v[1], v[NR]
        }'
}

sum() { awk '{ s += $1 } END { print s + 0 }' "$data/$1"; }

median() {
    [ -s "$data/$1" ] || { echo ""; return; }
    sort -g "$data/$1" | awk '{ v[NR] = $1 }
        END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: per-run ratios of two metrics of the same run, as a metric
ratio() {
    paste -d ' ' "$data/$1" "$data/$2" \
        | awk '$2 > 0 { printf "%.4f\n", $1 / $2 }' > "$data/$3"
}

# wrk_cell NAME PATH BODY SIZE: one produce cell, samples under NAME_*
wrk_cell() {
    local out
    out=$(BENCH_BODY=$3 BENCH_SIZE=$4 BENCH_RECORDS=100 \
          $LOAD_CPU wrk -t1 -c$CONNS -d"${SECS}s" --timeout 10s \
              -s bench/produce.lua "http://127.0.0.1:$PORT$2" | tail -1)
    log "$1: $out"
    add "$1_rps" "$(field "$out" rps)"
    add "$1_p50" "$(field "$out" p50_ms)"
    add "$1_p99" "$(field "$out" p99_ms)"
    add "$1_bad" "$(( $(field "$out" bad_status) + $(field "$out" socket_errors) ))"
}

wire_cell() {
    local out
    out=$("$BUILD/bench/wire" -b "$KAFKA_BROKERS" -t "bench-wire-$2" \
          -s "$2" -d "$SECS" -w $CONNS)
    log "$1: $out"
    add "$1_rps" "$(field "$out" msgs_per_s)"
    add "$1_p50" "$(field "$out" p50_ms)"
    add "$1_p99" "$(field "$out" p99_ms)"
}


produce_part() {
    log "produce: $RUNS runs of ${SECS}s cells, $CONNS connections, 1 worker"
    start_nginx gateway

    # warm-up: connections, metadata, producer id
    for s in 100 1024; do
        curl -sf -o /dev/null --data x "http://127.0.0.1:$PORT/ack/bench-$s"
        curl -sf -o /dev/null --data x "http://127.0.0.1:$PORT/noack/bench-noack-$s"
    done
    curl -sf -o /dev/null --data x "http://127.0.0.1:$PORT/ack/bench-env"

    for run in $(seq 1 "$RUNS"); do
        for s in 100 1024; do
            wrk_cell "ceil_$s" /ceiling raw "$s"
            wrk_cell "ack_$s" "/ack/bench-$s" raw "$s"
            wire_cell "wire_$s" "$s"
            wrk_cell "noack_$s" "/noack/bench-noack-$s" raw "$s"
            sleep 2     # what ack off accepted is still being delivered
        done
        wrk_cell env "/ack/bench-env" envelope 100
    done

    grep -E '\[(alert|emerg|crit)\]' "$work/gateway/logs/error.log" >&2 || true
    stop_nginx gateway

    for s in 100 1024; do
        ratio "ack_${s}_rps" "ceil_${s}_rps" "r_ack_${s}"
        paste -d ' ' "$data/ack_${s}_p99" "$data/ceil_${s}_p99" \
            | awk '{ printf "%.3f\n", $1 - $2 }' > "$data/d_p99_${s}"
        ratio "ack_${s}_rps" "wire_${s}_rps" "r_wire_${s}"
        ratio "noack_${s}_rps" "ceil_${s}_rps" "r_noack_${s}"
    done
    awk '{ printf "%.0f\n", $1 * 100 }' "$data/env_rps" > "$data/env_recs"
    ratio ack_1024_p99 ceil_1024_p99 rp_ack_1024
    ratio noack_1024_p99 ceil_1024_p99 rp_noack_1024
}


# concurrency: 1 KiB at $HIGH_CONNS connections, the gateway of the produce
# part with 1 and with 2 workers; ratios to the same nginx's ceiling in the
# same run
concurrency_part() {
    local w i conns=$CONNS
    CONNS=$HIGH_CONNS
    log "concurrency: $RUNS runs of ${SECS}s cells, $CONNS connections"
    for w in 1 2; do
        sed "s/^worker_processes  1;/worker_processes  $w;/" \
            "$work/gateway/conf/nginx.conf" | write_conf "gateway-w$w"
        start_nginx "gateway-w$w"

        # warm-up: each worker's connections, metadata, producer ids
        for i in $(seq 1 20); do
            curl -sf -o /dev/null --data x "http://127.0.0.1:$PORT/ack/bench-hc"
            curl -sf -o /dev/null --data x "http://127.0.0.1:$PORT/noack/bench-hc-noack"
        done

        for run in $(seq 1 "$RUNS"); do
            wrk_cell "hc${w}_ceil" /ceiling raw 1024
            wrk_cell "hc${w}_ack" /ack/bench-hc raw 1024
            wrk_cell "hc${w}_noack" /noack/bench-hc-noack raw 1024
            sleep 2     # what ack off accepted is still being delivered
        done

        grep -E '\[(alert|emerg|crit)\]' "$work/gateway-w$w/logs/error.log" >&2 || true
        stop_nginx "gateway-w$w"

        for c in ack noack; do
            ratio "hc${w}_${c}_rps" "hc${w}_ceil_rps" "r_hc${w}_${c}"
            ratio "hc${w}_${c}_p99" "hc${w}_ceil_p99" "rp_hc${w}_${c}"
        done
    done
    CONNS=$conns
}


# contracts: the same 100-order envelopes (14 KB: both locations keep
# them in memory) with and without a schema
contracts_part() {
    log "contracts: $RUNS runs of ${SECS}s cells, $CONNS connections, 1 worker"
    start_nginx gateway

    curl -sf -o /dev/null --data x "http://127.0.0.1:$PORT/orders/bench-orders"
    curl -sf -o /dev/null -H 'Content-Type: application/vnd.kafka.json.v2+json' \
        --data '{"records":[{"value":{"id":"ord-000001","customer":"c","amount":1,"currency":"EUR","quantity":1,"shipping":{"country":"FR"}}}]}' \
        "http://127.0.0.1:$PORT/contract/bench-orders-schema"

    for run in $(seq 1 "$RUNS"); do
        wrk_cell orders "/orders/bench-orders" orders 0
        wrk_cell orders_schema "/contract/bench-orders-schema" orders 0
    done

    grep -E '\[(alert|emerg|crit)\]' "$work/gateway/logs/error.log" >&2 || true
    stop_nginx gateway

    ratio orders_schema_rps orders_rps r_contract
    awk '{ printf "%.0f\n", $1 * 100 }' "$data/orders_rps" > "$data/orders_recs"
    awk '{ printf "%.0f\n", $1 * 100 }' "$data/orders_schema_rps" \
        > "$data/orders_schema_recs"
}


# SSE: for each server and client count, a fresh nginx; N clients connect
# and idle, then records are published at 10/s and at 100/s
ctl() {
    local host=${TEST_NGINX_KAFKA_CONTROL%:*} port=${TEST_NGINX_KAFKA_CONTROL#*:}
    exec 9<>"/dev/tcp/$host/$port"
    echo "$1" >&9
    read -r -t 5 reply <&9 || true
    exec 9>&-
}

sse_session() {  # SERVER N RUN
    local server=$1 n=$2 run=$3 sub pub port base idle line rate out \
          c0 c1 events key topic
    if [ "$server" = gateway ]; then
        port=$PORT
        topic=bench-sse-$n-$run
        ctl "topic $topic 4"
        sub=/events/$topic
        pub=/ack/$topic
    else
        port=$((PORT + 1))
        sub=/sub
        pub=/pub
    fi

    start_nginx "$server"
    curl -sf -o /dev/null --data '{"t":0}' "http://127.0.0.1:$port$pub"
    sleep 1
    base=$(rss_kib "$WPID")

    coproc SSE { exec "$BUILD/bench/sse-client" -p "$port" -u "$sub" -n "$n"; }
    read -r -t 120 line <&"${SSE[0]}"
    log "$server $n clients: $line"
    sleep 2
    idle=$(rss_kib "$WPID")
    key=${server}_${n}
    add "${key}_idle_kib" "$(per_client "$idle" "$base" "$n")"
    add "${key}_rss_idle" "$idle"
    add "${key}_rss_base" "$base"

    for rate in 10 100; do
        echo reset >&"${SSE[1]}"
        c0=$(cpu_s "$WPID")
        out=$("$BUILD/bench/publisher" -p "$port" -u "$pub" -r "$rate" \
              -d "$SSE_SECS" -s 100) || true
        sleep 1
        c1=$(cpu_s "$WPID")
        echo report >&"${SSE[1]}"
        read -r -t 30 line <&"${SSE[0]}"
        log "$server $n x $rate/s: $out | $line"

        events=$(field "$line" events)
        add "${key}_${rate}_eps" "$(awk -v e="$events" -v s="$(field "$out" secs)" \
            'BEGIN { printf "%.0f\n", e / s }')"
        add "${key}_${rate}_deliv" "$(awk -v e="$events" -v o="$(field "$out" ok)" \
            -v n="$n" 'BEGIN { printf "%.4f\n", (o > 0) ? e / (o * n) : 0 }')"
        add "${key}_${rate}_pub" "$(field "$out" rate)"
        add "${key}_${rate}_cut" "$(( $(field "$line" closed) + $(field "$line" errors) ))"
        add "${key}_${rate}_p50" "$(field "$line" p50_ms)"
        add "${key}_${rate}_p99" "$(field "$line" p99_ms)"
        add "${key}_${rate}_cpu_me" "$(awk -v a="$c0" -v b="$c1" -v e="$events" \
            'BEGIN { printf "%.3f\n", (e > 0) ? (b - a) / e * 1e6 : 0 }')"
        add "${key}_${rate}_client_cpu" "$(field "$line" cpu_s)"
        add "${key}_${rate}_active_kib" \
            "$(per_client "$(rss_kib "$WPID")" "$base" "$n")"
    done

    echo quit >&"${SSE[1]}"
    wait "$SSE_PID" 2>/dev/null || true
    grep -E '\[(alert|emerg|crit)\]' "$work/$server/logs/error.log" >&2 || true
    stop_nginx "$server"
}

sse_part() {
    for n in $SSE_FLOOR $SSE_CLIENTS; do
        for run in $(seq 1 "$RUNS"); do
            sse_session gateway "$n" "$run"
            sse_session nchan "$n" "$run"
        done
        for rate in 10 100; do
            ratio "gateway_${n}_${rate}_p99" "nchan_${n}_${rate}_p99" "r_p99_${n}_${rate}"
            ratio "gateway_${n}_${rate}_cpu_me" "nchan_${n}_${rate}_cpu_me" \
                  "r_cpu_${n}_${rate}"
        done
        ratio "gateway_${n}_idle_kib" "nchan_${n}_idle_kib" "r_mem_${n}"
    done
}


# idle worker memory, with and without the module
{ conf_head "load_module $MODULE;"; cat <<EOF
    kafka_brokers  $KAFKA_BROKERS;
    server {
        listen  127.0.0.1:$((PORT + 3));
        location = / { return 204; }
        location /p { kafka_produce idle; }
        location /s { kafka_consume_sse idle; }
    }
}
EOF
} | write_conf module-idle

# the same with a fire-and-forget location too: the batching producer
sed 's|^        location /s |        location /f { kafka_produce idle; kafka_produce_ack off; }\n&|' \
    "$work/module-idle/conf/nginx.conf" | write_conf module-two

memory_part() {
    for run in $(seq 1 "$RUNS"); do
        for server in plain module-idle module-two; do
            start_nginx "$server"
            sleep 2
            add "idle_$server" "$(rss_kib "$WPID")"
            add "threads_$server" "$(ls "/proc/$WPID/task" | wc -l)"
            stop_nginx "$server"
        done
    done
}

# kafka_status's cost: the gateway as above, and with kafka_status scraped
# every second, side by side in every run: produce (ack on, 1 KiB) and SSE
# ($STATUS_CLIENTS clients, 100 records/s)
{ conf_head "load_module $MODULE;"; cat <<EOF
    kafka_brokers  $KAFKA_BROKERS;
    kafka_consumer_property  fetch.wait.max.ms  10;
    server {
        listen  127.0.0.1:$PORT backlog=8192;
        location ~ ^/ack/(?<t>[^/]+)$ { kafka_produce \$t; }
        location ~ ^/events/(?<t>[^/]+)$ { kafka_consume_sse \$t; }
        location = /metrics { kafka_status; }
    }
}
EOF
} | write_conf gateway-status

status_session() {  # CONF TAG RUN
    local conf=$1 tag=$2 run=$3 topic=bench-st-$2-$3 scraper= line out \
          c0 c1 events
    ctl "topic $topic 4"
    start_nginx "$conf"
    curl -sf -o /dev/null --data x "http://127.0.0.1:$PORT/ack/bench-st"
    curl -sf -o /dev/null --data '{"t":0}' "http://127.0.0.1:$PORT/ack/$topic"

    if [ "$tag" = on ]; then
        while :; do
            curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics" || true
            sleep 1
        done &
        scraper=$!
    fi

    wrk_cell "st_${tag}_prod" /ack/bench-st raw 1024

    coproc SSE { exec "$BUILD/bench/sse-client" -p "$PORT" \
                      -u "/events/$topic" -n "$STATUS_CLIENTS"; }
    read -r -t 120 line <&"${SSE[0]}"
    sleep 2
    echo reset >&"${SSE[1]}"
    c0=$(cpu_s "$WPID")
    out=$("$BUILD/bench/publisher" -p "$PORT" -u "/ack/$topic" -r 100 \
          -d "$SSE_SECS" -s 100) || true
    sleep 1
    c1=$(cpu_s "$WPID")
    echo report >&"${SSE[1]}"
    read -r -t 30 line <&"${SSE[0]}"
    log "status $tag: $out | $line"
    events=$(field "$line" events)
    add "st_${tag}_sse_eps" "$(awk -v e="$events" -v s="$(field "$out" secs)" \
        'BEGIN { printf "%.0f\n", e / s }')"
    add "st_${tag}_sse_p99" "$(field "$line" p99_ms)"
    add "st_${tag}_sse_cpu_me" "$(awk -v a="$c0" -v b="$c1" -v e="$events" \
        'BEGIN { printf "%.3f\n", (e > 0) ? (b - a) / e * 1e6 : 0 }')"
    echo quit >&"${SSE[1]}"
    wait "$SSE_PID" 2>/dev/null || true

    if [ -n "$scraper" ]; then
        kill "$scraper"
        wait "$scraper" 2>/dev/null || true
    fi
    grep -E '\[(alert|emerg|crit)\]' "$work/$conf/logs/error.log" >&2 || true
    stop_nginx "$conf"
}

status_part() {
    for run in $(seq 1 "$RUNS"); do
        status_session gateway off "$run"
        status_session gateway-status on "$run"
    done
    ratio st_on_prod_rps st_off_prod_rps r_st_prod_rps
    ratio st_on_sse_eps st_off_sse_eps r_st_sse_eps
    ratio st_on_sse_cpu_me st_off_sse_cpu_me r_st_sse_cpu
}

# capture: proxy_pass to a local upstream answering 1 KiB, a 1 KiB POST
# body, with kafka_log (both bodies) and without, alternating.  Two
# gateways: capture alone (only the batching producer runs), and capture
# next to a kafka_produce location with acks (its own producer runs too).
capture_conf() {  # NAME EXTRA_LOCATION
    { conf_head "load_module $MODULE;"; cat <<EOF
    kafka_brokers  $KAFKA_BROKERS;
    server {
        listen  127.0.0.1:$PORT backlog=8192;
        location = /cap/with {
            kafka_log  bench-capture;
            kafka_log_body  both;
            proxy_pass  http://capture_upstream/;
            proxy_http_version  1.1;
            proxy_set_header  Connection "";
        }
        location = /cap/without {
            proxy_pass  http://capture_upstream/;
            proxy_http_version  1.1;
            proxy_set_header  Connection "";
        }
        $2
    }

    # the application kafka_log captures: 1 KiB answers
    upstream capture_upstream {
        server  127.0.0.1:$((PORT + 3));
        keepalive  64;
    }
    server {
        listen  127.0.0.1:$((PORT + 3)) backlog=8192;
        location / { return 200 "$(printf 'x%.0s' $(seq 1 1024))"; }
    }
}
EOF
    } | write_conf "$1"
}

capture_conf gateway-capture ""
capture_conf gateway-capture-ack \
    'location ~ ^/ack/(?<t>[^/]+)$ { kafka_produce $t; }'

# CPUs (see bench/README.md): "gateway", the gateway (worker, librdkafka's
# threads, the upstream) alone on CPU 0, wrk and the dev broker on CPU 1;
# "broker", the dev broker alone on CPU 1, the gateway and wrk on CPU 0;
# "off", wherever the scheduler puts them.
CAPTURE_PIN=${BENCH_CAPTURE_PIN:-gateway}
[ "$(nproc)" -ge 2 ] || CAPTURE_PIN=off

# the paced cells: each connection waits this long before each request
CAPTURE_DELAY_MS=${BENCH_CAPTURE_DELAY_MS:-20}

# pin PID CPUS: every thread of a process
pin() { taskset -a -p -c "$2" "$1" > /dev/null; }

# the dev broker that tools/with-broker.sh started, if it did
broker_pid() { pgrep -P "$PPID" -f kafka-dev-broker | head -1 || true; }

capture_cell() {  # NAME PATH: a wrk cell and the worker's CPU per request
    local c0 c1
    c0=$(cpu_s "$WPID")
    wrk_cell "$1" "$2" raw 1024
    c1=$(cpu_s "$WPID")
    add "$1_cpu_us" "$(awk -v a="$c0" -v b="$c1" -v s="$SECS" \
        -v r="$(tail -1 "$data/$1_rps")" \
        'BEGIN { printf "%.1f\n", (r > 0) ? (b - a) / (r * s) * 1e6 : 0 }')"
}

capture_session() {  # CONF TAG
    local conf=$1 tag=$2 run
    start_nginx "$conf"
    curl -sf -o /dev/null --data x "http://127.0.0.1:$PORT/cap/with"
    curl -sf -o /dev/null --data x "http://127.0.0.1:$PORT/cap/without"
    sleep 1
    if [ "$CAPTURE_PIN" != off ]; then
        pin "$(cat "$work/$conf/logs/nginx.pid")" 0
        pin "$WPID" 0
    fi

    for run in $(seq 1 "$RUNS"); do
        capture_cell "${tag}_without" /cap/without
        capture_cell "${tag}_with" /cap/with
        sleep 2     # what kafka_log queued is still being delivered
        BENCH_DELAY_MS=$CAPTURE_DELAY_MS \
            capture_cell "${tag}_paced_without" /cap/without
        BENCH_DELAY_MS=$CAPTURE_DELAY_MS \
            capture_cell "${tag}_paced_with" /cap/with
    done

    grep -E '\[(alert|emerg|crit|warn)\]' "$work/$conf/logs/error.log" \
        >&2 || true
    stop_nginx "$conf"

    ratio "${tag}_with_rps" "${tag}_without_rps" "r_$tag"
    ratio "${tag}_with_cpu_us" "${tag}_without_cpu_us" "r_cpu_$tag"
    paste -d ' ' "$data/${tag}_with_p99" "$data/${tag}_without_p99" \
        | awk '{ printf "%.3f\n", $1 - $2 }' > "$data/d_p99_$tag"
    paste -d ' ' "$data/${tag}_paced_with_p99" \
        "$data/${tag}_paced_without_p99" \
        | awk '{ printf "%.3f\n", $1 - $2 }' > "$data/d_p99_paced_$tag"
}

capture_part() {
    local broker
    log "capture: $RUNS runs of ${SECS}s cells, $CONNS connections, 1 worker"
    CAP_LOAD0=$(cut -d ' ' -f 1-3 /proc/loadavg)
    broker=$(broker_pid)
    case $CAPTURE_PIN in
        gateway) LOAD_CPU="taskset -c 1" ;;
        broker) LOAD_CPU="taskset -c 0" ;;
    esac
    if [ "$CAPTURE_PIN" != off ] && [ -n "$broker" ]; then
        pin "$broker" 1
    fi

    capture_session gateway-capture cap
    capture_session gateway-capture-ack capack

    LOAD_CPU=
    if [ "$CAPTURE_PIN" != off ] && [ -n "$broker" ]; then
        pin "$broker" "0-$(( $(nproc) - 1 ))"
    fi
    CAP_LOAD1=$(cut -d ' ' -f 1-3 /proc/loadavg)
    CAP_BROKER=${broker:+pinned}
}

# discovery: the catalog (AsyncAPI) and the REST Proxy topic list, each
# against nginx serving the same bytes from a file; the catalog also per
# caller (kafka_jwt, HS256, grants for part of the topics)
DISC_TOPICS=8           # fixed topics, each a produce and a stream location
DISC_TEMPLATED=4        # topics of the templated location, from metadata

disc_conf() {
    local i fixed=
    for i in $(seq 1 "$DISC_TOPICS"); do
        fixed="$fixed
        location = /orders-$i {
            kafka_produce  bench-disc-$i;
            kafka_produce_schema  $top/bench/order.schema.json;
        }
        location = /orders-$i/events {
            kafka_consume_sse  bench-disc-$i;
            kafka_consume_format  json;
        }"
    done
    { conf_head "load_module $MODULE;"; cat <<EOF
    kafka_brokers  $KAFKA_BROKERS;
    server {
        listen  127.0.0.1:$PORT backlog=8192;
        kafka_catalog_title  "Bench events";
        kafka_catalog_description  "The discovery benchmark's products.";
        kafka_jwt_key_type  hmac;
        kafka_jwt_key_file  $work/disc.key;

        location = /catalog { kafka_catalog; }
        location = /catalog-jwt {
            kafka_jwt  bench;
            kafka_acl_claim  scope;
            kafka_catalog;
        }
        location = /topics { kafka_metadata  topics; }
        location = /file/catalog.json {
            alias  $work/disc-catalog.json;
            default_type  application/json;
        }
        location = /file/catalog-jwt.json {
            alias  $work/disc-catalog-jwt.json;
            default_type  application/json;
        }
        location = /file/topics.json {
            alias  $work/disc-topics.json;
            default_type  application/json;
        }
        location ~ ^/t/(?<t>bench-disc-x[0-9]+)\$ {
            kafka_produce  \$t;
            kafka_catalog_path  "/t/{topic}";
        }
        $fixed
    }
}
EOF
    } | write_conf gateway-discovery
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# an HS256 token signed with $work/disc.key, valid for an hour
disc_token() {
    local h p key
    key=$(od -An -v -tx1 "$work/disc.key" | tr -d ' \n')
    h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
    p=$(printf '{"sub":"bench","exp":%d,"scope":"%s"}' \
        $(( $(date +%s) + 3600 )) \
        "kafka:produce:bench-disc-1 kafka:consume:bench-disc-2 kafka:produce:bench-disc-x*" \
        | b64url)
    printf '%s.%s.%s\n' "$h" "$p" "$(printf '%s.%s' "$h" "$p" \
        | openssl dgst -sha256 -binary -mac HMAC -macopt "hexkey:$key" \
        | b64url)"
}

disc_get() {  # NAME PATH [TOKEN]: a GET cell
    BENCH_AUTH=${3:-} wrk_cell "$1" "$2" get 0
}

discovery_part() {
    local i run token
    log "discovery: $RUNS runs of ${SECS}s cells, $CONNS connections, 1 worker"
    openssl rand -out "$work/disc.key" 64
    token=$(disc_token)
    for i in $(seq 1 "$DISC_TOPICS"); do ctl "topic bench-disc-$i 4"; done
    for i in $(seq 1 "$DISC_TEMPLATED"); do ctl "topic bench-disc-x$i 4"; done
    disc_conf
    chmod a+rx "$work"      # the worker (nobody under root) reads the files
    start_nginx gateway-discovery
    # the files hold exactly what the module answered
    curl -sf -o "$work/disc-catalog.json" "http://127.0.0.1:$PORT/catalog"
    curl -sf -o "$work/disc-catalog-jwt.json" \
        -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/catalog-jwt"
    curl -sf -o "$work/disc-topics.json" "http://127.0.0.1:$PORT/topics"
    DISC_BYTES="catalog $(wc -c < "$work/disc-catalog.json") B,"
    DISC_BYTES="$DISC_BYTES per caller $(wc -c < "$work/disc-catalog-jwt.json") B,"
    DISC_BYTES="$DISC_BYTES topic list $(wc -c < "$work/disc-topics.json") B"
    log "discovery: $DISC_BYTES"

    for run in $(seq 1 "$RUNS"); do
        disc_get disc_cat_file /file/catalog.json
        disc_get disc_cat /catalog
        disc_get disc_jwt_file /file/catalog-jwt.json
        disc_get disc_jwt /catalog-jwt "$token"
        disc_get disc_top_file /file/topics.json
        disc_get disc_top /topics
    done

    grep -E '\[(alert|emerg|crit)\]' \
        "$work/gateway-discovery/logs/error.log" >&2 || true
    stop_nginx gateway-discovery

    ratio disc_cat_rps disc_cat_file_rps r_disc_cat
    ratio disc_jwt_rps disc_jwt_file_rps r_disc_jwt
    ratio disc_top_rps disc_top_file_rps r_disc_top
}


# coldstart: the first 3 s after nginx starts, wrk already waiting (64
# connections, 1 KiB, ack on): a fresh nginx per cell, one with a topic the
# configuration names (its metadata is fetched when the worker starts)
# and one with a topic from a variable (fetched on first use)
COLD_SECS=3

cold_conf() {
    { conf_head "load_module $MODULE;"; cat <<EOF
    kafka_brokers  $KAFKA_BROKERS;
    server {
        listen  127.0.0.1:$PORT backlog=8192;
        location = /cold { kafka_produce  bench-cold-$1; }
        location ~ ^/var/(?<t>[^/]+)$ { kafka_produce  \$t; }
    }
}
EOF
    } | write_conf "gateway-cold-$1"
}

cold_cell() {  # NAME PATH
    local conf=gateway-cold-$run-$1 out
    cold_conf "$run-$1"
    # wrk starts as soon as the worker exists: its requests are the first
    # the worker sees
    start_nginx "$conf"
    out=$(BENCH_BODY=raw BENCH_SIZE=1024 BENCH_RECORDS=1 \
          wrk -t1 -c$CONNS -d"${COLD_SECS}s" --timeout 10s \
              -s bench/produce.lua "http://127.0.0.1:$PORT$2" 2>&1 | tail -1)
    log "cold_$1: $out"
    add "cold_$1_rps" "$(field "$out" rps)"
    add "cold_$1_p50" "$(field "$out" p50_ms)"
    add "cold_$1_p99" "$(field "$out" p99_ms)"
    add "cold_$1_max" "$(field "$out" max_ms)"
    add "cold_$1_bad" "$(( $(field "$out" bad_status) + $(field "$out" socket_errors) ))"
    grep -E '\[(alert|emerg|crit)\]' "$work/$conf/logs/error.log" >&2 || true
    stop_nginx "$conf"
}

coldstart_part() {
    log "coldstart: $RUNS runs of ${COLD_SECS}s from the start, $CONNS connections"
    for run in $(seq 1 "$RUNS"); do
        cold_cell const /cold
        cold_cell var "/var/bench-cold-var-$run"
    done
}

# recovery: t/produce-recovery.t (every broker down 5 s, then back; one
# request every 0.25 s) with its own dev broker; its per-trial figures
RECOVERY_TRIALS=${BENCH_RECOVERY_TRIALS:-10}

recovery_part() {
    # the Makefile's include path for prove (make bench passes it)
    local inc=${PROVE_INC:-"-I t/lib"}
    if [ -z "${PROVE_INC:-}" ]; then
        perl -MTest::Nginx::Socket -e1 2>/dev/null || inc="$inc -I t/compat"
    fi
    log "recovery: t/produce-recovery.t, $RECOVERY_TRIALS trials"
    TEST_NGINX_BINARY=$NGINX_BIN TEST_NGINX_LOAD_MODULES=$MODULE \
    TEST_NGINX_RECOVERY_TRIALS=$RECOVERY_TRIALS \
    TEST_NGINX_PORT=$((PORT + 10)) TEST_NGINX_SCENARIO_PORT=$((PORT + 16)) \
    KAFKA_DEV_BROKER=${KAFKA_DEV_BROKER:-$BUILD/kafka-dev-broker} \
        prove $inc -v t/produce-recovery.t > "$work/recovery.log" 2>&1 \
        || log "recovery: t/produce-recovery.t failed (its log is below)"
    sed -n -e 's/^# .*: \(the first request after the start to .*\)$/\1/p' \
        -e 's/^# .*: \(trial [0-9]*: .*\)$/\1/p' \
        -e 's/^# .*: \(first 2xx after the return over .*\)$/\1/p' \
        "$work/recovery.log" > "$data/recovery"
    grep -E '^(not ok|# +Failed)' "$work/recovery.log" >> "$data/recovery" || true
}


for part in produce concurrency coldstart recovery contracts sse memory status capture discovery; do
    case $PARTS in *" $part "*) log "$part"; "${part}_part" ;; esac
done


# --- the report -----------------------------------------------------------

# target ACTUAL OP GOAL: "met" or "missed (by ...)"
target() {
    awk -v a="$1" -v op="$2" -v g="$3" 'BEGIN {
        ok = (op == ">=") ? a >= g : a < g
        if (a == "") { print "not measured"; exit }
        if (ok) print "met"
        else printf "**missed** (" (a >= 1000 ? "%.0f" : "%.3g") \
                    ", goal %s %s)\n", a, op, g
    }'
}

# has PART: the part ran; the report shows only what was measured
has() { case $PARTS in *" $1 "*) return 0 ;; esac; return 1; }

big=${SSE_CLIENTS##* }
small=${SSE_CLIENTS%% *}

{
cat <<EOF
# nginx-kafka-gateway benchmarks, $(date -u '+%F %H:%M UTC')

Made by \`make bench\` (bench/run.sh); what each figure means is in
bench/README.md.  Every figure is the median of $RUNS runs, (min–max);
ratios are taken run by run, inside one run, then the median.

| machine | |
|---|---|
| CPU | $(nproc) × $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1) |
| kernel | $(uname -r) |
| nginx | $("$NGINX_BIN" -v 2>&1 | sed 's/.*: //') (Debian), 1 worker |
| librdkafka | $(dpkg-query -W -f='${Version}' librdkafka1 2>/dev/null) |
| Nchan | $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null) |
| broker | kafka-dev-broker (librdkafka mock cluster), 3 brokers, 4 partitions |
| load | wrk $(dpkg-query -W -f='${Version}' wrk 2>/dev/null), 1 thread, $CONNS connections, keepalive, ${SECS}s a cell |
EOF

if has produce; then
cat <<EOF

## Produce

| cell | requests/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|
EOF
for s in 100 1024; do
    for c in ceil ack noack wire; do
        case $c in
            ceil) label="ceiling: \`return 204\`, $s B" ;;
            ack) label="\`kafka_produce\`, ack on, $s B" ;;
            noack) label="\`kafka_produce\`, ack off, $s B" ;;
            wire) label="wire: librdkafka, $CONNS in flight, $s B" ;;
        esac
        bad="—"
        [ -s "$data/${c}_${s}_bad" ] && bad=$(sum "${c}_${s}_bad")
        echo "| $label | $(summary "${c}_${s}_rps" %.0f) | $(summary "${c}_${s}_p50" %.2f) | $(summary "${c}_${s}_p99" %.2f) | $bad |"
    done
done
echo "| \`kafka_produce\`, envelope of 100 × 100 B records | $(summary env_rps %.0f) | $(summary env_p50 %.2f) | $(summary env_p99 %.2f) | $(sum env_bad) |"
cat <<EOF

| ratio | 100 B | 1 KiB |
|---|---|---|
| ack on / ceiling, requests/s | $(summary r_ack_100 %.3f) | $(summary r_ack_1024 %.3f) |
| ack on p99 − ceiling p99, ms | $(summary d_p99_100 %.2f) | $(summary d_p99_1024 %.2f) |
| ack on / wire, messages/s | $(summary r_wire_100 %.3f) | $(summary r_wire_1024 %.3f) |
| ack off / ceiling, requests/s | $(summary r_noack_100 %.3f) | $(summary r_noack_1024 %.3f) |

Envelope: **$(summary env_recs %.0f) records/s**.
EOF
fi

if has concurrency; then
cat <<EOF

## Produce at $HIGH_CONNS connections (1 KiB)

The gateway of the produce part with 1 and with 2 workers; ratios to the
same nginx's \`return 204\` in the same run.

| workers | cell | requests/s | p50 ms | p99 ms | non-2xx | / ceiling, requests/s | / ceiling, p99 |
|---|---|---|---|---|---|---|---|
EOF
for w in 1 2; do
    for c in ceil ack noack; do
        case $c in
            ceil) label="ceiling: \`return 204\`"; r="—"; rp="—" ;;
            ack) label="\`kafka_produce\`, ack on" ;;
            noack) label="\`kafka_produce\`, ack off" ;;
        esac
        if [ "$c" != ceil ]; then
            r=$(summary "r_hc${w}_$c" %.3f)
            rp=$(summary "rp_hc${w}_$c" %.2f)
        fi
        echo "| $w | $label | $(summary "hc${w}_${c}_rps" %.0f) | $(summary "hc${w}_${c}_p50" %.2f) | $(summary "hc${w}_${c}_p99" %.2f) | $(sum "hc${w}_${c}_bad") | $r | $rp |"
    done
done
fi

if has coldstart; then
cat <<EOF

## Cold start

The first ${COLD_SECS} s after nginx starts: a fresh nginx per cell, wrk (64
connections, 1 KiB, ack on) started as soon as the worker exists.
*named topic*: the location's topic is a constant, so the worker asks for
its metadata when it starts; *topic from a variable*: the first request
asks for the topic's metadata itself, so it waits one more round trip.

| topic | requests/s | p50 ms | p99 ms | max ms | non-2xx |
|---|---|---|---|---|---|
| named in the configuration | $(summary cold_const_rps %.0f) | $(summary cold_const_p50 %.2f) | $(summary cold_const_p99 %.2f) | $(summary cold_const_max %.1f) | $(sum cold_const_bad) |
| from a variable | $(summary cold_var_rps %.0f) | $(summary cold_var_p50 %.2f) | $(summary cold_var_p99 %.2f) | $(summary cold_var_max %.1f) | $(sum cold_var_bad) |
EOF
fi

if has recovery; then
cat <<EOF

## Recovery after an outage

\`t/produce-recovery.t\` with $RECOVERY_TRIALS trials: every broker of its own
dev broker down for 5 s, then back; one request every 0.25 s, each on its
own connection; the module's defaults.  Its lines, as printed:

\`\`\`
$(cat "$data/recovery" 2>/dev/null)
\`\`\`
EOF
fi

if has contracts; then
cat <<EOF

## Contracts (kafka_produce_schema)

JSON envelopes of 100 orders (about 120-byte objects), ack on, without a
schema and with \`bench/order.schema.json\` (6 typed properties,
\`required\`, a \`pattern\`, an \`enum\`, a nested object).

| cell | requests/s | records/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|---|
| envelope of 100 orders, no schema | $(summary orders_rps %.0f) | $(summary orders_recs %.0f) | $(summary orders_p50 %.2f) | $(summary orders_p99 %.2f) | $(sum orders_bad) |
| envelope of 100 orders, \`kafka_produce_schema\` | $(summary orders_schema_rps %.0f) | $(summary orders_schema_recs %.0f) | $(summary orders_schema_p50 %.2f) | $(summary orders_schema_p99 %.2f) | $(sum orders_schema_bad) |

With the schema / without, records/s: **$(summary r_contract %.3f)**.
EOF
fi

if has sse; then
cat <<EOF

## SSE fan-out (one worker, 100-byte records published over HTTP)

| server | clients | rate/s asked | published/s | delivered events/s | delivered | streams cut | p50 ms | p99 ms | worker CPU s / M events | client CPU s | KiB/client idle | KiB/client active |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
EOF
for n in $SSE_FLOOR $SSE_CLIENTS; do
    for server in gateway nchan; do
        for rate in 10 100; do
            k=${server}_${n}
            idle="—"
            [ "$rate" = 10 ] && [ "$n" != "$SSE_FLOOR" ] \
                && idle=$(summary "${k}_idle_kib" %.1f)
            echo "| $server | $n | $rate | $(summary "${k}_${rate}_pub" %.1f) | $(summary "${k}_${rate}_eps" %.0f) | $(summary "${k}_${rate}_deliv" %.3f) | $(sum "${k}_${rate}_cut") | $(summary "${k}_${rate}_p50" %.1f) | $(summary "${k}_${rate}_p99" %.1f) | $(summary "${k}_${rate}_cpu_me" %.2f) | $(summary "${k}_${rate}_client_cpu" %.2f) | $idle | $(summary "${k}_${rate}_active_kib" %.1f) |"
        done
    done
done
cat <<EOF

| gateway / Nchan | clients | 10/s | 100/s |
|---|---|---|---|
EOF
for n in $SSE_FLOOR $SSE_CLIENTS; do
    echo "| p99 latency | $n | $(summary "r_p99_${n}_10" %.2f) | $(summary "r_p99_${n}_100" %.2f) |"
    [ "$n" = "$SSE_FLOOR" ] && continue
    echo "| worker CPU per event | $n | $(summary "r_cpu_${n}_10" %.2f) | $(summary "r_cpu_${n}_100" %.2f) |"
    echo "| memory per idle client | $n | $(summary "r_mem_${n}" %.2f) | |"
done
cat <<EOF

${SSE_FLOOR:+The $SSE_FLOOR-client rows are the floor: no fan-out, so their latency is
the trip of a record itself (for the gateway: the POST, Kafka's
acknowledgement, the consumer's fetch, the write; for Nchan: the POST and
the write).}

"delivered" is events received / (records published × clients): 1.000
means every client got every record.  "published/s" is what the
closed-loop publisher reached: it posts to the same worker, so a worker
busy fanning out slows it down.  "streams cut" counts streams the server
closed or refused during the session (all runs).
EOF
fi

if has memory; then
cat <<EOF

## Idle worker memory

| worker | RSS KiB | threads |
|---|---|---|
| nginx without the module | $(summary idle_plain %.0f) | $(median threads_plain) |
| with the module, a producer and a consumer | $(summary idle_module-idle %.0f) | $(median threads_module-idle) |
| with the module, both producers and a consumer | $(summary idle_module-two %.0f) | $(median threads_module-two) |
EOF
fi

if has status; then
cat <<EOF

## kafka_status scraped every second vs without

| cell | without | with kafka_status | with / without |
|---|---|---|---|
| produce 1 KiB, ack on, requests/s | $(summary st_off_prod_rps %.0f) | $(summary st_on_prod_rps %.0f) | $(summary r_st_prod_rps %.3f) |
| produce 1 KiB, ack on, p99 ms | $(summary st_off_prod_p99 %.2f) | $(summary st_on_prod_p99 %.2f) | |
| SSE $STATUS_CLIENTS clients × 100/s, delivered events/s | $(summary st_off_sse_eps %.0f) | $(summary st_on_sse_eps %.0f) | $(summary r_st_sse_eps %.3f) |
| SSE, p99 ms | $(summary st_off_sse_p99 %.1f) | $(summary st_on_sse_p99 %.1f) | |
| SSE, worker CPU s / M events | $(summary st_off_sse_cpu_me %.2f) | $(summary st_on_sse_cpu_me %.2f) | $(summary r_st_sse_cpu %.3f) |
EOF
fi

if has discovery; then
cat <<EOF

## Discovery (kafka_catalog, kafka_metadata)

GETs of the catalog of a server with $DISC_TOPICS fixed topics (each a
\`kafka_produce\` location with \`bench/order.schema.json\` and a JSON
stream) and a templated location with $DISC_TEMPLATED topics from Kafka's metadata; the
same catalog under \`kafka_jwt\` (HS256) and \`kafka_acl_claim\`, for a token
that grants part of the topics; and \`kafka_metadata topics\`.  Each
against the same nginx serving the very bytes the module answered from a
file (\`alias\`).  Sizes: $DISC_BYTES.

| cell | requests/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|
EOF
for c in disc_cat_file disc_cat disc_jwt_file disc_jwt disc_top_file disc_top; do
    case $c in
        disc_cat_file) label="the catalog's bytes from a file" ;;
        disc_cat) label="\`kafka_catalog\`" ;;
        disc_jwt_file) label="the per-caller catalog's bytes from a file" ;;
        disc_jwt) label="\`kafka_catalog\` under \`kafka_jwt\`, per caller" ;;
        disc_top_file) label="the topic list's bytes from a file" ;;
        disc_top) label="\`kafka_metadata topics\` (cached metadata)" ;;
    esac
    echo "| $label | $(summary "${c}_rps" %.0f) | $(summary "${c}_p50" %.2f) | $(summary "${c}_p99" %.2f) | $(sum "${c}_bad") |"
done
cat <<EOF

| module / file, requests/s | |
|---|---|
| \`kafka_catalog\` | $(summary r_disc_cat %.3f) |
| \`kafka_catalog\`, per caller | $(summary r_disc_jwt %.3f) |
| \`kafka_metadata topics\` | $(summary r_disc_top %.3f) |
EOF
fi


cat <<EOF

## Targets

| target | status |
|---|---|
EOF
has produce && cat <<EOF
| produce 1 KiB, ack on: ≥ 50% of the ceiling's requests/s | $(target "$(median r_ack_1024)" ">=" 0.5) |
| produce 1 KiB, ack on: p99 within 10 ms of the ceiling's | $(target "$(median d_p99_1024)" "<" 10) |
| envelope of 100 records: ≥ 300,000 records/s | $(target "$(median env_recs)" ">=" 300000) |
| ack on, $CONNS connections: ≥ 0.70 of the ceiling's requests/s (1 KiB) | $(target "$(median r_ack_1024)" ">=" 0.7) |
| ack on, $CONNS connections: p99 ≤ 3 × the ceiling's | $(target "$(median rp_ack_1024)" "<" 3.0001) |
| ack off, $CONNS connections: ≥ 0.80 of the ceiling's requests/s (1 KiB) | $(target "$(median r_noack_1024)" ">=" 0.8) |
| ack off, $CONNS connections: p99 ≤ 3 × the ceiling's | $(target "$(median rp_noack_1024)" "<" 3.0001) |
| envelope of 100 records: ≥ 500,000 records/s | $(target "$(median env_recs)" ">=" 500000) |
EOF
has coldstart && cat <<EOF
| cold start, named topic: p99 of the first ${COLD_SECS} s ≤ 50 ms | $(target "$(median cold_const_p99)" "<" 50.0001) |
EOF
has recovery && cat <<EOF
| recovery: first 2xx within 1.5 s of the brokers' return, every request sent 2 s after it 2xx, no answer by a request's own timer ($RECOVERY_TRIALS of $RECOVERY_TRIALS trials) | $(if [ -s "$data/recovery" ] && ! grep -q '^not ok' "$data/recovery" && grep -q 'trial' "$data/recovery"; then echo met; else echo '**missed**'; fi) |
EOF
has concurrency && cat <<EOF
| ack on, $HIGH_CONNS connections, 1 worker: ≥ 0.70 of the ceiling's requests/s | $(target "$(median r_hc1_ack)" ">=" 0.7) |
| ack on, $HIGH_CONNS connections, 1 worker: p99 ≤ 3 × the ceiling's | $(target "$(median rp_hc1_ack)" "<" 3.0001) |
| ack on, $HIGH_CONNS connections, 2 workers: ≥ 0.70 of the ceiling's requests/s | $(target "$(median r_hc2_ack)" ">=" 0.7) |
| ack on, $HIGH_CONNS connections, 2 workers: p99 ≤ 3 × the ceiling's | $(target "$(median rp_hc2_ack)" "<" 3.0001) |
| ack off, $HIGH_CONNS connections, 1 worker: ≥ 0.80 of the ceiling's requests/s | $(target "$(median r_hc1_noack)" ">=" 0.8) |
| ack off, $HIGH_CONNS connections, 1 worker: p99 ≤ 3 × the ceiling's | $(target "$(median rp_hc1_noack)" "<" 3.0001) |
EOF
has contracts && cat <<EOF
| envelope of 100 orders with a schema: ≥ 60% of the records/s without | $(target "$(median r_contract)" ">=" 0.6) |
EOF
has sse && cat <<EOF
| SSE p99 < 250 ms at $small clients × 100/s | $(target "$(median "gateway_${small}_100_p99")" "<" 250) |
| SSE memory per idle client < 16 KiB ($big clients) | $(target "$(median "gateway_${big}_idle_kib")" "<" 16) |
| SSE CPU per event ≤ 2 × Nchan's ($small clients, 100/s) | $(target "$(median "r_cpu_${small}_100")" "<" 2.0001) |
| SSE CPU per event ≤ 2 × Nchan's ($big clients, 100/s) | $(target "$(median "r_cpu_${big}_100")" "<" 2.0001) |
| SSE p99 ≤ 1.2 × Nchan's ($small clients, 100/s) | $(target "$(median "r_p99_${small}_100")" "<" 1.2001) |
| SSE p99 ≤ 1.2 × Nchan's ($big clients, 10/s) | $(target "$(median "r_p99_${big}_10")" "<" 1.2001) |
EOF
has status && cat <<EOF
| kafka_status scraped: produce requests/s ≥ 97% of without | $(target "$(median r_st_prod_rps)" ">=" 0.97) |
| kafka_status scraped: SSE worker CPU per event ≤ 103% of without | $(target "$(median r_st_sse_cpu)" "<" 1.0301) |
EOF
true
} > "$work/report.md"

if has capture; then
case $CAPTURE_PIN in
    gateway) pinning="the gateway (one nginx: the worker with librdkafka's threads, and
the upstream \`server\`) alone on CPU 0; wrk${CAP_BROKER:+ and the dev broker} on CPU 1
(\`taskset\`), in every cell" ;;
    broker) pinning="${CAP_BROKER:+the dev broker alone on CPU 1; }the gateway (one nginx:
the worker with librdkafka's threads, and the upstream \`server\`) and wrk
on CPU 0 (\`taskset\`), in every cell" ;;
    *) pinning="none (BENCH_CAPTURE_PIN=off): the scheduler places the gateway,
wrk and the dev broker" ;;
esac
cat > "$work/capture.md" <<EOF

## Capture (\`kafka_log\`)

\`proxy_pass\` to an upstream in the same nginx answering 1 KiB (keepalive),
wrk POSTing 1 KiB bodies; with \`kafka_log\` (CloudEvents, both bodies: a
record of a 1 KiB value and a 1 KiB header per request) and without.
*capture alone*: no location waits for acks, so only the batching
producer runs (\`linger.ms\` 5); *next to kafka_produce*: the same nginx
also has a \`kafka_produce\` location with acks, unused during the cells,
so its producer (\`linger.ms\` 0.5) runs too; capture records go through
the batching producer in both.
*saturated*: wrk as fast as the gateway answers; *paced*: each connection
waits ${CAPTURE_DELAY_MS} ms before each request, a load below both cells' capacity.
*worker CPU µs/request*: the worker process's CPU time (its event loop,
librdkafka's threads, the upstream \`server\`) over the cell / requests.

CPU placement: $pinning.
Load average (1, 5, 15 min) before: $CAP_LOAD0; after: $CAP_LOAD1.

| gateway | cell | requests/s | p50 ms | p99 ms | worker CPU µs/request | non-2xx |
|---|---|---|---|---|---|---|
EOF
for tag in cap capack; do
    case $tag in
        cap) where="capture alone" ;;
        capack) where="next to kafka_produce" ;;
    esac
    for c in without with paced_without paced_with; do
        case $c in
            without) label="saturated, without \`kafka_log\`" ;;
            with) label="saturated, \`kafka_log\` both bodies" ;;
            paced_without) label="paced, without" ;;
            paced_with) label="paced, \`kafka_log\`" ;;
        esac
        k=${tag}_$c
        echo "| $where | $label | $(summary "${k}_rps" %.0f) | $(summary "${k}_p50" %.2f) | $(summary "${k}_p99" %.2f) | $(summary "${k}_cpu_us" %.1f) | $(sum "${k}_bad") |"
    done
done >> "$work/capture.md"
cat >> "$work/capture.md" <<EOF

| target | gateway | figure | status |
|---|---|---|---|
| requests/s with / without ≥ 90% (saturated) | capture alone | $(summary r_cap %.3f) | $(target "$(median r_cap)" ">=" 0.9) |
| p99 with − without < 0.5 ms (paced) | capture alone | $(summary d_p99_paced_cap %.2f) | $(target "$(median d_p99_paced_cap)" "<" 0.5) |
| p99 with − without < 0.5 ms (saturated) | capture alone | $(summary d_p99_cap %.2f) | $(target "$(median d_p99_cap)" "<" 0.5) |
| requests/s with / without ≥ 90% (saturated) | next to kafka_produce | $(summary r_capack %.3f) | $(target "$(median r_capack)" ">=" 0.9) |
| p99 with − without < 0.5 ms (paced) | next to kafka_produce | $(summary d_p99_paced_capack %.2f) | $(target "$(median d_p99_paced_capack)" "<" 0.5) |
| p99 with − without < 0.5 ms (saturated) | next to kafka_produce | $(summary d_p99_capack %.2f) | $(target "$(median d_p99_capack)" "<" 0.5) |

Worker CPU per request (saturated), with / without: capture alone
$(summary r_cpu_cap %.3f), next to kafka_produce $(summary r_cpu_capack %.3f).
EOF

if [ "$PARTS" = " capture " ]; then
    OUT=${BENCH_OUT:-$top/bench/results/$(date -u +%F)-capture.md}
    sed -n '1,/^## Targets/p' "$work/report.md" | sed '$d' > "$work/head.md"
    cat "$work/head.md" "$work/capture.md" > "$work/report.md"
else
    cat "$work/capture.md" >> "$work/report.md"
fi
fi

mkdir -p "$(dirname "$OUT")"
cp "$work/report.md" "$OUT"
cat "$OUT"
log "written to $OUT"
