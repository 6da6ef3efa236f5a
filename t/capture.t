# kafka_log: API traffic captured as CloudEvents records (binary mode) or
# CloudEvents JSON, behind proxy_pass to a real upstream (a second server
# on a unix socket), static files and return; every field, the key, the
# headers, both bodies, truncation, if=, tombstones, subrequests, the
# header allow-list; read back from Kafka.

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Capture;
use KafkaGateway::JWT qw(jwt_sign);
use File::Temp qw(tempdir);
use Time::Local qw(timegm);

master_on();
workers(1);
log_level('info');
no_shuffle();

# an HMAC key for the kafka_jwt block
my $keys = tempdir(CLEANUP => 1);
{
    open my $fh, '>:raw', "$keys/hmac.key" or die "$keys/hmac.key: $!";
    print $fh "capture-test-secret-0123456789abcdef";
    close $fh;
}
$ENV{TEST_NGINX_CAPTURE_KEYS} = $keys;
our $alice = jwt_sign('HS256', "$keys/hmac.key",
                      { sub => 'alice', exp => time + 3600 });

our $ID = qr/^[0-9a-f]{32}$/;
our $TIME = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

# TEST 10b: logs/ids.log has "$arg_n $msec $request_time
# $sent_http_x_request_id" per request (the access log runs before
# kafka_log, so it must not ask for $request_id itself).  The record of
# request n: ce_id a $request_id, no other record's, the X-Request-Id the
# response carried when it had one; ce_time the request's start to the
# millisecond ($msec, the time of logging, minus $request_time).
our %SEEN_ID;
sub logged {
    my ($n) = @_;
    my $root = $Test::Nginx::Util::ServRoot // $ENV{TEST_NGINX_SERVER_ROOT};
    open my $fh, '<', "$root/logs/ids.log" or return;
    for (<$fh>) {
        my ($k, $msec, $took, $sent) = split;
        return ($msec - $took, $sent eq '-' ? undef : $sent) if $k eq $n;
    }
    return;
}
sub logged_id {
    my ($n) = @_;
    return sub {
        my ($id) = @_;
        return 0 unless defined $id && $id =~ $ID && !$SEEN_ID{$id}++;
        my ($start, $sent) = logged($n);
        return 1 if defined $start && (!defined $sent || $sent eq $id);
        diag("ce_id $id, request $n sent " . ($sent // 'none'));
        return 0;
    };
}
sub logged_time {
    my ($n) = @_;
    return sub {
        my ($time) = @_;
        my ($start) = logged($n);
        return 0 unless defined $start && defined $time && $time
            =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/;
        my $t = timegm($6, $5, $4, $3, $2 - 1, $1) + $7 / 1000;
        return 1 if abs($t - $start) < 0.0015;
        diag("ce_time $time, request $n started at $start");
        return 0;
    };
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;

    # the application: an orders API on a unix socket
    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
        default_type application/json;

        location ~ ^/orders/missing$ {
            return 404 '{"error":"no such order"}';
        }

        location ~ ^/orders/(?<id>\w+)$ {
            if ($request_method = DELETE) {
                return 204;
            }
            return 200 '{"id":"$id","state":"$request_method"}';
        }

        location = /orders {
            return 201 '{"id":"new"}';
        }

        location = /big {
            return 200 '0123456789abcdefghijklmnopqrstuvwxyz';
        }
    }
_EOC_
    }

    # under valgrind on shared cores a first request may take seconds
    if ($ENV{TEST_NGINX_USE_VALGRIND} && !defined $block->timeout) {
        $block->set_value("timeout", "20");
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]\n[warn]");
    }
});

run_tests();

__DATA__

=== TEST 1: PUT through proxy_pass: every CloudEvents attribute, the key, both bodies, an allowed header; Authorization absent
--- config
    location ~ ^/orders/(?<id>\w+)$ {
        kafka_log capture-put;
        kafka_log_key $id;
        kafka_log_header X-Tenant;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
    }
--- request
PUT /orders/42?note=yes
{"state":"paid"}
--- more_headers
Content-Type: application/json
X-Tenant: acme
Authorization: Bearer secret-token
Cookie: session=secret
--- error_code: 200
--- response_body chomp
{"id":"42","state":"PUT"}
--- capture_topic: capture-put
--- capture_records eval
[ { key => "42", value => '{"id":"42","state":"PUT"}',
    headers => {
        ce_specversion => "1.0",
        ce_id => $::ID,
        ce_source => "http://localhost",
        ce_type => "http.exchange",
        ce_time => $::TIME,
        ce_httpmethod => "PUT",
        ce_httppath => "/orders/42",
        ce_httpquery => "note=yes",
        ce_httpstatus => "200",
        "content-type" => "application/json",
        "http-x-tenant" => "acme",
        "http-request-body" => '{"state":"paid"}',
    } } ]



