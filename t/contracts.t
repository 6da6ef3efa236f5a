# Contracts with kafka_produce_schema: reject (422, 42203, nothing
# produced) and annotate (every record produced, invalid ones with the
# validation header) for raw, json and binary bodies; key schemas, the
# error cap, formats, relative $refs, and schemas refused at start; the
# invalid records counted by kafka_status.
#
# A section of this file:
#   --- status_samples eval  [ 'name{labels} value', ... ]: exact samples
#                            of the block's last response (GET of a
#                            kafka_status location, text form)

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);

use lib 't/lib';
use KafkaGateway::Blocks;
use Test::More;

my $dir = tempdir(CLEANUP => 1);

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
    print $fh $text;
    close $fh;
}

write_file('order.json', <<'_EOS_');
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["id", "amount"],
  "properties": {
    "id": { "type": "string", "pattern": "^ord-[0-9]+$" },
    "amount": { "type": "number", "minimum": 0 },
    "currency": { "enum": ["EUR", "USD"] },
    "placed": { "type": "string", "format": "date-time" },
    "lines": { "$ref": "common.json#/$defs/lines" }
  }
}
_EOS_

write_file('common.json', <<'_EOS_');
{
  "$defs": {
    "lines": {
      "type": "array",
      "items": { "type": "object", "required": ["sku"] },
      "maxItems": 3
    }
  }
}
_EOS_

write_file('key.json', '{"type": "string", "minLength": 3}');
write_file('bad-syntax.json', qq({\n  "type": "object",\n  "required": [}\n));
write_file('bad-pattern.json',
           '{"properties": {"id": {"pattern": "ord-(["}}}');
write_file('bad-ref.json', '{"$ref": "missing.json"}');

$ENV{TEST_NGINX_CONTRACTS} = $dir;

master_on();
workers(1);
log_level('info');
no_shuffle();

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated, $dry_run) = @_;
    return if $dry_run || !$block->can('status_samples');

    my $want = $block->status_samples or return;
    my $reqs = $block->request;
    return if ref $reqs eq 'ARRAY' && $req_idx != $#$reqs;

    my %have;
    for (split /\n/, $body) {
        $have{$1} = $2 if /^([a-z_]+(?:\{.*\})?) (\S+)$/;
    }

    for (@$want) {
        my ($k, $v) = /^(\S+) (\S+)$/ or die "status_samples: bad \"$_\"\n";
        is($have{$k} // 'none', $v, $block->name . " - $k");
    }
});

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
                          "kafka_brokers \$TEST_NGINX_KAFKA_BROKERS;");
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_key $arg_key;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
    }

    location ~ ^/annotated/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
        kafka_produce_validation annotate;
    }
