# kafka_consume_sse: where a client without an id starts: latest (the
# default), earliest, and ?since= (epoch milliseconds or RFC 3339).

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use KafkaGateway::SSE;
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

my $topic = sse_unique_topic('sse-start');

sse_start_nginx(<<'LOC');
        location ~ ^/latest/(?<t>[^/]+)$ {
            kafka_consume_sse $t;
        }

        location ~ ^/earliest/(?<t>[^/]+)$ {
            kafka_consume_sse $t;
            kafka_consume_start earliest;
        }
LOC

sse_produce($topic, 0, undef, "old-$_") for 1 .. 3;

sleep 1.2;
my $since = time();
sleep 0.3;

sse_produce($topic, 0, undef, "mid-$_") for 1 .. 2;

my @data = map { $_->{data} }
           @{ sse_get("/earliest/$topic", 8,
                      until => sub { @{ $_[0]{events} } >= 5 })->{events} };
is_deeply(\@data, [qw(old-1 old-2 old-3 mid-1 mid-2)],
          'earliest: every record from the log start');

my $h = sse_open("/latest/$topic");
sse_read($h, 5, until => sub { defined $_[0]{last_id} });
like($h->{last_id}, qr/^0:5(,\d+:0)*$/, 'latest: the first id is the log end');

sse_produce($topic, 0, undef, 'new-1');
sse_read($h, 8, until => sub { @{ $_[0]{events} } >= 1 });
sse_read($h, 0.5);
is_deeply([ map { $_->{data} } @{ $h->{events} } ], ['new-1'],
          'latest: only records produced after connecting');
close $h->{sock};

my $ms = int($since * 1000);

@data = map { $_->{data} }
        @{ sse_get("/latest/$topic?since=$ms", 8,
                   until => sub { @{ $_[0]{events} } >= 3 })->{events} };
is_deeply(\@data, [qw(mid-1 mid-2 new-1)],
          '?since=<ms>: from the first record at or after that time');

my $rfc = strftime('%Y-%m-%dT%H:%M:%S', gmtime(int $since))
          . sprintf('.%03dZ', $ms % 1000);

@data = map { $_->{data} }
        @{ sse_get("/earliest/$topic?since=$rfc", 8,
                   until => sub { @{ $_[0]{events} } >= 3 })->{events} };
is_deeply(\@data, [qw(mid-1 mid-2 new-1)],
          '?since=<RFC 3339>: the same, and it wins over the start directive');

my $zoned = strftime('%Y-%m-%dT%H:%M:%S', gmtime(int($since) + 7200))
            . sprintf('.%03d%%2B02:00', $ms % 1000);

@data = map { $_->{data} }
        @{ sse_get("/earliest/$topic?since=$zoned", 8,
                   until => sub { @{ $_[0]{events} } >= 3 })->{events} };
is_deeply(\@data, [qw(mid-1 mid-2 new-1)], '?since= with a zone offset');

@data = map { $_->{data} }
        @{ sse_get("/earliest/$topic?since=" . (int(time() * 1000) + 60000),
                   2)->{events} };
is_deeply(\@data, [], '?since= in the future: nothing yet');

sse_stop_nginx();

my $log = sse_error_log();
unlike($log, qr/\[(alert|crit|emerg|error)\]/, 'no errors in the error log');

done_testing();
