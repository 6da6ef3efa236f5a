# kafka_produce with Confluent REST Proxy v2 envelopes (json and binary
# embedded formats): the response shape, what lands in Kafka, and that a
# bad envelope produces nothing at all.

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Blocks;

master_on();
workers(1);
log_level('info');
no_shuffle();

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
        kafka_produce_header x-request-id $request_id;
    }
_EOC_
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

# A binary envelope: a small record, then one whose value has $size bytes.
sub envelope {
    my ($topic, $size) = @_;
    require MIME::Base64;
    return "POST /topics/$topic\n"
        . '{"records":[{"value":"c21hbGw="},{"value":"'
        . MIME::Base64::encode_base64("z" x $size, "") . '"}]}';
}

run_tests();

__DATA__

=== TEST 1: the README's curl example: json envelope, real offsets, REST shape
--- request
POST /topics/sales
{"records":[{"key":"alice","value":{"tickets":5}},{"key":"bob","value":{"tickets":10}}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 200
--- response_headers
Content-Type: application/vnd.kafka.v2+json
--- response_body_like: ^\{"offsets":\[\{"partition":\d,"offset":\d+,"error_code":null,"error":null\},\{"partition":\d,"offset":\d+,"error_code":null,"error":null\}\],"key_schema_id":null,"value_schema_id":null\}$
--- kafka_topic: sales
--- kafka_records eval
[ { key => '"alice"', value => '{"tickets":5}',
    headers => { "x-request-id" => qr/^[0-9a-f]{32}$/ } },
  { key => '"bob"', value => '{"tickets":10}',
    headers => { "x-request-id" => qr/^[0-9a-f]{32}$/ } } ]



=== TEST 2: json values of every JSON type, null key, null value, partitions
--- request
POST /topics/rest-json-types
{"records":[{"value":"text"},{"value":42,"partition":3},{"key":[1,"a"],"value":null},{"key":{"k":true},"value":[1.5,"x\u0000y"]}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json; charset=utf-8
--- error_code: 200
--- kafka_topic: rest-json-types
--- kafka_records eval
[ { key => undef, value => '"text"' },
  { key => undef, value => '42', partition => 3 },
  { key => '[1,"a"]', value => undef },
  { key => '{"k":true}', value => '[1.5,"x\\u0000y"]' } ]



=== TEST 3: binary envelope: base64 keys and values are produced as bytes
--- request
POST /topics/rest-binary
{"records":[{"key":"YWxpY2U=","value":"AAECA//+"},{"value":""},{"key":null,"value":"aGVsbG8=","partition":0}]}
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 200
--- response_headers
Content-Type: application/vnd.kafka.v2+json
--- kafka_topic: rest-binary
--- kafka_records eval
[ { key => "alice", value => "\x00\x01\x02\x03\xff\xfe" },
  { key => undef, value => "" },
  { key => undef, value => "hello", partition => 0 } ]



=== TEST 4: invalid base64 in a later record: 422 naming it, nothing produced
--- request
POST /topics/rest-badb64
{"records":[{"key":"YWxpY2U=","value":"AAECAw=="},{"value":"!!!!"}]}
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42201,"message":"records[1].value: invalid base64"}
--- kafka_topic_count: rest-badb64 0



=== TEST 5: a non-string binary key is 422
--- request
POST /topics/rest-badkey
{"records":[{"key":12,"value":"AA=="}]}
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42201,"message":"records[0].key: must be a base64 string or null"}
--- kafka_topic_count: rest-badkey 0



=== TEST 6: malformed JSON is 422 with the position
--- request
POST /topics/rest-malformed
{"records":[{"value":1},
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body_like: ^\{"error_code":42201,"message":"invalid JSON at line 1, column \d+: [^"]+"\}$
--- kafka_topic_count: rest-malformed 0



=== TEST 7: missing records
--- request
POST /topics/rest-norecords
{"record":[{"value":1}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42201,"message":"records: must be a non-empty array"}



=== TEST 8: empty records
--- request
POST /topics/rest-empty
{"records":[]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42201,"message":"records: must be a non-empty array"}



=== TEST 9: the body is not an object
--- request
POST /topics/rest-array
[{"value":1}]
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42201,"message":"the request body must be a JSON object"}



=== TEST 10: a record that is not an object, after a good one: nothing produced
--- request
POST /topics/rest-notobject
{"records":[{"value":1},"oops"]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42201,"message":"records[1]: must be an object"}
--- kafka_topic_count: rest-notobject 0



=== TEST 11: an unknown field (a typo) is refused rather than producing null
--- request
POST /topics/rest-typo
{"records":[{"value":1},{"valeu":2}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42201,"message":"records[1].valeu: unknown field, expected \"key\", \"value\" or \"partition\""}
--- kafka_topic_count: rest-typo 0



=== TEST 12: a negative or non-integer partition
--- request eval
[ "POST /topics/rest-badpart\n" . '{"records":[{"value":1,"partition":-1}]}',
  "POST /topics/rest-badpart\n" . '{"records":[{"value":1,"partition":"2"}]}',
  "POST /topics/rest-badpart\n" . '{"records":[{"value":1,"partition":1.5}]}' ]
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code eval
[422, 422, 422]
--- response_body eval
[ qq({"error_code":42201,"message":"records[0].partition: must be a non-negative integer"}),
  qq({"error_code":42201,"message":"records[0].partition: must be a non-negative integer"}),
  qq({"error_code":42201,"message":"records[0].partition: must be a non-negative integer"}) ]
--- kafka_topic_count: rest-badpart 0



=== TEST 13: schema fields need a schema registry: 422 42202
--- request
POST /topics/rest-schema
{"value_schema":"{\"type\":\"string\"}","records":[{"value":"a"}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body_like: ^\{"error_code":42202,
--- kafka_topic_count: rest-schema 0



=== TEST 14: avro needs a schema registry: 415, nothing produced
--- request
POST /topics/rest-avro
{"records":[{"value":1}]}
--- more_headers
Content-Type: application/vnd.kafka.avro.v2+json
--- error_code: 415
--- response_body_like: ^\{"error_code":41501,"message":"unsupported content type \\"application/vnd\.kafka\.avro\.v2\+json\\"
--- kafka_topic_count: rest-avro 0



=== TEST 15: protobuf too
--- request
POST /topics/rest-protobuf
{"records":[{"value":1}]}
--- more_headers
Content-Type: application/vnd.kafka.protobuf.v2+json
--- error_code: 415
--- response_body_like: ^\{"error_code":41501,
--- kafka_topic_count: rest-protobuf 0



=== TEST 16: application/json is a raw body, not an envelope
--- request
POST /topics/rest-plainjson
{"records":[{"value":1}]}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- response_headers
Content-Type: application/json
--- kafka_topic: rest-plainjson
--- kafka_records eval
[ { key => undef, value => '{"records":[{"value":1}]}' } ]



=== TEST 17: a partition that does not exist is 404 40402
--- request
POST /topics/rest-nopart
{"records":[{"value":1,"partition":99}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 404
--- response_body_like: ^\{"error_code":40402,"message":"[^"]+","offsets":\[\{"partition":null,"offset":null,"error_code":1,"error":"[^"]+"\}\]
--- kafka_topic_count: rest-nopart 0



=== TEST 18: an envelope split mid-token across chunked pieces is parsed whole
--- raw_request eval
my @p = ('{"records":[{"key":"k","va', 'lue":{"n":', '1}},{"value":"tw', 'o"}]}');
[ "POST /topics/rest-split HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
  . "Content-Type: application/vnd.kafka.json.v2+json\r\n"
  . "Transfer-Encoding: chunked\r\n\r\n",
  (map { sprintf("%x\r\n%s\r\n", length $_, $_) } @p),
  "0\r\n\r\n" ]
--- error_code: 200
--- response_body_like: ^\{"offsets":\[\{"partition":\d,"offset":\d+,"error_code":null,"error":null\},\{"partition":\d,"offset":\d+,"error_code":null,"error":null\}\]
--- kafka_topic: rest-split
--- kafka_records eval
[ { key => '"k"', value => '{"n":1}' }, { key => undef, value => '"two"' } ]



=== TEST 19: json strings are written back as jansson writes them: escapes, UTF-8, long values
--- request eval
my $long = 'x' x 300;
"POST /topics/rest-escapes\n"
. '{"records":['
. '{"value":"say \"hi\"\nbye\\\\"},'
. '{"key":"caf\u00e9","value":"tab\there"},'
. '{"value":{"a":"' . $long . '","b":[true,false,null]}},'
. '{"value":"' . ('\u0001' x 50) . '"},'
. '{"value":" \/ plain "}'
. ']}'
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 200
--- kafka_topic: rest-escapes
--- kafka_records eval
[ { key => undef, value => '"say \"hi\"\nbye\\\\"' },
  { key => "\"caf\xc3\xa9\"", value => '"tab\there"' },
  { key => undef, value => '{"a":"' . ('x' x 300) . '","b":[true,false,null]}' },
  { key => undef, value => '"' . ('\u0001' x 50) . '"' },
  { key => undef, value => '" / plain "' } ]



=== TEST 20: base64 with more after its padding is 422, nothing produced
ngx_decode_base64() stops at the first "=", so "QQ==!!!!" was taken as "A".
--- request
POST /topics/rest-b64-trail
{"records":[{"value":"QQ=="},{"value":"QQ==!!!!"}]}
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42201,"message":"records[1].value: invalid base64"}
--- kafka_topic_count: rest-b64-trail 0



=== TEST 21: an "=" that does not end the string is 422
--- request
POST /topics/rest-b64-mid
{"records":[{"key":"QQ=A","value":"QUI="}]}
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42201,"message":"records[0].key: invalid base64"}
--- kafka_topic_count: rest-b64-mid 0



=== TEST 22: a record over message.max.bytes after a good one: 413, nothing produced
librdkafka refused it only after the first record was queued, which was then
written although the envelope was answered 413.
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        client_max_body_size 4m;
        kafka_produce $topic;
    }
--- request eval
"POST /topics/rest-toolarge\n"
. '{"records":[{"value":"small"},{"value":"' . ("z" x 1_100_000) . '"}]}'
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 413
--- response_body_like: ^\{"error_code":41301,"message":"records\[1\]: 1100038 bytes with key, headers and record overhead, over the producer's message.max.bytes \(1000000\); nothing was produced"\}$
--- kafka_topic_count: rest-toolarge 0



=== TEST 23: an empty envelope body says so
--- request
POST /topics/rest-emptybody
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42201,"message":"empty body: expected a JSON object with \"records\""}
--- kafka_topic_count: rest-emptybody 0



=== TEST 24: no headers, exactly message.max.bytes as librdkafka counts it: both records produced
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        client_max_body_size 4m;
        kafka_produce $topic;
    }
--- request eval
main::envelope("rest-max-fit", 999964)
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 200
--- kafka_topic: rest-max-fit
--- kafka_records eval
[ { key => undef, value => "small" },
  { key => undef, value => "z" x 999964 } ]



=== TEST 25: no headers, one byte over: 413, nothing produced
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        client_max_body_size 4m;
        kafka_produce $topic;
    }
--- request eval
main::envelope("rest-max-over", 999965)
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 413
--- response_body_like: ^\{"error_code":41301,"message":"records\[1\]: 1000001 bytes with key, headers and record overhead, over the producer's message.max.bytes \(1000000\); nothing was produced"\}$
--- kafka_topic_count: rest-max-over 0



=== TEST 26: with kafka_produce_header, exactly at the limit: both records produced
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        client_max_body_size 4m;
        kafka_produce $topic;
        kafka_produce_header x-request-id $request_id;
    }
--- request eval
main::envelope("rest-maxh-fit", 999918)
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 200
--- kafka_topic: rest-maxh-fit
--- kafka_records eval
[ { key => undef, value => "small", headers => { "x-request-id" => qr/^[0-9a-f]{32}$/ } },
  { key => undef, value => "z" x 999918, headers => { "x-request-id" => qr/^[0-9a-f]{32}$/ } } ]



=== TEST 27: with kafka_produce_header, one byte over: 413, nothing produced
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        client_max_body_size 4m;
        kafka_produce $topic;
        kafka_produce_header x-request-id $request_id;
    }
--- request eval
main::envelope("rest-maxh-over", 999919)
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 413
--- response_body_like: ^\{"error_code":41301,"message":"records\[1\]: 1000001 bytes with key, headers and record overhead, over the producer's message.max.bytes \(1000000\); nothing was produced"\}$
--- kafka_topic_count: rest-maxh-over 0



=== TEST 28: with a key and a header, one byte over: 413, nothing produced
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        client_max_body_size 4m;
        kafka_produce $topic;
        kafka_produce_key $arg_key;
        kafka_produce_header x-request-id $request_id;
    }
--- request eval
my $r = main::envelope("rest-maxkh-over", 999914); $r =~ s{^(POST \S+)}{$1?key=kkkkk}; $r
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 413
--- response_body_like: ^\{"error_code":41301,"message":"records\[1\]: 1000001 bytes with key, headers and record overhead, over the producer's message.max.bytes \(1000000\); nothing was produced"\}$
--- kafka_topic_count: rest-maxkh-over 0



=== TEST 29: with a key and a header, exactly at the limit: both records produced
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        client_max_body_size 4m;
        kafka_produce $topic;
        kafka_produce_key $arg_key;
        kafka_produce_header x-request-id $request_id;
    }
--- request eval
my $r = main::envelope("rest-maxkh-fit", 999913); $r =~ s{^(POST \S+)}{$1?key=kkkkk}; $r
--- more_headers
Content-Type: application/vnd.kafka.binary.v2+json
--- error_code: 200
--- kafka_topic: rest-maxkh-fit
--- kafka_records eval
[ { key => "kkkkk", value => "small", headers => { "x-request-id" => qr/^[0-9a-f]{32}$/ } },
  { key => "kkkkk", value => "z" x 999913, headers => { "x-request-id" => qr/^[0-9a-f]{32}$/ } } ]
