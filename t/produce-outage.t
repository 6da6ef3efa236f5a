# kafka_produce when the broker goes away and comes back: honest 503s
# within kafka_produce_timeout, nothing answered 503 lands in Kafka, and
# requests succeed again without a reload.  (A load of concurrent
# keepalive requests, each 2xx a record in Kafka once: t/fault-broker.t.)
#
# The brokers are taken down and up between a block's requests
# (kafka_control); a client timeout (--- timeout, no --- abort) bounds each
# answer's time.  Before the brokers come back, the block waits for
# librdkafka to have reported every record (the debug log), so that a
# record answered 503 cannot be sent late.  reconnect.backoff.max.ms keeps
# librdkafka's reconnection within a second once they are back.

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Blocks;

master_on();
workers(1);
log_level('debug');
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", <<'_EOC_');
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_property reconnect.backoff.max.ms 1000;
_EOC_

    $block->set_value("config", <<'_EOC_' . ($block->config // ''));
    location /outage {
        kafka_produce outage$arg_t;
        kafka_produce_timeout 3s;
    }
    location /short {
        kafka_produce outage$arg_t;
        kafka_produce_timeout 1s;
    }
_EOC_

    # the outage itself is logged as errors
    $block->set_value("error_log_allowed", [
        qr/\[error\].*kafka producer: .*(?:Disconnected|Connection refused|brokers are down|Connect to)/
    ]);
    $block->set_value("no_error_log", "[alert]\n[crit]");
});

# N delivery reports served (for requests, or for requests gone)
sub reports {
    my $n = shift;
    return qr/(?:kafka_produce: (?:all 1 record\(s\) reported|1 report\(s\) for a gone request)(?s:.*)){$n}/;
}

run_tests();

__DATA__

=== TEST 1: every broker down: 503 within kafka_produce_timeout with a JSON error and Retry-After; nothing answered 503 lands; back without a reload
50003: librdkafka gave up on the record (message.timeout.ms, 1.5 s here)
before kafka_produce_timeout; 50303: the request's timer came first.
--- request eval
[ "POST /outage?t=-all\nbefore",
  (map { "POST /outage?t=-all\nduring $_" } 1 .. 3),
  "POST /outage?t=-all\nafter" ]
--- kafka_control eval
{ 0 => 'down all',
  1 => qr/\[error\].*kafka producer: /,
  3 => [ main::reports(4), 'up all' ] }
--- timeout: 3.5
--- error_code eval
[ 200, 503, 503, 503, 200 ]
--- response_headers_like eval
[ "Content-Type: application/json", ("Retry-After: \\d+") x 3,
  "Content-Type: application/json" ]
--- response_body_like eval
[ '"offset":\d+', ('^\{"error_code":50[03]03,"message":"[^"]+"') x 3,
  '"offset":\d+' ]
--- kafka_topic_values eval
{ topic => 'outage-all', values => [ 'before', 'after' ] }



=== TEST 2: a kafka_produce_timeout shorter than message.timeout.ms gives up first: 503, saying the record may still be written
message.timeout.ms follows the longest kafka_produce_timeout (3s - 1.5s):
Kafka is known to be down, so 503.  The record, answered, is not written
once the brokers are back.
--- request eval
[ "POST /outage?t=-short\nbefore", "POST /short?t=-short\nshort" ]
--- kafka_control eval
{ 0 => 'down all', 1 => [ main::reports(2), 'up all' ] }
--- timeout: 1.5
--- error_code eval
[ 200, 503 ]
--- response_body_like eval
[ '"offset":\d+',
  '^\{"error_code":50303,"message":"Kafka is unavailable[^"]*(?:may|still written)' ]
--- kafka_topic_values eval
{ topic => 'outage-short', values => [ 'before' ] }
