# Requests that end before Kafka answers: the client goes away, or
# kafka_produce_timeout fires.  The broker is slowed down with the dev
# broker's "rtt" command; the last block restores it.  Run these under
# TEST_NGINX_USE_VALGRIND=1 (make test-valgrind) to see that a delivery
# report for a gone request touches no freed memory.

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Blocks;
use KafkaGateway::Test ();
use KafkaGateway::Features qw(nginx_lacks);

master_on();
workers(1);
log_level('debug');
no_shuffle();

sub broker_rtt {
    my $ms = shift;
    KafkaGateway::Test::shared_broker()->control("rtt all $ms");
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
                          "kafka_brokers \$TEST_NGINX_KAFKA_BROKERS;");
    }
});

END { eval { broker_rtt(0) } }

# the blocks that see a report dropped read it in the debug log
if (my $why = nginx_lacks('debug')) {
    Test::More::diag("$why: the blocks reading debug lines are skipped");
}

run_tests();

__DATA__

=== TEST 1: the client closes before the acknowledgement: no error, the report is dropped safely
--- skip_eval: 5: KafkaGateway::Features::nginx_lacks('debug')
--- init
main::broker_rtt(1000);
--- config
    location /p {
        kafka_produce abort-raw;
    }
--- request
POST /p
gone before the ack
--- timeout: 0.3
--- abort
--- ignore_response
--- wait: 6
--- kafka_topic_count: abort-raw 1
--- error_log
client prematurely closed connection
kafka_produce: 1 report(s) for a gone request
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: the same with an envelope of three records
--- skip_eval: 5: KafkaGateway::Features::nginx_lacks('debug')
--- init
main::broker_rtt(1000);
--- config
    location /p {
        kafka_produce abort-rest;
    }
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- request
POST /p
{"records":[{"value":1},{"value":2},{"value":3}]}
--- timeout: 0.3
--- abort
--- ignore_response
--- wait: 6
--- kafka_topic_count: abort-rest 3
--- error_log
client prematurely closed connection
kafka_produce: 3 report(s) for a gone request
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: kafka_produce_timeout fires first: 504, and the late report is dropped safely
--- skip_eval: 7: KafkaGateway::Features::nginx_lacks('debug')
--- init
main::broker_rtt(1000);
--- config
    location /p {
        kafka_produce abort-timeout;
        kafka_produce_timeout 1s;
    }
    # message.timeout.ms follows the longest timeout (9s): librdkafka
    # keeps the record after /p's own timer fired
    location /other {
        kafka_produce abort-other;
        kafka_produce_timeout 10s;
    }
--- request
POST /p
late
--- error_code: 504
--- response_body_like: ^\{"error_code":50401,"message":"no acknowledgement from Kafka within kafka_produce_timeout[^"]*","offsets":\[\{"partition":null,"offset":null,"error_code":2,"error":"no acknowledgement within kafka_produce_timeout"\}\]
--- wait: 6
--- kafka_topic_count: abort-timeout 1
--- error_log
kafka_produce: 1 report(s) for a gone request
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: with the broker fast again, the next request is answered at once
--- init
main::broker_rtt(0);
--- config
    location /p {
        kafka_produce abort-after;
    }
--- request
POST /p
fine
--- error_code: 200
--- kafka_topic_count: abort-after 1
--- no_error_log
[error]
[alert]
[crit]
