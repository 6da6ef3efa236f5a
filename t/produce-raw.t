# kafka_produce with a raw body: the body is one record value; key,
# headers and partition come from the directives.  Every block that
# produces checks what landed in Kafka.

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

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: a text body becomes one record with key and headers
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_key $arg_key;
        kafka_produce_header x-client $remote_addr;
        kafka_produce_header x-static "fixed value";
    }
--- request
POST /topics/raw-text?key=k1
hello world
--- more_headers
Content-Type: text/plain
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"offsets":\[\{"partition":\d,"offset":\d+,"error_code":null,"error":null\}\],"key_schema_id":null,"value_schema_id":null\}$
--- kafka_topic: raw-text
--- kafka_records eval
[ { key => "k1", value => "hello world",
    headers => { "x-client" => "127.0.0.1", "x-static" => "fixed value" } } ]



=== TEST 2: binary bytes are produced exactly, no key when the key is empty
--- config
    location /p {
        kafka_produce raw-binary;
        kafka_produce_key $arg_key;
    }
--- request eval
"POST /p\n\x00\x01\x02\xff\xfe\r\n\x00end"
--- more_headers
Content-Type: application/octet-stream
--- error_code: 200
--- kafka_topic: raw-binary
--- kafka_records eval
[ { key => undef, value => "\x00\x01\x02\xff\xfe\r\n\x00end", headers => {} } ]



=== TEST 3: an empty body is an empty value, not a null one
--- config
    location /p {
        kafka_produce raw-empty;
    }
--- request
POST /p
--- error_code: 200
--- kafka_topic: raw-empty
--- kafka_records eval
[ { key => undef, value => "" } ]



=== TEST 4: kafka_produce_partition picks the partition
--- config
    location /p {
        kafka_produce raw-partition;
        kafka_produce_partition $arg_p;
    }
--- request
POST /p?p=2
one
--- error_code: 200
--- response_body_like: "partition":2,
--- kafka_topic: raw-partition
--- kafka_records eval
[ { key => undef, value => "one", partition => 2 } ]



=== TEST 5: an invalid partition value is 400 and produces nothing
--- config
    location /p {
        kafka_produce raw-badpart;
        kafka_produce_partition $arg_p;
    }
--- request
POST /p?p=abc
one
--- error_code: 400
--- response_body chomp
{"error_code":40002,"message":"invalid partition \"abc\""}
--- kafka_topic_count: raw-badpart 0



=== TEST 6: an invalid topic name from the URI is 400 and never reaches Kafka
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }
--- request
POST /topics/bad%24name
x
--- error_code: 400
--- response_body_like: ^\{"error_code":40001,"message":"invalid topic name \\"bad\$name\\"
--- response_headers
Content-Type: application/json



=== TEST 7: a topic longer than 249 characters is refused
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }
--- request eval
"POST /topics/" . ("a" x 250) . "\nx"
--- error_code: 400
--- response_body_like: "error_code":40001



=== TEST 8: GET is 405 with Allow and a JSON body
--- config
    location /p {
        kafka_produce raw-get;
    }
--- request
GET /p
--- error_code: 405
--- response_headers
Allow: POST, PUT, DELETE
Content-Type: application/json
--- response_body chomp
{"error_code":40501,"message":"method GET is not allowed, use POST, PUT or DELETE"}
--- kafka_topic_count: raw-get 0



=== TEST 9: PUT works like POST
--- config
    location /p {
        kafka_produce raw-put;
    }
--- request
PUT /p
put body
--- error_code: 200
--- kafka_topic: raw-put
--- kafka_records eval
[ { key => undef, value => "put body" } ]



=== TEST 10: the $kafka_* variables describe the written record
--- config
    location /p {
        kafka_produce raw-vars;
        kafka_produce_partition 1;
        add_header X-Kafka "$kafka_topic/$kafka_partition/$kafka_offset/[$kafka_error]";
    }
--- request
POST /p
v
--- error_code: 200
--- response_headers_like
X-Kafka: ^raw-vars/1/\d+/\[\]$
--- kafka_topic: raw-vars
--- kafka_records eval
[ { key => undef, value => "v", partition => 1 } ]



