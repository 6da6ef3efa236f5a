# kafka_consume_sse: where a client without an id starts: latest (the
# default), earliest, and ?since= (epoch milliseconds or RFC 3339).
#
# Streams are read over HTTP/1.0 until silent (--- abort), see
# t/sse-basic.t.  The ?since= blocks note the time between the old
# records and the newer ones (TEST_NGINX_SINCE_*) and reach the stream
# through a rewrite that puts it in the query string.

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Blocks;
use POSIX qw(strftime);
use Time::HiRes qw(time);

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

    $block->set_value("config", <<'_EOC_' . ($block->config // ''));
    location ~ ^/latest/(?<t>[^/]+)$ {
        kafka_consume_sse $t;
    }

    location ~ ^/earliest/(?<t>[^/]+)$ {
        kafka_consume_sse $t;
        kafka_consume_start earliest;
    }
_EOC_

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

# old-1..3, the time noted (as ms, RFC 3339 UTC, RFC 3339 at +02:00), then
# mid-1, mid-2 and new-1
sub records_in {
    my $topic = shift;
    my @rec = map { { topic => $topic, partition => 0, value => $_ } }
              qw(old-1 old-2 old-3 mid-1 mid-2 new-1);
    my $mark = sub {
        my $now = time;
        my $ms = int($now * 1000);
        $ENV{TEST_NGINX_SINCE_MS} = $ms;
        $ENV{TEST_NGINX_SINCE_UTC} =
            strftime('%Y-%m-%dT%H:%M:%S', gmtime(int $now))
            . sprintf('.%03dZ', $ms % 1000);
        $ENV{TEST_NGINX_SINCE_ZONED} =
            strftime('%Y-%m-%dT%H:%M:%S', gmtime(int($now) + 7200))
            . sprintf('.%03d%%2B02:00', $ms % 1000);
        $ENV{TEST_NGINX_FUTURE_MS} = $ms + 60000;
    };
    return [ @rec[0 .. 2], $mark, @rec[3 .. 5] ];
}

run_tests();

__DATA__

=== TEST 1: earliest: every record from the log start
--- request
GET /earliest/sse-start-earliest HTTP/1.0
--- kafka_produce_before eval
main::records_in('sse-start-earliest')
--- timeout: 1.5
--- abort
--- sse_data eval
[ qw(old-1 old-2 old-3 mid-1 mid-2 new-1) ]



=== TEST 2: latest (the default): the first id is the log end, then only records produced after connecting
--- request
GET /latest/sse-start-latest HTTP/1.0
--- kafka_produce_before eval
[ map { { topic => 'sse-start-latest', partition => 0, value => "old-$_" } }
  1 .. 3 ]
--- kafka_produce_during eval
[ { topic => 'sse-start-latest', partition => 0, value => 'new-1' } ]
--- timeout: 1.5
--- abort
--- sse_events eval
[ { id => qr/^0:3(,\d+:0)*$/, data => undef },
  { data => 'new-1', id => qr/^0:4(,\d+:0)*$/ } ]



=== TEST 3: ?since=<ms>: from the first record at or after that time
--- config
    location = /since {
        rewrite ^ /latest/sse-start-ms?since=$TEST_NGINX_SINCE_MS last;
    }
--- request
GET /since HTTP/1.0
--- kafka_produce_before eval
main::records_in('sse-start-ms')
--- timeout: 1.5
--- abort
--- sse_data eval
[ qw(mid-1 mid-2 new-1) ]



=== TEST 4: ?since=<RFC 3339>: the same, and it wins over the start directive
--- config
    location = /since {
        rewrite ^ /earliest/sse-start-rfc?since=$TEST_NGINX_SINCE_UTC last;
    }
--- request
GET /since HTTP/1.0
--- kafka_produce_before eval
main::records_in('sse-start-rfc')
--- timeout: 1.5
--- abort
--- sse_data eval
[ qw(mid-1 mid-2 new-1) ]



=== TEST 5: ?since= with a zone offset
--- config
    location = /since {
        rewrite ^ /earliest/sse-start-zoned?since=$TEST_NGINX_SINCE_ZONED last;
    }
--- request
GET /since HTTP/1.0
--- kafka_produce_before eval
main::records_in('sse-start-zoned')
--- timeout: 1.5
--- abort
--- sse_data eval
[ qw(mid-1 mid-2 new-1) ]



=== TEST 6: ?since= in the future: nothing yet
--- config
    location = /since {
        rewrite ^ /earliest/sse-start-future?since=$TEST_NGINX_FUTURE_MS last;
    }
--- request
GET /since HTTP/1.0
--- kafka_produce_before eval
main::records_in('sse-start-future')
--- timeout: 1.5
--- abort
--- sse_data eval
[]