=== TEST 2: Authorization is captured only when named
--- config
    location ~ ^/orders/(?<id>\w+)$ {
        kafka_log capture-auth;
        kafka_log_key $id;
        kafka_log_body off;
        kafka_log_header authorization;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
    }
--- request
GET /orders/7
--- more_headers
Authorization: Bearer secret-token
Cookie: session=secret
--- error_code: 200
--- capture_topic: capture-auth
--- capture_records eval
[ { key => "7", value => "",
    headers => {
        ce_specversion => "1.0", ce_id => $::ID,
        ce_source => "http://localhost", ce_type => "http.exchange",
        ce_time => $::TIME, ce_httpmethod => "GET",
        ce_httppath => "/orders/7", ce_httpstatus => "200",
        "http-authorization" => "Bearer secret-token",
    } } ]



=== TEST 3: kafka_log_format json: a CloudEvents JSON document with the request and response metadata and bodies
--- config
    location ~ ^/orders/(?<id>\w+)$ {
        kafka_log capture-json;
        kafka_log_key $id;
        kafka_log_format json;
        kafka_log_header X-Tenant;
        kafka_log_header X-Absent;
        kafka_log_source /orders/$id;
        kafka_log_type com.example.order.$request_method;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
    }
--- request
POST /orders/9?a=1&b=%20
{"qty":3}
--- more_headers
Content-Type: application/json
X-Tenant: acme
X-Tenant: beta
--- error_code: 200
--- capture_topic: capture-json
--- capture_records eval
[ { key => "9",
    headers => { "content-type" =>
                 "application/cloudevents+json; charset=UTF-8" },
    json => {
        specversion => "1.0", id => $::ID, source => "/orders/9",
        type => "com.example.order.POST", time => $::TIME,
        datacontenttype => "application/json",
        httpmethod => "POST", httppath => "/orders/9",
        httpquery => "a=1&b=%20", httpstatus => 200,
        data => {
            request => {
                method => "POST", uri => "/orders/9", args => "a=1&b=%20",
                headers => { "X-Tenant" => "acme, beta" },
                content_type => "application/json",
                body => '{"qty":3}', body_truncated => 0,
            },
            response => {
                status => 200, content_type => "application/json",
                body => '{"id":"9","state":"POST"}', body_truncated => 0,
            },
            request_time => qr/^\d+(\.\d+)?$/,
            upstream_response_time => qr/^\d+\.\d{3}$/,
        },
    } } ]



=== TEST 4: bodies over kafka_log_body_max are truncated, and marked
--- config
    kafka_log_body_max 10;
    location /big {
        kafka_log capture-trunc;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
    }
--- request
POST /big
ABCDEFGHIJKLMNOPQRSTUVWXYZ
--- error_code: 200
--- response_body chomp
0123456789abcdefghijklmnopqrstuvwxyz
--- capture_topic: capture-trunc
--- capture_records eval
[ { key => undef, value => "0123456789",
    headers => {
        ce_specversion => "1.0", ce_id => $::ID,
        ce_source => "http://localhost", ce_type => "http.exchange",
        ce_time => $::TIME, ce_httpmethod => "POST",
        ce_httppath => "/big", ce_httpstatus => "200",
        ce_requesttruncated => "true", ce_responsetruncated => "true",
        "content-type" => "application/json",
        "http-request-body" => "ABCDEFGHIJ",
    } } ]



=== TEST 5: json format marks truncation, and a body that is not UTF-8 is base64
--- config
    location /big {
        kafka_log capture-trunc-json;
        kafka_log_format json;
        kafka_log_body_max 12;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
    }
--- request eval
"POST /big\n\xff\xfe\x00binary"
--- error_code: 200
--- capture_topic: capture-trunc-json
--- capture_records eval
[ { key => undef,
    headers => { "content-type" =>
                 "application/cloudevents+json; charset=UTF-8" },
    json => {
        specversion => "1.0", id => $::ID, source => "http://localhost",
        type => "http.exchange", time => $::TIME,
        datacontenttype => "application/json",
        httpmethod => "POST", httppath => "/big", httpstatus => 200,
        data => {
            request => {
                method => "POST", uri => "/big", args => "", headers => {},
                body_base64 => "//4AYmluYXJ5", body_truncated => 0,
            },
            response => {
                status => 200, content_type => "application/json",
                body => "0123456789ab", body_truncated => 1,
            },
            request_time => qr/^\d/, upstream_response_time => qr/^\d/,
        },
    } } ]



=== TEST 6: if= with a map: only successful writes are captured, with all their headers
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;

    map $request_method:$status $capture_write {
        ~^(POST|PUT|PATCH|DELETE):2  1;
        default                      0;
    }

    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
        location /orders/missing { return 404 "none"; }
        location /orders/ { return 200 "$request_method"; }
    }
