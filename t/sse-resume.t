# kafka_consume_sse: exact resume.  A client that reconnects with its last
# id (Last-Event-ID, or ?last_event_id= on a first connection) gets exactly
# the records it missed on every partition, then live ones, none twice;
# clients at different offsets share the worker's readers; an id older
# than the log start resumes there and says so.
#
# Every topic has three partitions and the same records: p0-0 .. p0-3,
# p1-0 .. p1-2, p2-0 .. p2-2 (log end 0:4,1:3,2:3).  A client that saw
# p0-0, p0-1 and p1-0 holds the id 0:2,1:1,2:0.  Streams are read over
# HTTP/1.0 until silent (--- abort), see t/sse-basic.t; sse_data by
# partition compares each partition's records in order.

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
    kafka_consumer_property fetch.message.max.bytes 2097152;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location ~ ^/s/(?<t>[^/]+)$ {
        kafka_consume_sse $t;
        kafka_consume_start earliest;
    }
_EOC_
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

# produced in rounds, as a live topic fills
sub records_in {
    my $topic = shift;
    return [ map { { topic => $topic, partition => substr($_, 1, 1),
                     value => $_ } }
             qw(p0-0 p0-1 p1-0 p2-0 p0-2 p1-1 p2-1 p0-3 p1-2 p2-2) ];
}

sub live_round {
    my $topic = shift;
    return [ map { { topic => $topic, partition => $_, value => "p$_-live" } }
             0 .. 2 ];
}

run_tests();

__DATA__

=== TEST 1: Last-Event-ID: exactly the records missed, on every partition, in order, then the live ones, none twice
--- request
GET /s/sse-resume-header HTTP/1.0
--- more_headers
Last-Event-ID: 0:2,1:1,2:0
--- kafka_topics: sse-resume-header:3
--- kafka_produce_before eval
main::records_in('sse-resume-header')
--- kafka_produce_during eval
main::live_round('sse-resume-header')
--- timeout: 1.5
--- abort
--- sse_data eval
{ 0 => [qw(p0-2 p0-3 p0-live)], 1 => [qw(p1-1 p1-2 p1-live)],
  2 => [qw(p2-0 p2-1 p2-2 p2-live)] }



=== TEST 2: ?last_event_id= on a first connection: the same records
--- request
GET /s/sse-resume-query?last_event_id=0%3A2,1%3A1,2%3A0 HTTP/1.0
--- kafka_topics: sse-resume-query:3
--- kafka_produce_before eval
main::records_in('sse-resume-query')
--- timeout: 1.5
--- abort
--- sse_data eval
{ 0 => [qw(p0-2 p0-3)], 1 => [qw(p1-1 p1-2)], 2 => [qw(p2-0 p2-1 p2-2)] }



=== TEST 3: Last-Event-ID wins over ?last_event_id= (a browser's reconnect keeps both); the first id is the one sent
--- request
GET /s/sse-resume-wins?last_event_id=0%3A2,1%3A1,2%3A0 HTTP/1.0
--- more_headers
Last-Event-ID: 0:4,1:3,2:3
--- kafka_topics: sse-resume-wins:3
--- kafka_produce_before eval
main::records_in('sse-resume-wins')
--- timeout: 1.5
--- abort
--- sse_events eval
[ { id => '0:4,1:3,2:3', data => undef } ]



=== TEST 4: two clients at different offsets in the same worker: each gets its records once
One streams from the start, the other resumes; both see the live round.
--- request
GET /s/sse-resume-two HTTP/1.0
--- kafka_topics: sse-resume-two:3
--- kafka_produce_before eval
main::records_in('sse-resume-two')
--- sse_other_client eval
{ request => 'GET /s/sse-resume-two HTTP/1.0',
  headers => { 'Last-Event-ID' => '0:2,1:1,2:0' },
  sse_data => { 0 => [qw(p0-2 p0-3 p0-live)], 1 => [qw(p1-1 p1-2 p1-live)],
                2 => [qw(p2-0 p2-1 p2-2 p2-live)] } }
--- kafka_produce_during eval
main::live_round('sse-resume-two')
--- timeout: 1.5
--- abort
--- sse_data eval
{ 0 => [qw(p0-0 p0-1 p0-2 p0-3 p0-live)],
  1 => [qw(p1-0 p1-1 p1-2 p1-live)],
  2 => [qw(p2-0 p2-1 p2-2 p2-live)] }



=== TEST 5: an id older than the log start (the dev broker trims a partition past 5 MB) resumes there and says so
--- request
GET /s/sse-resume-trim HTTP/1.0
--- more_headers
Last-Event-ID: 0:0
--- kafka_topics: sse-resume-trim:1
--- kafka_produce_before eval
[ (map { { topic => 'sse-resume-trim', partition => 0,
           value => 'x' x 900_000 } } 1 .. 8),
  { topic => 'sse-resume-trim', partition => 0, value => 'last' } ]
--- timeout: 1.5
--- abort
--- sse_events eval
[ { comments => [ 'partition 0: offset 0 is before the log start, resuming at 3 (records 0 to 2 were deleted)' ],
    id => '0:3' },
  { id => '0:4' }, { id => '0:5' }, { id => '0:6' }, { id => '0:7' },
  { id => '0:8' }, { data => 'last', id => '0:9' } ]
