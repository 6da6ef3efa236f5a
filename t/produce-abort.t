# Requests that end before Kafka answers: the client goes away, or
# kafka_produce_timeout fires.  The broker is slowed down with the dev
# broker's "rtt" command before nginx starts.  Run under
# TEST_NGINX_USE_VALGRIND=1 (make test-valgrind) to see that a delivery
# report for a gone request touches no freed memory.
#
# Every request meets a ready worker: a block sends it once the error log
# says "kafka producer ... started" (--- init), however slowly nginx
# starts (under valgrind, seconds).  A client leaves when the connection
# has been silent for the block's timeout (--- abort), 0.5 s (1.5 s under
# valgrind, see KafkaGateway::Blocks), before the acknowledgement: with
# every broker answer delayed by RTT (1 s, 1.5 s under valgrind) it needs
# the topic's metadata and the produce round trip, 2 x RTT at least.  (A
# longer RTT makes librdkafka time its records out.)  That the request
# was parked waiting for Kafka before the client left is checked in the
# debug log, and every later wait is for the log line or the records it
# expects.

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Blocks;
use KafkaGateway::Features ();
use POSIX ();

my $why;
plan(skip_all => $why)
    if $why = KafkaGateway::Features::nginx_lacks('debug');

our $RTT = $ENV{TEST_NGINX_USE_VALGRIND} ? 1500 : 1000;

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

    # message.timeout.ms follows the longest kafka_produce_timeout
    # (/other's): librdkafka keeps a record after /timeout's timer fired
    $block->set_value("config", <<'_EOC_');
    location /raw {
        kafka_produce abort-raw;
    }
    location /rest {
        kafka_produce abort-rest;
    }
    location /timeout {
        kafka_produce abort-timeout;
        kafka_produce_timeout 1s;
    }
    location /other {
        kafka_produce abort-other;
        kafka_produce_timeout 10s;
    }
    location /fast {
        kafka_produce abort-fast;
    }
    location /after {
        kafka_produce abort-after;
    }
_EOC_

    $block->set_value("init", "KafkaGateway::Blocks::wait_log("
                              . "qr/kafka producer \\S+ started/);\n"
                              . ($block->init // ''));

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

# --- init of TEST 4: the worker is stopped while the client connects,
# sends and closes; it goes on once the kernel shows the client's side
# closed (the server's end of the connection in CLOSE_WAIT)
sub stop_worker_until_client_left {
    my $port = sprintf '%04X', $ENV{TEST_NGINX_SERVER_PORT};
    my $master = KafkaGateway::Blocks::nginx_pid() or die "no nginx pid";
    my @workers = grep { length } split /\s+/, `pgrep -P $master`;
    die "no nginx worker" unless @workers;
    kill 'STOP', @workers;

    my $pid = fork;
    die "fork: $!" unless defined $pid;
    return if $pid;

    my $deadline = time + $KafkaGateway::Blocks::Patience;
    while (time < $deadline) {
        open my $in, '<', '/proc/net/tcp' or last;
        last if grep { my @f = split; $f[1] =~ /:$port$/ && $f[3] eq '08' }
                <$in>;
        select undef, undef, undef, 0.02;
    }
    kill 'CONT', @workers;
    POSIX::_exit(0);
}

run_tests();

__DATA__

=== TEST 1: the client closes before the acknowledgement: no error, the late report is dropped safely, the record is in Kafka once
--- kafka_control eval
{ start => "rtt all $main::RTT",
  0 => [ qr{http finalize request: -4, "/raw\?" a:1, c:2(?s:.*)client prematurely closed connection},
         qr/kafka_produce: 1 report\(s\) for a gone request/ ] }
--- request
POST /raw
gone before the ack
--- timeout: 0.5
--- abort
--- error_code eval
''
--- response_body eval
''
--- kafka_topic_count: abort-raw 1



=== TEST 2: the same with an envelope of three records
--- kafka_control eval
{ start => "rtt all $main::RTT",
  0 => [ qr{http finalize request: -4, "/rest\?" a:1, c:2(?s:.*)client prematurely closed connection},
         qr/kafka_produce: 3 report\(s\) for a gone request/ ] }
--- request
POST /rest
{"records":[{"value":1},{"value":2},{"value":3}]}
--- more_headers
Content-Type: application/vnd.kafka.json.v2+json
--- timeout: 0.5
--- abort
--- error_code eval
''
--- response_body eval
''
--- kafka_topic_count: abort-rest 3



=== TEST 3: kafka_produce_timeout fires first: 504, and the late report is dropped safely
The timer (1 s) starts when the record is queued; the report needs a
metadata round trip (a topic new to this producer) and a produce round
trip, RTT each, so it comes a second after the timer at least.  (A longer
RTT makes librdkafka time some of its own requests out, which it logs as
errors.)
--- kafka_control eval
{ start => "rtt all $main::RTT",
  0 => qr/kafka_produce: 1 report\(s\) for a gone request/ }
--- request
POST /timeout
late
--- timeout: 30
--- error_code: 504
--- response_body_like: ^\{"error_code":50401,"message":"no acknowledgement from Kafka within kafka_produce_timeout[^"]*","offsets":\[\{"partition":null,"offset":null,"error_code":2,"error":"no acknowledgement within kafka_produce_timeout"\}\]
--- kafka_topic_count: abort-timeout 1



=== TEST 4: a client that sends its request and closes at once: nginx reads the request and the end of the connection in one event
The worker is stopped (SIGSTOP) while the client connects, sends and
closes, so this is what happens, whatever the machine's speed.  nginx's
upstream module notices such a client (epoll reported EPOLLRDHUP:
rev->pending_eof); kafka_produce should too, and release the request at
once instead of holding it until the acknowledgement (or
kafka_produce_timeout) and answering into a closed connection.
--- init
main::stop_worker_until_client_left()
--- kafka_control eval
{ start => "rtt all $main::RTT",
  0 => [ qr/kafka_produce: (?:all 1 record\(s\) reported|1 report\(s\) for a gone request)/,
         sub {
             my $log = KafkaGateway::Blocks::block_log();
             my $tb = Test::More->builder;
             $tb->todo_start('kafka_produce parks the request with '
                 . 'ngx_http_test_reading as read handler but never '
                 . 'checks c->read->pending_eof, so an end of '
                 . 'connection read together with the request goes '
                 . 'unnoticed until the acknowledgement');
             Test::More::like($log,
                 qr/client prematurely closed connection/,
                 'fast: nginx notices the client left before the answer');
             Test::More::like($log,
                 qr/kafka_produce: 1 report\(s\) for a gone request/,
                 'fast: the report is for a gone request');
             $tb->todo_end;
         } ] }
--- request
POST /fast
left fast
--- timeout: 0.2
--- abort
--- error_code eval
''
--- kafka_topic_count: abort-fast 1



=== TEST 5: with the broker fast, a request is answered at once
--- request
POST /after
fine
--- error_code: 200
--- kafka_topic_count: abort-after 1