--- config
    location /orders/ {
        kafka_log capture-if if=$capture_write;
        kafka_log capture-all;
        kafka_log_body response;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
    }
--- request eval
["GET /orders/1", "PUT /orders/1\nx", "PUT /orders/missing\nx",
 "PATCH /orders/1\nx"]
--- error_code eval
[200, 200, 404, 200]
--- capture_topic: capture-if
--- capture_records eval
[ { key => undef, value => "PUT", headers => {
        ce_specversion => "1.0", ce_id => $::ID,
        ce_source => "http://localhost", ce_type => "http.exchange",
        ce_time => $::TIME, ce_httpmethod => "PUT",
        ce_httppath => "/orders/1", ce_httpstatus => "200",
        "content-type" => qr{^text/plain},
    } },
  { key => undef, value => "PATCH" } ]



=== TEST 7: every kafka_log gets the record (the unconditional one of TEST 6)
--- config
    location = /nothing {
        return 200 "nothing here";
    }
--- request
GET /nothing
--- capture_topic: capture-all
--- capture_records eval
[ { key => undef, value => "GET" },
  { key => undef, value => "PUT",
    # the headers too: the last kafka_log of a request is handed the
    # built headers, the others a copy (TEST 6 got its own above)
    headers => {
        ce_specversion => "1.0", ce_id => $::ID,
        ce_source => "http://localhost", ce_type => "http.exchange",
        ce_time => $::TIME, ce_httpmethod => "PUT",
        ce_httppath => "/orders/1", ce_httpstatus => "200",
        "content-type" => qr{^text/plain},
    } },
  { key => undef, value => "none" }, { key => undef, value => "PATCH" } ]



=== TEST 8: kafka_log_tombstone: a successful DELETE is a null value for its key; a failed one is not
--- config
    location ~ ^/orders/(?<id>\w+)$ {
        kafka_log capture-tomb;
        kafka_log_key $id;
        kafka_log_body response;
        kafka_log_tombstone on;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
    }
--- request eval
["PUT /orders/5\n{}", "DELETE /orders/5", "DELETE /orders/missing"]
--- error_code eval
[200, 204, 404]
--- capture_topic: capture-tomb
--- capture_records eval
[ { key => "5", value => '{"id":"5","state":"PUT"}' },
  { key => "5", value => undef,
    headers => {
        ce_specversion => "1.0", ce_id => $::ID,
        ce_source => "http://localhost", ce_type => "http.exchange",
        ce_time => $::TIME, ce_httpmethod => "DELETE",
        ce_httppath => "/orders/5", ce_httpstatus => "204",
    } },
  { key => "missing", value => '{"error":"no such order"}' } ]



=== TEST 9: subrequests are not captured (a mirror, with log_subrequest on)
--- config
    log_subrequest on;
    kafka_log capture-sub;
    kafka_log_body off;

    location = /mirror {
        internal;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock:/orders/m;
    }

    location /orders/ {
        mirror /mirror;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
    }
--- request
GET /orders/3
--- error_code: 200
--- capture_topic: capture-sub
--- capture_records eval
[ { key => undef, value => "",
    headers => {
        ce_specversion => "1.0", ce_id => $::ID,
        ce_source => "http://localhost", ce_type => "http.exchange",
        ce_time => $::TIME, ce_httpmethod => "GET",
        ce_httppath => "/orders/3", ce_httpstatus => "200",
    } } ]



=== TEST 10: a static file and return; kafka_log inherited from the server level, kafka_log off in a location; the default ce_source is $scheme://$host
--- config
    kafka_log capture-static;
    kafka_log_body response;

    location /static/ {
        types { text/html html; }
        alias html/;
    }

    location = /created {
        default_type text/plain;
        return 201 "created";
    }

    location = /quiet {
        kafka_log off;
        return 200 "quiet";
    }
--- request eval
["GET /static/index.html", "GET /quiet", "POST /created\nignored"]
--- more_headers
Host: API.Example.COM:8080
--- error_code eval
[200, 200, 201]
--- capture_topic: capture-static
--- capture_records eval
[ { key => undef,
    value => '<html><head><title>It works!</title></head><body>It works!</body></html>',
    headers => {
        ce_specversion => "1.0", ce_id => $::ID,
        ce_source => "http://api.example.com", ce_type => "http.exchange",
        ce_time => $::TIME, ce_httpmethod => "GET",
        ce_httppath => "/static/index.html", ce_httpstatus => "200",
        "content-type" => "text/html",
    } },
  { key => undef, value => "created",
    headers => {
        ce_specversion => "1.0", ce_id => $::ID,
        ce_source => "http://api.example.com", ce_type => "http.exchange",
        ce_time => $::TIME, ce_httpmethod => "POST",
        ce_httppath => "/created", ce_httpstatus => "201",
        "content-type" => "text/plain",
    } } ]