=== TEST 11: a 900 KB body buffered to a temporary file is produced whole
--- config
    client_body_buffer_size 8k;
    location /p {
        kafka_produce raw-big;
    }
--- request eval
"POST /p\n" . CORE::join("", map { sprintf("%08d|", $_) } 1 .. 100000)
--- error_code: 200
--- kafka_topic: raw-big
--- kafka_records eval
[ { key => undef, value => CORE::join("", map { sprintf("%08d|", $_) } 1 .. 100000) } ]



=== TEST 12: a body over librdkafka's message.max.bytes is 413, nothing produced
--- config
    location /p {
        client_max_body_size 4m;
        kafka_produce raw-toolarge;
    }
--- request eval
"POST /p\n" . ("z" x 1_500_000)
--- error_code: 413
--- response_body_like: ^\{"error_code":41301,"message":"[^"]+","offsets":\[\{"partition":null,"offset":null,"error_code":1,"error":"[^"]+"\}\]
--- kafka_topic_count: raw-toolarge 0



=== TEST 13: a body over client_max_body_size is a JSON 413 via error_page
--- config
    location /p {
        client_max_body_size 10;
        kafka_produce raw-maxbody;
        error_page 413 = @too_large;
    }
    location @too_large {
        default_type application/json;
        return 413 '{"error_code":41301,"message":"request body too large"}';
    }
--- request
POST /p
this body is longer than ten bytes
--- error_code: 413
--- response_body chomp
{"error_code":41301,"message":"request body too large"}
--- kafka_topic_count: raw-maxbody 0
--- no_error_log
[alert]
[crit]



=== TEST 14: kafka_produce_ack off answers 202 and the record still lands
--- config
    location /p {
        kafka_produce raw-noack;
        kafka_produce_ack off;
    }
