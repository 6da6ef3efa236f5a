#!/usr/bin/env bash
# "make run": nginx with nginx.conf.sample, the built module and the dev
# broker (started by tools/with-broker.sh), in the foreground.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
prefix=${RUN_PREFIX:-$top/build/run}
port=${RUN_PORT:-8080}

mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/html"
cp "$top/examples/sse.html" "$prefix/html/"

sed -e "s#^load_module .*#load_module $MODULE;#" \
    -e "s#^\( *\)kafka_brokers .*#\1kafka_brokers  $KAFKA_BROKERS;#" \
    -e "s#listen  127.0.0.1:8080;#listen  127.0.0.1:$port;#" \
    -e "s#^worker_processes .*#worker_processes  2;#" \
    "$top/nginx.conf.sample" > "$prefix/conf/nginx.conf"

# the pid file and temp paths under the prefix, so no system directory is
# needed (nor touched: Debian's nginx keeps its pid in /run/nginx.pid)
sed -i "s#^events {#pid $prefix/logs/nginx.pid;\n\nevents {#" "$prefix/conf/nginx.conf"
sed -i "s#^http {#http {\n    client_body_temp_path $prefix/body;\n    proxy_temp_path $prefix/proxy;\n    fastcgi_temp_path $prefix/fastcgi;\n    uwsgi_temp_path $prefix/uwsgi;\n    scgi_temp_path $prefix/scgi;\n#" \
    "$prefix/conf/nginx.conf"

"$NGINX_BIN" -t -q -p "$prefix" -e logs/error.log -c conf/nginx.conf

cat <<MSG

nginx-kafka-gateway is running on http://127.0.0.1:$port
  broker:  $KAFKA_BROKERS (dev broker, in memory)
  config:  $prefix/conf/nginx.conf
  logs:    $prefix/logs/
  reload:  $NGINX_BIN -p $prefix -e logs/error.log -c conf/nginx.conf -s reload

Try:
  curl -X POST -H "Content-Type: application/vnd.kafka.json.v2+json" \\
       --data '{"records":[{"key":"alice","value":{"tickets":5}},{"key":"bob","value":{"tickets":10}}]}' \\
       http://127.0.0.1:$port/topics/sales

  curl -X POST --data 'hello' 'http://127.0.0.1:$port/topics/greetings?key=k1'

  kcat -C -b $KAFKA_BROKERS -t sales -o beginning -e -f '%p:%o key=%k value=%s\\n'

  curl -N 'http://127.0.0.1:$port/events/sales?last_event_id=0:0,1:0,2:0,3:0'
      (server-sent events from the start of every partition, then live)

  a browser: http://127.0.0.1:$port/sse.html?topic=sales

Ctrl-C stops nginx and the broker.

MSG

exec "$NGINX_BIN" -p "$prefix" -e logs/error.log -c conf/nginx.conf \
     -g 'daemon off;'