=== TEST 10b: ce_id is the request's $request_id, also when something asked for it first (add_header), each request its own; ce_time its start, also in a later second
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    log_format ids '$arg_n $msec $request_time $sent_http_x_request_id';

    # each request after the first waits for its turn: they start in
    # different seconds
    limit_req_zone $server_name zone=capture_id:1m rate=1r/s;
--- config
    kafka_log capture-id;
    kafka_log_key $arg_n;
    kafka_log_body response;
    access_log logs/ids.log ids;
    default_type text/plain;
    limit_req zone=capture_id burst=5;
    limit_req_log_level info;

    location = /fresh {
        return 200 "fresh";
    }

    location = /asked {
        add_header X-Request-Id $request_id;
        return 200 "asked";
    }
--- request eval
["GET /fresh?n=1", "GET /asked?n=2", "GET /fresh?n=3"]
--- error_code eval
[200, 200, 200]
--- response_headers_like eval
["", "X-Request-Id: [0-9a-f]{32}", ""]
--- capture_topic: capture-id
--- capture_records eval
[ map { my ($n, $path) = @$_;
        { key => $n, value => $path,
          headers => {
              ce_specversion => "1.0", ce_id => ::logged_id($n),
              ce_source => "http://localhost", ce_type => "http.exchange",
              ce_time => ::logged_time($n), ce_httpmethod => "GET",
              ce_httppath => "/$path", ce_httpquery => "n=$n",
              ce_httpstatus => "200", "content-type" => "text/plain",
          } } }
  [1, "fresh"], [2, "asked"], [3, "fresh"] ]
--- timeout: 20



=== TEST 11: the subject of a verified JWT (CloudEvents authcontext)
--- config
    location ~ ^/orders/(?<id>\w+)$ {
        kafka_jwt "orders";
        kafka_jwt_key_type hmac;
        kafka_jwt_key_file $TEST_NGINX_CAPTURE_KEYS/hmac.key;
        kafka_log capture-jwt;
        kafka_log_key $id;
        kafka_log_body off;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
    }
--- more_headers eval
"Authorization: Bearer $::alice"
--- request
GET /orders/11
--- error_code: 200
--- capture_topic: capture-jwt
--- capture_records eval
[ { key => "11", value => "",
    headers => {
        ce_specversion => "1.0", ce_id => $::ID,
        ce_source => "http://localhost", ce_type => "http.exchange",
        ce_time => $::TIME, ce_httpmethod => "GET",
        ce_httppath => "/orders/11", ce_httpstatus => "200",
        ce_authtype => "app_user", ce_authid => "alice",
    } } ]



=== TEST 12: a request body read into a temporary file is captured from it
--- config
    client_body_buffer_size 1k;
    location = /orders {
        kafka_log capture-file;
        kafka_log_body request;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/orders.sock;
    }
--- request eval
"POST /orders\n" . ("0123456789" x 300)
--- more_headers
Content-Type: text/plain
--- error_code: 201
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
[error]
[alert]
[crit]
kafka_log
--- capture_topic: capture-file
--- capture_records eval
[ { key => undef, value => "0123456789" x 300,
    headers => {
        ce_specversion => "1.0", ce_id => $::ID,
        ce_source => "http://localhost", ce_type => "http.exchange",
        ce_time => $::TIME, ce_httpmethod => "POST",
        ce_httppath => "/orders", ce_httpstatus => "201",
        "content-type" => "text/plain",
    } } ]



=== TEST 13: an invalid topic is refused at configuration time
--- config
    kafka_log "bad topic";
--- must_die
--- error_log
invalid topic name "bad topic"



=== TEST 14: an unknown parameter is refused
--- config
    kafka_log capture-x when=$arg_x;
--- must_die
--- error_log
invalid parameter "when=$arg_x"



=== TEST 15: a record librdkafka refuses (over message.max.bytes) is dropped, and counted in nginx_kafka_log_dropped_total, shown from 0 at start
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_producer_property message.max.bytes 1000;
--- config eval
"    location = /status { kafka_status; }
    location = /small {
        kafka_log capture-refused;
        kafka_log_body response;
        return 200 'small';
    }
    location = /big {
        kafka_log capture-refused;
        kafka_log_body response;
        return 200 '" . ('x' x 2000) . "';
    }
"
--- request eval
["GET /status", "GET /small", "GET /big", "GET /big", "GET /status"]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
['(?m)^nginx_kafka_log_dropped_total\{topic="capture-refused"\} 0$',
 '^small$', '^x{2000}$', '^x{2000}$',
 '(?m)^nginx_kafka_log_dropped_total\{topic="capture-refused"\} 2$']
--- capture_topic: capture-refused
--- capture_records eval
[ { key => undef, value => "small" } ]
--- no_error_log
[error]
[alert]
[crit]
