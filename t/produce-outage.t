# kafka_produce when the broker goes away and comes back, and a load of
# concurrent keepalive requests: every 2xx is a record in Kafka, once.

use strict;
use warnings;

use lib 't/lib';
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use Test::More;
use Time::HiRes qw(time sleep);
use KafkaGateway::Test qw(start_broker start_nginx http_request wait_until
                          dump_topic check_error_log_clean);

plan skip_all => 'no dev broker (run "make test")'
    unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');

my $broker = start_broker(brokers => 3, topics => ['outage:3', 'load:4']);
my $bs = $broker->bootstrap;

my $ngx = start_nginx(<<'_EOC_', http_config => "kafka_brokers $bs;");
    location /outage {
        kafka_produce outage;
        kafka_produce_timeout 3s;
    }
    location /short {
        kafka_produce outage;
        kafka_produce_timeout 1s;
    }
    location /load {
        kafka_produce load;
        kafka_produce_key $http_x_id;
        kafka_produce_timeout 3s;
    }
_EOC_

sub post {
    my ($path, $body) = @_;
    my $t0 = time;
    my $res = http_request(nginx => $ngx, method => 'POST', path => $path,
                           body => $body, timeout => 15);
    $res->{took} = time - $t0;
    return $res;
}


# Outage: every broker down.

is(post('/outage', 'before')->{status}, 200, 'broker up: 200');

$broker->control('down all');

my @down;
for my $i (1 .. 3) {
    my $res = post('/outage', "during $i");
    push @down, $res;
    is($res->{status}, 503, "broker down, request $i: 503");
    ok($res->{took} <= 3.5,
       sprintf '... within kafka_produce_timeout (3s): %.2f s', $res->{took});
    # 50003: librdkafka gave up on the record (message.timeout.ms, 2s here)
    # before kafka_produce_timeout; 50303: the request's timer came first
    like($res->{body}, qr/^\{"error_code":50[03]03,"message":"[^"]+"/,
         '... with a JSON error');
    ok($res->{headers}{'retry-after'}, '... and Retry-After');
}

# A location whose kafka_produce_timeout is shorter than librdkafka's
# message.timeout.ms (derived from the longest one, here 3s - 1s) gives up
# first: Kafka is known to be down, so 503, saying the record may still be
# written.
{
    my $res = post('/short', 'short');
    is($res->{status}, 503, 'broker down, shorter timeout: 503');
    ok($res->{took} < 1.5, sprintf '... after kafka_produce_timeout (1s): %.2f s',
                                   $res->{took});
    like($res->{body}, qr/^\{"error_code":50303,"message":"Kafka is unavailable[^"]*may|still written/,
         '... saying it may still be written');
}

# librdkafka times records out in a periodic scan: let it finish with the
# ones above (message.timeout.ms 2s) before the broker comes back
sleep 2;

$broker->control('up all');

my $back = wait_until { my $r = post('/outage', 'after'); $r->{status} == 200 && $r } 20, 0.5;
ok($back, 'broker back: requests succeed again without a reload');

{
    my @values = map { $_->{value} } @{ dump_topic($bs, 'outage') };
    is_deeply([grep { /^during/ } @values], [],
              'nothing answered 503 landed in Kafka');
    ok((grep { $_ eq 'before' } @values) == 1, 'the record before the outage');
    ok((grep { $_ eq 'after' } @values) >= 1, 'the record after it');
}


# Load: many requests over keepalive connections at once; each 2xx must be
# exactly one record.

my $conns = 64;
my $per_conn = 50;
my %answered;       # id => "partition:offset"
my $statuses = 0;
my %status_count;

{
    my $port = $ngx->port;
    my @c;
    for my $n (0 .. $conns - 1) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp')
            or die "connect: $!";
        $s->blocking(0);
        push @c, { sock => $s, n => $n, sent => 0, buf => '' };
    }

    my $send = sub {
        my $c = shift;
        my $id = "$c->{n}-$c->{sent}";
        my $body = "load record $id";
        my $req = "POST /load HTTP/1.1\r\nHost: localhost\r\n"
                  . "X-Id: $id\r\nContent-Length: " . length($body)
                  . "\r\n\r\n$body";
        $c->{id} = $id;
        $c->{sent}++;
        my $off = 0;
        while ($off < length $req) {
            my $w = syswrite $c->{sock}, $req, length($req) - $off, $off;
            if (!defined $w) { sleep 0.001; next; }
            $off += $w;
        }
    };

    $send->($_) for @c;

    my $sel = IO::Select->new(map { $_->{sock} } @c);
    my %by_sock = map { ($_->{sock} => $_) } @c;
    my $deadline = time + 120;

    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read(1)) {
            my $c = $by_sock{$s};
            my $n = sysread $s, my $chunk, 65536;
            if (!$n) {
                $sel->remove($s);
                next;
            }
            $c->{buf} .= $chunk;

            while ($c->{buf} =~ /^HTTP\/1\.1 (\d+)[^\r]*\r\n(.*?)\r\n\r\n/s) {
                my ($status, $head, $hlen) = ($1, $2, $+[0]);
                my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
                last unless defined $len;
                last if length($c->{buf}) < $hlen + $len;
                my $body = substr $c->{buf}, $hlen, $len;
                substr($c->{buf}, 0, $hlen + $len) = '';

                $statuses++;
                $status_count{$status}++;
                if ($status =~ /^2/) {
                    my $o = eval { JSON::PP::decode_json($body)->{offsets}[0] };
                    $answered{$c->{id}} = "$o->{partition}:$o->{offset}"
                        if $o;
                }

                if ($c->{sent} < $per_conn) {
                    $send->($c);
                } else {
                    $sel->remove($s);
                    close $s;
                }
            }
        }
    }
}

my $total = $conns * $per_conn;
is($statuses, $total, "$total requests over $conns keepalive connections "
                      . 'all answered');
note('statuses: ' . join ', ', map { "$_ x$status_count{$_}" }
                               sort keys %status_count);
my $ok = keys %answered;
ok($ok > 0, "$ok answered 2xx");

{
    my $records = dump_topic($bs, 'load', timeout => 60);
    my %in_kafka;
    my $dups = 0;
    for my $r (@$records) {
        $dups++ if $in_kafka{$r->{key}}++;
    }
    is(scalar @$records, $ok,
       'the topic holds exactly as many records as 2xx answers');
    is($dups, 0, 'no record is in Kafka twice');
    my @missing = grep { !$in_kafka{$_} } keys %answered;
    is(scalar @missing, 0, 'every 2xx answer has its record')
        or diag("missing: @missing[0 .. ($#missing < 9 ? $#missing : 9)]");
    my %at = map { ("$_->{partition}:$_->{offset}" => $_->{key}) }
             @$records;
    my @wrong = grep { ($at{$answered{$_}} // '') ne $_ } keys %answered;
    is(scalar @wrong, 0,
       'each answer names the partition and offset of its own record');
}

# the outage itself is logged as errors, once per kind
check_error_log_clean($ngx, qr/kafka producer: .*(Disconnected|Connection refused|brokers are down|Connect to)/);

done_testing();
