# kafka_consume_filter_key: only records whose key equals the value; an
# empty value lets only records with an empty or no key through; records
# filtered out still move the position on (a heartbeat carries the id).

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use KafkaGateway::SSE;

my $topic = sse_unique_topic('sse-filter');

sse_start_nginx(<<'LOC');
        location ~ ^/f/(?<t>[^/]+)$ {
            kafka_consume_sse $t;
            kafka_consume_start earliest;
            kafka_consume_filter_key $arg_key;
            kafka_consume_heartbeat 1s;
        }
LOC

sse_produce($topic, 0, 'alice', 'a1');
sse_produce($topic, 0, 'bob', 'b1');
sse_produce($topic, 0, undef, 'nokey');
sse_produce($topic, 0, 'alice', 'a2');
sse_produce($topic, 0, 'alicex', 'ax');
sse_produce($topic, 0, 'bob', 'b2');

my $h = sse_get("/f/$topic?key=alice", 6,
                until => sub { @{ $_[0]{events} } >= 2 });
sse_read($h, 0.5) unless $h->{ended};
is_deeply([ map { $_->{data} } @{ $h->{events} } ], [qw(a1 a2)],
          'key=alice: only alice\'s records, not a prefix match');

$h = sse_get("/f/$topic?key=bob", 6,
             until => sub { @{ $_[0]{events} } >= 2 });
is_deeply([ map { $_->{data} } @{ $h->{events} } ], [qw(b1 b2)],
          'key=bob: only bob\'s records');

$h = sse_get("/f/$topic", 3, until => sub { @{ $_[0]{events} } >= 1 });
is_deeply([ map { $_->{data} } @{ $h->{events} } ], ['nokey'],
          'empty value: only records without a key, never all of them');

# the last records are bob's: alice's position moves past them anyway

$h = sse_open("/f/$topic?key=alice");
sse_read($h, 4, until => sub { grep { /^ping/ } @{ $_[0]{comments} } });
close $h->{sock};
like($h->{last_id}, qr/^0:6(,|$)/,
     'the heartbeat carries an id past the filtered records');

my $id = $h->{last_id};
sse_produce($topic, 0, 'bob', 'b3');
sse_produce($topic, 0, 'alice', 'a3');

$h = sse_get("/f/$topic?key=alice", 6,
             headers => { 'Last-Event-ID' => $id },
             until => sub { @{ $_[0]{events} } >= 1 });
is_deeply([ map { $_->{data} } @{ $h->{events} } ], ['a3'],
          'resuming a filtered stream: only the new match');

sse_stop_nginx();

unlike(sse_error_log(), qr/\[(alert|crit|emerg|error)\]/,
       'no errors in the error log');

done_testing();