--- request
POST /p
fire and forget
--- error_code: 202
--- response_body chomp
{"offsets":[{"partition":null,"offset":null,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}
--- kafka_topic_count: raw-noack 1



=== TEST 15: mirror copies a request of another location into Kafka
--- config
    location /api {
        mirror /_audit;
        mirror_request_body on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location /backend {
        return 200 "api answered\n";
    }
    location = /_audit {
        internal;
        kafka_produce raw-mirror;
        kafka_produce_header x-uri $request_uri;
    }
--- request
POST /api/orders?id=7
{"order":7}
--- error_code: 200
--- response_body
api answered
--- kafka_topic_count: raw-mirror 1



=== TEST 16: keepalive: several requests on one connection each get their record
--- config
    location /p {
        kafka_produce raw-keepalive;
        kafka_produce_key $arg_k;
    }
--- pipelined_requests eval
["POST /p?k=a\nfirst", "POST /p?k=b\nsecond", "POST /p?k=c\nthird"]
--- error_code eval
[200, 200, 200]
--- kafka_topic_count: raw-keepalive 3



=== TEST 17: a chunked body arriving in several pieces is one record, bytes in order
--- config
    location /p {
        kafka_produce raw-chunked;
    }
--- raw_request eval
[ "POST /p HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
  . "Transfer-Encoding: chunked\r\n\r\n",
  "5\r\nfirst\r\n",
  "7\r\n-second\r\n",
  "1\r\n-\r\n6\r\nthird\n\r\n",
  "0\r\n\r\n" ]
--- error_code: 200
--- kafka_topic: raw-chunked
--- kafka_records eval
[ { key => undef, value => "first-second-third\n" } ]



=== TEST 18: an empty body with Content-Length: 0 is an empty value, not a tombstone
--- config
    location /p {
        kafka_produce raw-empty-cl;
    }
--- raw_request eval
"POST /p HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. "Content-Length: 0\r\n\r\n"
--- error_code: 200
--- kafka_topic: raw-empty-cl
--- kafka_records eval
[ { key => undef, value => "" } ]



=== TEST 19: an empty chunked body is an empty value, not a tombstone
--- config
    location /p {
        kafka_produce raw-empty-chunked;
    }
--- raw_request eval
"POST /p HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
--- error_code: 200
--- kafka_topic: raw-empty-chunked
--- kafka_records eval
[ { key => undef, value => "" } ]



=== TEST 20: DELETE produces a tombstone (null value) for the key
--- config
    location ~ ^/items/(?<id>[^/]+)$ {
        kafka_produce raw-tombstone;
        kafka_produce_key $id;
    }
--- request
DELETE /items/order-42
--- error_code: 200
--- response_body_like: ^\{"offsets":\[\{"partition":\d,"offset":\d+,"error_code":null,"error":null\}\],"key_schema_id":null,"value_schema_id":null\}$
--- kafka_topic: raw-tombstone
--- kafka_records eval
[ { key => "order-42", value => undef } ]



=== TEST 21: DELETE without a key is 400 40003 and produces nothing
--- config
    location /p {
        kafka_produce raw-tombstone-nokey;
        kafka_produce_key $arg_key;
    }
--- request
DELETE /p
--- error_code: 400
--- response_body chomp
{"error_code":40003,"message":"DELETE produces a tombstone for a key, and kafka_produce_key is empty"}
--- kafka_topic_count: raw-tombstone-nokey 0



=== TEST 22: DELETE ignores a body, the record is still a tombstone
--- config
    location /p {
        kafka_produce raw-tombstone-body;
        kafka_produce_key $arg_key;
    }
--- request
DELETE /p?key=k9
this body is not produced
--- error_code: 200
--- kafka_topic: raw-tombstone-body
--- kafka_records eval
[ { key => "k9", value => undef } ]



=== TEST 23: other methods are 405 and Allow lists POST, PUT and DELETE
--- config
    location /p {
        kafka_produce raw-405;
    }
--- request
PATCH /p
x
--- error_code: 405
--- response_headers
Allow: POST, PUT, DELETE
--- response_body chomp
{"error_code":40501,"message":"method PATCH is not allowed, use POST, PUT or DELETE"}
--- kafka_topic_count: raw-405 0



=== TEST 24: a header whose value is empty is left out of the record
--- config
    location /p {
        kafka_produce raw-emptyheader;
        kafka_produce_header x-trace $http_x_trace;
        kafka_produce_header x-present $http_x_present;
    }
--- request
POST /p
v
--- more_headers
X-Present: yes
--- error_code: 200
--- kafka_topic: raw-emptyheader
--- kafka_records eval
[ { key => undef, value => "v", headers => { "x-present" => "yes" } } ]



=== TEST 25: an internal topic from the URI is 400 40001 and never reaches Kafka
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }
--- request
POST /topics/__consumer_offsets
x
--- error_code: 400
--- response_body chomp
{"error_code":40001,"message":"topic \"__consumer_offsets\" is internal to Kafka"}
--- kafka_topic_count: __consumer_offsets 0



=== TEST 26: kafka_internal_topics on lets a location produce to "__" topics
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_internal_topics on;
        kafka_produce $topic;
    }
--- request
POST /topics/__raw-internal
x
--- error_code: 200
--- kafka_topic: __raw-internal
--- kafka_records eval
[ { key => undef, value => "x" } ]



=== TEST 27: a topic named literally in the configuration is the admin's choice
--- config
    location /p {
        kafka_produce __raw-literal;
    }
--- request
POST /p
y
--- error_code: 200
--- kafka_topic: __raw-literal
--- kafka_records eval
[ { key => undef, value => "y" } ]



=== TEST 28: a UTF-8 topic name is quoted as UTF-8 in the error, not byte by byte
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }
--- request eval
"POST /topics/\xc3\xa9t\xc3\xa9\nx"
--- error_code: 400
--- response_body eval
qq|{"error_code":40001,"message":"invalid topic name \\"\xc3\xa9t\xc3\xa9\\": 1 to 249 characters of a-z, A-Z, 0-9, \\".\\", \\"_\\", \\"-\\""}|



=== TEST 29: invalid UTF-8 in the topic becomes U+FFFD in the error, control bytes are escaped
--- config
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }
--- request eval
"POST /topics/a%C3b%0D%0A%7F%F0%9F%98%80\nx"
--- error_code: 400
--- response_body eval
qq|{"error_code":40001,"message":"invalid topic name \\"a\\ufffdb\\r\\n\\u007f\xf0\x9f\x98\x80\\": 1 to 249 characters of a-z, A-Z, 0-9, \\".\\", \\"_\\", \\"-\\""}|
