# kafka_consume_sse: the response headers, the event/id/data fields of
# both formats, multi-line and binary values, the heartbeat, and the
# errors a client gets for a bad topic, a malformed id or a wrong method.
#
# A stream never ends: a block reads it over HTTP/1.0 (no chunked
# encoding, so what arrived is the body) until it is silent for the
# block's timeout (--- abort), or has nginx reloaded to end it
# (sse_reload_after).  Records come from kafka_produce_before.

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Blocks;

master_on();
workers(1);
log_level('debug');
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_consumer_property fetch.wait.max.ms 100;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location ~ ^/v/(?<t>[^/]+)$ {
        kafka_consume_sse $t;
        kafka_consume_start earliest;
        kafka_consume_retry 1500ms;
    }
_EOC_
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

our @RECORDS = (
    { partition => 0, key => 'k1', value => "one line" },
    { partition => 0, key => undef, value => "first\nsecond\r\nthird" },
    { partition => 0, key => 'k3', value => "\xff\x00\xfe binary" },
    { partition => 0, key => "caf\xc3\xa9",
      value => "{\"n\":1,\"s\":\"caf\xc3\xa9\"}" },
);

sub records_in {
    my $topic = shift;
    return [ map { { %$_, topic => $topic } } @RECORDS ];
}

run_tests();

__DATA__

=== TEST 1: value format: headers, retry, event, data, id of each record
--- request
GET /v/sse-basic-value HTTP/1.0
--- kafka_produce_before eval
main::records_in('sse-basic-value')
--- timeout: 1.5
--- abort
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
Cache-Control: no-cache
X-Accel-Buffering: no
!Content-Length
--- response_body_like: \nevent: sse-basic-value\ndata: first\ndata: second\ndata: third\nid: [^\n]+\n\nevent: sse-basic-value\n: base64\ndata: /wD\+IGJpbmFyeQ==\n
--- sse_events eval
[ { retry => 1500, id => qr/^0:0(,\d+:0)*$/, data => undef },
  { event => 'sse-basic-value', data => 'one line',
    id => qr/^0:1(,\d+:0)*$/ },
  { event => 'sse-basic-value', data => "first\nsecond\nthird",
    id => qr/^0:2(,\d+:0)*$/ },
  { comments => ['base64'], data => '/wD+IGJpbmFyeQ==',
    id => qr/^0:3(,\d+:0)*$/ },
  { data => "{\"n\":1,\"s\":\"caf\xc3\xa9\"}",
    id => qr/^0:4(,\d+:0)*$/ } ]



=== TEST 2: json format: the record as one object, event from kafka_consume_event
--- config
    location ~ ^/j/(?<t>[^/]+)$ {
        kafka_consume_sse $t;
        kafka_consume_start earliest;
        kafka_consume_format json;
        kafka_consume_event update;
    }
--- request
GET /j/sse-basic-json HTTP/1.0
--- kafka_produce_before eval
main::records_in('sse-basic-json')
--- timeout: 1.5
--- abort
--- error_code: 200
--- sse_events eval
[ { data => undef },
  { event => 'update',
    data => qr/^\{"topic":"sse-basic-json","partition":0,"offset":0,"timestamp":\d{13},"key":"k1","value":"one line","headers":\[\]\}\z/ },
  { event => 'update',
    data => qr/^\{[^\n]*"key":null,"value":"first\\nsecond\\r\\nthird"[^\n]*\}\z/ },
  { event => 'update',
    data => qr/^\{[^\n]*"value":"\/wD\+IGJpbmFyeQ==".*"value_encoding":"base64"[^\n]*\}\z/ },
  { event => 'update',
    data => qr/^\{[^\n]*"key":"caf\xc3\xa9","value":"\{\\"n\\":1,\\"s\\":\\"caf\xc3\xa9\\"\}"[^\n]*\}\z/ } ]



=== TEST 3: HTTP/1.1: chunked, and ": ping" after each second of silence
nginx is reloaded 3.5 s after the stream started: the old worker ends the
stream, with its last chunk.
--- config
    location ~ ^/v/(?<t>[^/]+)$ {
        kafka_consume_sse $t;
        kafka_consume_start earliest;
        kafka_consume_heartbeat 1s;
    }
--- request
GET /v/sse-basic-ping
--- kafka_produce_before eval
[ { topic => 'sse-basic-ping', partition => 0, value => 'one' } ]
--- sse_reload_after: sse-basic-ping 3.5
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
Transfer-Encoding: chunked
!Content-Length
--- response_body_like: ^retry: \d+\nid: [^\n]+\n\nevent: sse-basic-ping\ndata: one\nid: [^\n]+\n\n: ping\n\n: ping\n\n(?:: ping\n\n)*: closing: [^\n]+\n\n$



=== TEST 4: an invalid topic name: 400 with a JSON error
--- request
GET /v/bad%20topic
--- error_code: 400
--- response_body_like: ^\{"error_code":40001,"message":"invalid topic name



=== TEST 5: an internal topic: 400
--- request
GET /v/__consumer_offsets
--- error_code: 400
--- response_body chomp
{"error_code":40001,"message":"topic \"__consumer_offsets\" is internal to Kafka"}



=== TEST 6: kafka_internal_topics on: an internal topic streams
--- config
    location ~ ^/internal/(?<t>[^/]+)$ {
        kafka_internal_topics on;
        kafka_consume_sse $t;
        kafka_consume_start earliest;
    }
--- request
GET /internal/__sse-internal HTTP/1.0
--- kafka_produce_before eval
[ { topic => '__sse-internal', partition => 0, key => 'ik',
    value => 'internal record' } ]
--- timeout: 1.5
--- abort
--- error_code: 200
--- sse_data eval
[ 'internal record' ]



=== TEST 7: a UTF-8 topic name is quoted as UTF-8
--- request
GET /v/caf%C3%A9
--- error_code: 400
--- response_body eval
qq|{"error_code":40001,"message":"invalid topic name \\"caf\xc3\xa9\\": |
. '1 to 249 characters of a-z, A-Z, 0-9, \\".\\", \\"_\\", \\"-\\""}'



=== TEST 8: malformed Last-Event-ID values: 400 with a JSON error
--- request eval
[ ("GET /v/sse-basic-ids") x 7 ]
--- more_headers eval
[ map { "Last-Event-ID: $_" }
  'x', '0:1,0:2', '1:2,0:1', '0:', ':5', '0:1,', '0:99999999999999999999' ]
--- error_code eval
[ (400) x 7 ]
--- response_body_like eval
[ ('^\{"error_code":40002,') x 7 ]



=== TEST 9: a malformed ?last_event_id=: 400
--- request
GET /v/sse-basic-ids?last_event_id=zz
--- error_code: 400
--- response_body_like: ^\{"error_code":40002,



=== TEST 10: a malformed ?since=: 400 with a JSON error
--- request
GET /v/sse-basic-ids?since=yesterday
--- error_code: 400
--- response_body_like: "error_code":40003



=== TEST 11: POST: 405 with Allow
--- request
POST /v/sse-basic-ids
x
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body_like: "error_code":40501



=== TEST 12: HEAD: the stream's headers, no body
--- request
HEAD /v/sse-basic-ids
--- error_code: 200
--- response_headers
Content-Type: text/event-stream
--- response_body chomp
