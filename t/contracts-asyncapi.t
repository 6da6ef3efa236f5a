# Contracts from an AsyncAPI document (kafka_asyncapi): 3.0 in YAML (the
# example of examples/), 2.6 in JSON, channels to topics (address, Kafka
# binding), $refs into components and into other files, several messages,
# kafka_asyncapi_strict, and documents refused at start.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use Cwd qw(getcwd);

use lib 't/lib';
use KafkaGateway::Blocks;

my $dir = tempdir(CLEANUP => 1);

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
    print $fh $text;
    close $fh;
}

mkdir "$dir/schemas" or die "$dir/schemas: $!";

copy(getcwd() . '/examples/orders.asyncapi.yaml', "$dir/orders.yaml")
    or die "examples/orders.asyncapi.yaml: $!";

write_file('more.yaml', <<'_EOY_');
asyncapi: 3.0.0
info: { title: More, version: '1' }
channels:
  payments:
    address: payments
    messages:
      paid:
        payload:
          $ref: 'schemas/payment.json'
  refunds:
    address: refunds
    messages:
      refund:
        $ref: 'messages.yaml#/Refund'
  audit:
    address: audit-log
    bindings:
      kafka:
        topic: audit.v1
    messages:
      entry:
        payload:
          type: object
          required: [who]
_EOY_

write_file('schemas/payment.json', <<'_EOS_');
{
  "type": "object",
  "required": ["order", "paid"],
  "properties": {
    "order": { "$ref": "#/$defs/orderId" },
    "paid": { "type": "boolean" }
  },
  "$defs": { "orderId": { "type": "string", "pattern": "^ord-" } }
}
_EOS_

write_file('messages.yaml', <<'_EOY_');
Refund:
  name: Refund
  payload:
    type: object
    required: [order, reason]
    properties:
      reason: { type: string, maxLength: 10 }
_EOY_

write_file('legacy.json', <<'_EOJ_');
{
  "asyncapi": "2.6.0",
  "info": { "title": "Legacy", "version": "1" },
  "channels": {
    "legacy-events": {
      "publish": {
        "message": {
          "oneOf": [
            { "$ref": "#/components/messages/Created" },
            { "$ref": "#/components/messages/Deleted" }
          ]
        }
      }
    }
  },
  "components": {
    "messages": {
      "Created": {
        "name": "Created",
        "payload": {
          "type": "object",
          "required": ["created"],
          "properties": { "created": { "type": "integer" } }
        }
      },
      "Deleted": {
        "name": "Deleted",
        "payload": {
          "type": "object",
          "required": ["deleted"],
          "properties": { "deleted": { "type": "integer" } }
        }
      }
    }
  }
}
_EOJ_

write_file('bad-yaml.yaml', "asyncapi: 3.0.0\nchannels:\n  orders: [\n");
write_file('bad-version.yaml', "asyncapi: 1.2.0\nchannels: {}\n");
write_file('bad-schema.yaml', <<'_EOY_');
asyncapi: 3.0.0
channels:
  orders:
    address: orders
    messages:
      m:
        payload:
          properties:
            id: { type: text }
_EOY_
write_file('bad-ref.yaml', <<'_EOY_');
asyncapi: 3.0.0
channels:
  orders:
    address: orders
    messages:
      m:
        $ref: 'nowhere.yaml#/M'
_EOY_

$ENV{TEST_NGINX_CONTRACTS} = $dir;

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
    kafka_asyncapi $TEST_NGINX_CONTRACTS/orders.yaml;

    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }

    location ~ ^/strict/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_asyncapi_strict on;
    }
_EOC_
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: AsyncAPI 3.0 in YAML: a record matching the orders channel's message
--- request
POST /topics/orders
{"id":"ord-7","customer":"alice","amount":30,"currency":"EUR","shipping":{"country":"FR"}}
--- error_code: 200
--- kafka_topic: orders
--- kafka_records eval
[ { key => undef, value => '{"id":"ord-7","customer":"alice","amount":30,"currency":"EUR","shipping":{"country":"FR"}}' } ]



=== TEST 2: AsyncAPI 3.0: $refs into components apply, nothing produced
--- request
POST /topics/orders
{"records":[{"value":{"id":"ord-8","customer":"bob","amount":0,"currency":"EUR","shipping":{"country":"france"},"note":"x"}}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42203,"message":"1 of 1 record does not match the contract of topic \"orders\"; nothing was produced","errors":[{"field":"value","pointer":"/amount","keyword":"exclusiveMinimum","message":"must be > 0","record":0},{"field":"value","pointer":"/shipping/country","keyword":"pattern","message":"must match the pattern \"^[A-Z]{2}$\"","record":0},{"field":"value","pointer":"/note","keyword":"additionalProperties","message":"property \"note\" is not allowed","record":0}]}
--- kafka_topic_count: orders 1



=== TEST 3: a payload $ref into a second file, with its own "#/$defs" refs
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/more.yaml;

    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }
--- request
POST /topics/payments
{"records":[{"value":{"order":"ord-1","paid":true}},{"value":{"order":"x-1","paid":"yes"}}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 422
--- response_body chomp
{"error_code":42203,"message":"1 of 2 records do not match the contract of topic \"payments\"; nothing was produced","errors":[{"field":"value","pointer":"/order","keyword":"pattern","message":"must match the pattern \"^ord-\"","record":1},{"field":"value","pointer":"/paid","keyword":"type","message":"must be boolean, not string","record":1}]}
--- kafka_topic_count: payments 0



=== TEST 4: a message $ref into another YAML file
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/more.yaml;

    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }
--- request
POST /topics/refunds
{"order":"ord-1","reason":"damaged on arrival"}
--- error_code: 422
--- response_body_like: "pointer":"/reason","keyword":"maxLength","message":"must be at most 10 characters long"
--- kafka_topic_count: refunds 0



=== TEST 5: a Kafka channel binding's topic names the topic
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/more.yaml;

    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }
--- pipelined_requests eval
["POST /topics/audit.v1\n{\"what\":1}",
 "POST /topics/audit.v1\n{\"who\":\"ops\"}"]
--- error_code eval
[422, 200]
--- response_body_like eval
['"keyword":"required","message":"required property \\\\"who\\\\" is missing"',
 '^\{"offsets":\[\{"partition":\d+,"offset":\d+,']
--- kafka_topic_count: audit.v1 1



=== TEST 6: without strict mode, a topic the document does not declare is not checked
--- request
POST /topics/ct-undeclared
not json at all
--- error_code: 200
--- kafka_topic: ct-undeclared
--- kafka_records eval
[ { key => undef, value => "not json at all" } ]



=== TEST 7: kafka_asyncapi_strict: an undeclared topic is 404 40401
--- request
POST /strict/ct-strict-undeclared
{"id":"ord-1"}
--- error_code: 404
--- response_body chomp
{"error_code":40401,"message":"topic \"ct-strict-undeclared\" is not declared by the AsyncAPI document"}
--- kafka_topic_count: ct-strict-undeclared 0



=== TEST 8: kafka_asyncapi_strict: a declared topic still validates and produces
--- request
POST /strict/orders
{"id":"ord-9","customer":"carol","amount":5,"currency":"GBP"}
--- error_code: 200
--- kafka_topic_count: orders 2



=== TEST 9: kafka_produce_schema overrides the document's payload
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/orders.yaml;

    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CONTRACTS/schemas/payment.json;
    }
--- request
POST /topics/orders
{"id":"ord-10","customer":"dan","amount":5,"currency":"EUR"}
--- error_code: 422
--- response_body_like: "keyword":"required","message":"required property \\"order\\" is missing"
--- kafka_topic_count: orders 2



=== TEST 10: AsyncAPI 2.6 in JSON: several messages, any may match
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/legacy.json;

    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }
--- request
POST /topics/legacy-events
{"records":[{"value":{"created":1}},{"value":{"deleted":2}}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- error_code: 200
--- kafka_topic: legacy-events
--- kafka_records eval
[ { key => undef, value => '{"created":1}' },
  { key => undef, value => '{"deleted":2}' } ]



=== TEST 11: AsyncAPI 2.6: a record matching no message gets each message's violations
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/legacy.json;

    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
    }
--- request
POST /topics/legacy-events
{"updated":3}
--- error_code: 422
--- response_body chomp
{"error_code":42203,"message":"1 of 1 record does not match the contract of topic \"legacy-events\"; nothing was produced","errors":[{"field":"value","pointer":"","keyword":"required","message":"Created: required property \"created\" is missing","record":0},{"field":"value","pointer":"","keyword":"required","message":"Deleted: required property \"deleted\" is missing","record":0}]}
--- kafka_topic_count: legacy-events 2



=== TEST 12: annotate with the document's schema
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/orders.yaml;

    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_validation annotate;
    }
--- request
POST /topics/orders
{"id":"ord-11","customer":"eve","amount":1,"currency":"JPY"}
--- error_code: 200
--- kafka_topic: orders
--- kafka_records eval
[ { key => undef, value => '{"id":"ord-11","customer":"eve","amount":1,"currency":"JPY"}',
    headers => { "kafka-gateway-validation-errors" => '{"errors":[{"field":"value","pointer":"/currency","keyword":"enum","message":"must be one of the 3 allowed values"}]}' } } ]



=== TEST 13: malformed YAML fails at start with its line and column
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/bad-yaml.yaml;
--- must_die
--- error_log
bad-yaml.yaml
: line 4, column 1: did not find expected node content while parsing a flow node



=== TEST 14: an AsyncAPI version other than 3.x or 2.x fails at start
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/bad-version.yaml;
--- must_die
--- error_log
bad-version.yaml
: /asyncapi: version "1.2.0" is not supported, expected an AsyncAPI 3.x or 2.x document



=== TEST 15: an invalid payload schema fails at start naming its place
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/bad-schema.yaml;
--- must_die
--- error_log
bad-schema.yaml
: /channels/orders/messages/m/payload: invalid schema at /properties/id/type: unknown type



=== TEST 16: a $ref to a missing file fails at start
--- config
    kafka_asyncapi $TEST_NGINX_CONTRACTS/bad-ref.yaml;
--- must_die
--- error_log
bad-ref.yaml
: /channels/orders/messages/m: $ref
nowhere.yaml": cannot open: No such file or directory
