# A client that reads nothing is cut at its buffer cap, with a final
# comment saying why, while a fast client on the same topic and worker
# keeps receiving every record, in order, none twice.  A client that
# catches up a backlog larger than its buffer is paced, not cut.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use KafkaGateway::SSE;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF pack_sockaddr_in inet_aton);
use Time::HiRes qw(sleep time);

my $topic = sse_unique_topic('sse-slow');
my $n = 1500;

sse_start_nginx(<<'LOC', listen => 'sndbuf=16k');
        location ~ ^/s/(?<t>[^/]+)$ {
            kafka_consume_sse $t;
            kafka_consume_buffer 64k;
        }

        location ~ ^/e/(?<t>[^/]+)$ {
            kafka_consume_sse $t;
            kafka_consume_buffer 64k;
            kafka_consume_start earliest;
        }
LOC

sse_produce($topic, 0, undef, 'first');

# the slow client: a small receive buffer, and it never reads

my $slow = IO::Socket::INET->new(Proto => 'tcp') or die $!;
setsockopt($slow, SOL_SOCKET, SO_RCVBUF, 4096);
$slow->connect(pack_sockaddr_in(sse_port(), inet_aton('127.0.0.1')))
    or die $!;
print $slow "GET /s/$topic HTTP/1.1\r\nHost: localhost\r\n\r\n";

my $fast = sse_open("/s/$topic");
sse_read($fast, 5, until => sub { defined $_[0]{last_id} });

my $t0 = time();
for my $i (1 .. $n) {
    sse_produce($topic, 0, undef, sprintf("rec%05d-", $i) . ('x' x 1000));
    sse_read($fast, 0) if $i % 50 == 0;
}

sse_read($fast, 20, until => sub { @{ $_[0]{events} } >= $n });
sse_read($fast, 0.5);

my @got = map { /^rec(\d+)/ ? $1 + 0 : -1 } map { $_->{data} }
          @{ $fast->{events} };
is(scalar @got, $n, "the fast client got all $n records");
is_deeply(\@got, [ 1 .. $n ], 'in order, none twice');
close $fast->{sock};

# the slow client's stream ends with the reason once it has taken nothing
# for the stall time (5 s); it reads only after the worker says so

my $cut_at = time() + (sse_valgrind() ? 120 : 30);
sleep 0.1 while sse_error_log() !~ /closing a client that took nothing/
                && time() < $cut_at;
$slow->blocking(0);
my $raw = '';
my $deadline = time() + 15;
while (time() < $deadline) {
    my $r = sysread($slow, my $buf, 1 << 20);
    last if defined $r && $r == 0;
    $raw .= $buf if $r;
    sleep 0.02 unless $r;
}

like($raw, qr/: closing: the client did not read its events fast enough/,
     'the slow client is told why it is cut');
like($raw, qr/\r\n0\r\n\r\n$/, 'and its response ends properly');
ok(length($raw) < 200_000, 'it never got more than about its buffer: '
                           . length $raw);

like(sse_error_log(), qr/closing a client that took nothing/,
     'the cut is logged');

# What the slow client got is parsed as a browser would: bytes of a chunk
# cut short count too, an event counts only once its blank line arrived.
# Its last complete event's id resumes exactly after that event's record.

my $cut = { raw => $raw, events => [], comments => [] };
KafkaGateway::SSE::_parse($cut);
if (defined $cut->{rest} && $cut->{rest} =~ /^[0-9a-fA-F]+\r\n(.*)$/s) {
    $cut->{body} .= $1;
    $cut->{rest} = '';
    $cut->{seen} = length $cut->{raw};
    KafkaGateway::SSE::_parse($cut);
}

my ($last) = grep { $_->{data} =~ /^rec\d+/ } reverse @{ $cut->{events} };
ok($last && defined $cut->{last_id},
   'the slow client got complete events with an id before the cut');
my ($k) = $last ? $last->{data} =~ /^rec(\d+)/ : (0);
$k += 0;

my $again = sse_open("/s/$topic", 'Last-Event-ID' => $cut->{last_id} // '');
sse_read($again, 30, until => sub { @{ $_[0]{events} } >= $n - $k });
my @resumed = map { /^rec(\d+)/ ? $1 + 0 : -1 } map { $_->{data} }
              @{ $again->{events} };
is_deeply(\@resumed, [ $k + 1 .. $n ],
          "resuming with the cut stream's last id (after rec $k) "
          . 'continues with the next record, none missed or repeated');
close $again->{sock};

# a backlog bigger than the buffer: the client is paced, not cut

my $late = sse_open("/e/$topic");
sse_read($late, 30, until => sub { @{ $_[0]{events} } >= $n + 1 });
is(scalar @{ $late->{events} }, $n + 1,
   'a client catching up from the start gets everything');
ok(!grep({ /closing/ } @{ $late->{comments} }), 'and is not cut');
close $late->{sock};

sse_stop_nginx();

unlike(sse_error_log(), qr/\[(alert|crit|emerg|error)\]/,
       'no errors in the error log');

done_testing();
