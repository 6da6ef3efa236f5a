# kafka_produce under a load of concurrent keepalive requests: every 2xx
# is a record in Kafka, once, at the partition and offset its answer
# names.  A scenario (64 connections at once) that blocks cannot express;
# the broker outage is in t/produce-outage.t.

use strict;
use warnings;

use lib 't/lib';
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use Test::More;
use Time::HiRes qw(time sleep);
use KafkaGateway::Test qw(start_broker start_nginx dump_topic
                          check_error_log_clean);

plan skip_all => 'no dev broker (run "make test")'
    unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');

my $broker = start_broker(brokers => 3, topics => ['load:4']);
my $bs = $broker->bootstrap;

my $ngx = start_nginx(<<'_EOC_', http_config => "kafka_brokers $bs;");
    location /load {
        kafka_produce load;
        kafka_produce_key $http_x_id;
        kafka_produce_timeout 3s;
    }
_EOC_


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

check_error_log_clean($ngx);

done_testing();
