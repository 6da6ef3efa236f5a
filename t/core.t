# The per-worker client core: configuration checks at start (nginx fails
# to start, as "nginx -t" fails), and the event bridge.  "nginx -t" itself,
# reload and quit with the broker up and down: t/fault-nginx.t.

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Blocks;

master_on();
workers(1);
log_level('debug');
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
                          "kafka_brokers \$TEST_NGINX_KAFKA_BROKERS;");
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location /p {
        kafka_produce core;
        kafka_produce_timeout 3s;
    }
_EOC_
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: an unknown librdkafka property fails, with librdkafka's message and the file:line
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_property no.such.property 1;
--- must_die
--- error_log eval
qr/\[emerg\].*No such configuration property: "no\.such\.property".*nginx\.conf:\d+/



=== TEST 2: an invalid property value fails, naming the property and the line
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_producer_property linger.ms banana;
--- must_die
--- error_log eval
qr/\[emerg\].*linger\.ms.*nginx\.conf:\d+/



=== TEST 3: log.queue cannot be changed (false left the worker unable to start)
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_property log.queue false;
--- must_die
--- error_log eval
qr/\[emerg\].*"log\.queue" cannot be changed.*nginx\.conf:\d+/



=== TEST 4: delivery.report.only.error cannot be changed (true made every acknowledged request wait for its timeout)
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_producer_property delivery.report.only.error true;
--- must_die
--- error_log eval
qr/\[emerg\].*"delivery\.report\.only\.error" cannot be changed.*nginx\.conf:\d+/



=== TEST 5: kafka_produce without kafka_brokers fails, saying what is missing
--- http_config
--- must_die
--- error_log eval
qr/\[emerg\].*kafka_brokers/



=== TEST 6: kafka_brokers "" fails at its line
--- http_config
    kafka_brokers "";
--- must_die
--- error_log eval
qr/\[emerg\].*nginx\.conf:\d+/



=== TEST 7: kafka_brokers "127.0.0.1:99999" fails at its line
--- http_config
    kafka_brokers "127.0.0.1:99999";
--- must_die
--- error_log eval
qr/\[emerg\].*nginx\.conf:\d+/



=== TEST 8: kafka_brokers "a:1,,b:2" fails at its line
--- http_config
    kafka_brokers "a:1,,b:2";
--- must_die
--- error_log eval
qr/\[emerg\].*nginx\.conf:\d+/



=== TEST 9: kafka_brokers "host:port" fails at its line
--- http_config
    kafka_brokers "host:port";
--- must_die
--- error_log eval
qr/\[emerg\].*nginx\.conf:\d+/



=== TEST 10: the bridge: a delivery report reaches the worker and the answer carries its partition and offset
The topic has one partition and this is its first record: partition 0,
offset 0, in the answer, the worker's debug log and Kafka.
--- kafka_topics: core:1
--- request
POST /p
bridge
--- error_code: 200
--- response_body_like: "partition":0,"offset":0,
--- kafka_topic: core
--- kafka_records eval
[ { key => undef, value => 'bridge', partition => 0 } ]
--- error_log
kafka delivery report: partition 0 offset 0
--- no_error_log
[error]
[alert]
[crit]
