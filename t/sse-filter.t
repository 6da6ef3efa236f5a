# kafka_consume_filter_key: only records whose key equals the value; an
# empty value lets only records with an empty or no key through; records
# filtered out still move the position on (a heartbeat carries the id).
#
# Streams are read over HTTP/1.0 until silent (--- abort), see
# t/sse-basic.t.

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
    location ~ ^/f/(?<t>[^/]+)$ {
        kafka_consume_sse $t;
        kafka_consume_start earliest;
        kafka_consume_filter_key $arg_key;
    }
_EOC_
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

# the last two are bob's
sub records_in {
    my ($topic, @more) = @_;
    return [ map { { topic => $topic, partition => 0, key => $_->[0],
                     value => $_->[1] } }
             ['alice', 'a1'], ['bob', 'b1'], [undef, 'nokey'],
             ['alice', 'a2'], ['alicex', 'ax'], ['bob', 'b2'], @more ];
}

run_tests();

__DATA__

=== TEST 1: key=alice: only alice's records, not a prefix match
--- request
GET /f/sse-filter-alice?key=alice HTTP/1.0
--- kafka_produce_before eval
main::records_in('sse-filter-alice')
--- timeout: 1.5
--- abort
--- sse_data eval
[ 'a1', 'a2' ]



=== TEST 2: key=bob: only bob's records
--- request
GET /f/sse-filter-bob?key=bob HTTP/1.0
--- kafka_produce_before eval
main::records_in('sse-filter-bob')
--- timeout: 1.5
--- abort
--- sse_data eval
[ 'b1', 'b2' ]



=== TEST 3: an empty value: only records without a key, never all of them
--- request
GET /f/sse-filter-none HTTP/1.0
--- kafka_produce_before eval
main::records_in('sse-filter-none')
--- timeout: 1.5
--- abort
--- sse_data eval
[ 'nokey' ]



=== TEST 4: alice's position moves past bob's last records: the heartbeat carries it
The stream ends with a reload, after two heartbeats.
--- config
    location ~ ^/f/(?<t>[^/]+)$ {
        kafka_consume_sse $t;
        kafka_consume_start earliest;
        kafka_consume_filter_key $arg_key;
        kafka_consume_heartbeat 1s;
    }
--- request
GET /f/sse-filter-ping?key=alice HTTP/1.0
--- kafka_topics: sse-filter-ping:1
--- kafka_produce_before eval
main::records_in('sse-filter-ping')
--- sse_reload_after: sse-filter-ping 2.5
--- sse_data eval
[ 'a1', 'a2' ]
--- response_body_like: \ndata: a2\nid: 0:4\n\n: ping\nid: 0:6\n\n



=== TEST 5: resuming a filtered stream: only the new match
--- request
GET /f/sse-filter-resume?key=alice HTTP/1.0
--- more_headers
Last-Event-ID: 0:6
--- kafka_topics: sse-filter-resume:1
--- kafka_produce_before eval
main::records_in('sse-filter-resume', ['bob', 'b3'], ['alice', 'a3'])
--- timeout: 1.5
--- abort
--- sse_data eval
[ 'a3' ]