_EOC_
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: raw: a valid record is produced
--- request
POST /topics/ct-raw-ok
{"id":"ord-1","amount":12.5,"currency":"EUR"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- kafka_topic: ct-raw-ok
--- kafka_records eval
[ { key => undef, value => '{"id":"ord-1","amount":12.5,"currency":"EUR"}' } ]



=== TEST 2: raw: an invalid record is 422 42203 with every violation, nothing produced
--- request
POST /topics/ct-raw-bad
{"id":"order-1","amount":-3,"currency":"GBP"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body chomp
{"error_code":42203,"message":"1 of 1 record does not match the contract of topic \"ct-raw-bad\"; nothing was produced","errors":[{"field":"value","pointer":"/id","keyword":"pattern","message":"must match the pattern \"^ord-[0-9]+$\"","record":0},{"field":"value","pointer":"/amount","keyword":"minimum","message":"must be >= 0","record":0},{"field":"value","pointer":"/currency","keyword":"enum","message":"must be one of the 2 allowed values","record":0}]}
--- kafka_topic_count: ct-raw-bad 0



=== TEST 3: raw: a body that is not JSON is invalid, saying so
--- request
POST /topics/ct-raw-notjson
id=ord-1&amount=3
--- error_code: 422
--- response_body_like: ^\{"error_code":42203,"message":"1 of 1 record does not match the contract of topic \\"ct-raw-notjson\\"; nothing was produced","errors":\[\{"field":"value","pointer":"","keyword":"json","message":"not JSON: [^"]+ at line 1, column \d+","record":0\}\]\}$
--- kafka_topic_count: ct-raw-notjson 0



=== TEST 4: json envelope: one invalid record of three produces nothing
--- request
POST /topics/ct-json-one-bad
{"records":[{"value":{"id":"ord-1","amount":1}},{"value":{"id":"ord-2"}},{"value":{"id":"ord-3","amount":3}}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42203,"message":"1 of 3 records do not match the contract of topic \"ct-json-one-bad\"; nothing was produced","errors":[{"field":"value","pointer":"","keyword":"required","message":"required property \"amount\" is missing","record":1}]}
--- kafka_topic_count: ct-json-one-bad 0



=== TEST 5: json envelope: valid records are produced as they came
--- request
POST /topics/ct-json-ok
{"records":[{"key":"a","value":{"id":"ord-1","amount":1,"lines":[{"sku":"x"}]}},{"value":{"id":"ord-2","amount":0}}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 200
--- kafka_topic: ct-json-ok
--- kafka_records eval
[ { key => '"a"', value => '{"id":"ord-1","amount":1,"lines":[{"sku":"x"}]}' },
  { key => undef, value => '{"id":"ord-2","amount":0}' } ]



=== TEST 6: json envelope: a $ref into a second file applies (nested pointer)
--- request
POST /topics/ct-json-ref
{"records":[{"value":{"id":"ord-1","amount":1,"lines":[{"sku":"x"},{"qty":2}]}}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body_like: "pointer":"/lines/1","keyword":"required","message":"required property \\"sku\\" is missing","record":0\}\]\}$
--- kafka_topic_count: ct-json-ref 0



=== TEST 7: binary envelope: the decoded bytes are validated
--- request
POST /topics/ct-binary-bad
{"records":[{"value":"eyJpZCI6Im9yZC0xIiwiYW1vdW50IjoxfQ=="},{"value":"eyJpZCI6MX0="}]}
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42203,"message":"1 of 2 records do not match the contract of topic \"ct-binary-bad\"; nothing was produced","errors":[{"field":"value","pointer":"","keyword":"required","message":"required property \"amount\" is missing","record":1},{"field":"value","pointer":"/id","keyword":"type","message":"must be string, not integer","record":1}]}
--- kafka_topic_count: ct-binary-bad 0



=== TEST 8: binary envelope: valid bytes are produced
--- request
POST /topics/ct-binary-ok
{"records":[{"value":"eyJpZCI6Im9yZC0xIiwiYW1vdW50IjoxfQ=="}]}
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 200
--- kafka_topic: ct-binary-ok
--- kafka_records eval
[ { key => undef, value => '{"id":"ord-1","amount":1}' } ]



=== TEST 9: annotate, raw: the invalid record is produced with the header
--- request
POST /annotated/ct-ann-raw
{"id":"ord-1","amount":"12"}
--- error_code: 200
--- kafka_topic: ct-ann-raw
--- kafka_records eval
[ { key => undef, value => '{"id":"ord-1","amount":"12"}',
    headers => { "kafka-gateway-validation-errors" => '{"errors":[{"field":"value","pointer":"/amount","keyword":"type","message":"must be number, not string"}]}' } } ]



=== TEST 10: annotate, json envelope: only the invalid record carries the header, named by kafka_produce_validation_header
--- config
    location ~ ^/annotated/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
        kafka_produce_validation annotate;
        kafka_produce_validation_header x-contract-errors;
        kafka_produce_header x-source gateway;
    }
--- request
POST /annotated/ct-ann-json
{"records":[{"value":{"id":"ord-1","amount":1}},{"value":{"id":"ord-2","amount":2,"extra":true,"lines":[{},{},{},{}]}}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 200
--- kafka_topic: ct-ann-json
--- kafka_records eval
[ { key => undef, value => '{"id":"ord-1","amount":1}',
    headers => { "x-source" => "gateway" } },
  { key => undef,
    value => '{"id":"ord-2","amount":2,"extra":true,"lines":[{},{},{},{}]}',
    headers => { "x-source" => "gateway",
                 "x-contract-errors" => qr/^\{"errors":\[\{"field":"value","pointer":"\/lines","keyword":"maxItems",.*"pointer":"\/lines\/0","keyword":"required",/ } } ]



=== TEST 11: annotate, binary envelope: not JSON is annotated too
--- request
POST /annotated/ct-ann-binary
{"records":[{"value":"AAEC"}]}
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 200
--- kafka_topic: ct-ann-binary
--- kafka_records eval
[ { key => undef, value => "\x00\x01\x02",
    headers => { "kafka-gateway-validation-errors" => qr/^\{"errors":\[\{"field":"value","pointer":"","keyword":"json","message":"not JSON: [^"]+"\}\]\}$/ } } ]



=== TEST 12: kafka_produce_validation_errors caps the entries, across records
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
        kafka_produce_validation_errors 2;
    }
--- request
POST /topics/ct-cap
{"records":[{"value":{"id":1}},{"value":{"id":2}},{"value":{"id":3}}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42203,"message":"3 of 3 records do not match the contract of topic \"ct-cap\"; nothing was produced","errors":[{"field":"value","pointer":"","keyword":"required","message":"required property \"amount\" is missing","record":0},{"field":"value","pointer":"/id","keyword":"type","message":"must be string, not integer","record":0}]}
--- kafka_topic_count: ct-cap 0



=== TEST 13: kafka_produce_key_schema: the envelope's keys and kafka_produce_key
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_key $http_x_key;
        kafka_produce_key_schema $TEST_NGINX_CONTRACTS/key.json;
    }
--- request
POST /topics/ct-key
{"records":[{"key":"abc","value":1},{"key":"ab","value":2},{"value":3}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
X-Key: "abcd"
--- error_code: 422
--- response_body chomp
{"error_code":42203,"message":"1 of 3 records do not match the contract of topic \"ct-key\"; nothing was produced","errors":[{"field":"key","pointer":"","keyword":"minLength","message":"must be at least 3 characters long","record":1}]}
--- kafka_topic_count: ct-key 0



=== TEST 14: kafka_produce_key_schema: a raw body's key from kafka_produce_key
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_key $http_x_key;
        kafka_produce_key_schema $TEST_NGINX_CONTRACTS/key.json;
    }
--- request
POST /topics/ct-key-raw
anything
--- more_headers
X-Key: "x"
--- error_code: 422
--- response_body_like: "field":"key","pointer":"","keyword":"minLength"
--- kafka_topic_count: ct-key-raw 0



=== TEST 15: kafka_produce_validation off: nothing is checked
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
        kafka_produce_validation off;
    }
--- request
POST /topics/ct-off
not json
--- error_code: 200
--- kafka_topic: ct-off
--- kafka_records eval
[ { key => undef, value => "not json" } ]



=== TEST 16: format is an annotation by default
--- request
POST /topics/ct-format-off
{"id":"ord-1","amount":1,"placed":"yesterday"}
--- error_code: 200
--- kafka_topic_count: ct-format-off 1



=== TEST 17: kafka_produce_validation_formats on: date-time asserts
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
        kafka_produce_validation_formats on;
    }
--- request
POST /topics/ct-format-on
{"id":"ord-1","amount":1,"placed":"2026-02-30T10:00:00Z"}
--- error_code: 422
--- response_body_like: "pointer":"/placed","keyword":"format","message":"must be a valid date-time"
--- kafka_topic_count: ct-format-on 0



=== TEST 18: a tombstone (DELETE) has no value to check
--- request
DELETE /topics/ct-tombstone?key=k1
--- error_code: 200
--- kafka_topic: ct-tombstone
--- kafka_records eval
[ { key => "k1", value => undef } ]



=== TEST 19: a schema that is not JSON fails at start with its line and column
--- config
    location /p {
        kafka_produce ct-never;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/bad-syntax.json;
    }
--- must_die
--- error_log
bad-syntax.json
: line 3, column 16: unexpected token near '}' in 



=== TEST 20: an invalid pattern fails at start naming its place in the schema
--- config
    location /p {
        kafka_produce ct-never;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/bad-pattern.json;
    }
--- must_die
--- error_log
bad-pattern.json
: invalid schema at /properties/id/pattern: invalid regular expression
at offset 6: missing terminating ] for character class



=== TEST 21: a $ref to a missing file fails at start
--- config
    location /p {
        kafka_produce ct-never;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/bad-ref.json;
    }
--- must_die
--- error_log
bad-ref.json
: invalid schema at (root): $ref to
missing.json: No such file or directory



=== TEST 22: a missing schema file fails at start
--- config
    location /p {
        kafka_produce ct-never;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/none.json;
    }
--- must_die
--- error_log
none.json: No such file or directory



=== TEST 23: a validation header name with a space is refused
--- config
    location /p {
        kafka_produce ct-never;
        kafka_produce_validation_header "bad name";
    }
--- must_die
--- error_log
must be printable ASCII without spaces



=== TEST 24: reject: nginx_kafka_validation_failures_total counts invalid records, raw and in an envelope, not requests
--- config
    location = /status { kafka_status; }
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
    }
--- request eval
["POST /topics/ct-m-reject\n{\"id\":\"ord-1\",\"amount\":1}",
 "POST /topics/ct-m-reject\n{\"id\":\"order-1\",\"amount\":-3}",
 "POST /topics/ct-m-reject\n{\"records\":[{\"value\":{\"id\":\"ord-2\",\"amount\":2}},{\"value\":{\"id\":\"ord-3\"}},{\"value\":{\"id\":4,\"amount\":4}}]}",
 "POST /topics/ct-m-reject\n{\"records\":[{\"value\":{\"id\":\"ord-5\",\"amount\":5}},{\"value\":{\"id\":\"ord-6\",\"amount\":6}}]}",
 "GET /status"]
--- more_headers eval
["Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/vnd.kafka.json.v2+json",
 "Content-Type: application/vnd.kafka.json.v2+json", ""]
--- error_code eval
[200, 422, 422, 200, 200]
--- response_body_like eval
['"offsets"', '"1 of 1 record does not match',
 '"2 of 3 records do not match', '"offsets"', '^# HELP ']
--- status_samples eval
['nginx_kafka_validation_failures_total{topic="ct-m-reject",mode="reject"} 3',
 'nginx_kafka_validation_failures_total{topic="ct-m-reject",mode="annotate"} 0',
 'nginx_kafka_produce_requests_total{topic="ct-m-reject",status="422"} 2',
 'nginx_kafka_produce_requests_total{topic="ct-m-reject",status="200"} 2']
--- kafka_topic_values eval
{ topic => 'ct-m-reject',
  values => [ '{"id":"ord-1","amount":1}', '{"id":"ord-5","amount":5}',
              '{"id":"ord-6","amount":6}' ] }



=== TEST 25: annotate: every invalid record counts once, raw and in an envelope
--- config
    location = /status { kafka_status; }
    location ~ ^/annotated/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
        kafka_produce_validation annotate;
    }
--- request eval
["POST /annotated/ct-m-annotate\n{\"id\":\"ord-1\",\"amount\":\"12\"}",
 "POST /annotated/ct-m-annotate\n{\"id\":\"ord-2\",\"amount\":2}",
 "POST /annotated/ct-m-annotate\n{\"records\":[{\"value\":{\"id\":\"ord-3\",\"amount\":3}},{\"value\":{\"id\":\"ord-4\"}},{\"value\":{\"id\":5,\"amount\":5}},{\"value\":{\"id\":\"ord-6\",\"amount\":6,\"lines\":[{},{},{},{}]}}]}",
 "GET /status"]
--- more_headers eval
["Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/vnd.kafka.json.v2+json", ""]
--- error_code eval
[200, 200, 200, 200]
--- status_samples eval
['nginx_kafka_validation_failures_total{topic="ct-m-annotate",mode="annotate"} 4',
 'nginx_kafka_validation_failures_total{topic="ct-m-annotate",mode="reject"} 0']
--- kafka_topic_values eval
{ topic => 'ct-m-annotate',
  values => [ '{"id":"ord-1","amount":"12"}', '{"id":"ord-2","amount":2}',
              '{"id":"ord-3","amount":3}', '{"id":"ord-4"}',
              '{"id":5,"amount":5}',
              '{"id":"ord-6","amount":6,"lines":[{},{},{},{}]}' ] }



=== TEST 26: one topic, three modes: a record invalid by key and value counts once, the error cap does not cap the count, off counts nothing
--- config
    location = /status { kafka_status; }
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
        kafka_produce_key_schema $TEST_NGINX_CONTRACTS/key.json;
        kafka_produce_validation_errors 1;
    }
    location ~ ^/annotated/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
        kafka_produce_validation annotate;
    }
    location ~ ^/unchecked/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/order.json;
        kafka_produce_validation off;
    }
--- request eval
["POST /topics/ct-m-modes\n{\"records\":[{\"key\":\"ab\",\"value\":{\"id\":1}},{\"key\":\"abc\",\"value\":{\"id\":\"ord-1\",\"amount\":1}},{\"key\":\"abcd\",\"value\":\"x\"}]}",
 "POST /annotated/ct-m-modes\n{\"records\":[{\"value\":\"AAEC\"},{\"value\":\"eyJpZCI6Im9yZC0xIiwiYW1vdW50IjoxfQ==\"}]}",
 "POST /unchecked/ct-m-modes\nnot json",
 "GET /status"]
--- more_headers eval
["Content-Type: application/vnd.kafka.json.v2+json",
 "Content-Type: application/vnd.kafka.binary.v2+json", "", ""]
--- error_code eval
[422, 200, 200, 200]
--- response_body_like eval
['^\{"error_code":42203,"message":"2 of 3 records do not match the contract of topic \\\\"ct-m-modes\\\\"; nothing was produced","errors":\[\{[^{}]+\}\]\}$',
 '"offsets"', '"offsets"', '^# HELP ']
--- status_samples eval
['nginx_kafka_validation_failures_total{topic="ct-m-modes",mode="reject"} 2',
 'nginx_kafka_validation_failures_total{topic="ct-m-modes",mode="annotate"} 1']
--- kafka_topic_values eval
{ topic => 'ct-m-modes',
  values => [ "\x00\x01\x02", '{"id":"ord-1","amount":1}', 'not json' ] }
