# kafka_log with every broker down: responses keep their status and their
# latency (against the same upstream without kafka_log), capture records
# queue up to kafka_log_queue and the rest are dropped with a warning and
# counted (nginx_kafka_log_dropped_total), and capture resumes by itself
# when the brokers return: every record either lands or is counted.

use strict;
use warnings;

use lib 't/lib';
use JSON::PP ();
use MIME::Base64 ();
use Test::More;
use Time::HiRes qw(time sleep);
use KafkaGateway::Test qw(start_broker start_nginx http_request wait_until
                          dump_topic check_error_log_clean);

plan skip_all => 'no dev broker (run "make test")'
    unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');

my $broker = start_broker(brokers => 3, topics => ['capture-outage:2']);
my $bs = $broker->bootstrap;

my $ngx = start_nginx(<<'_EOC_', http_config => <<"_EOH_");
    location /with/ {
        kafka_log capture-outage;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/up.sock:/;
    }
    location /without/ {
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/up.sock:/;
    }
    location = /status { kafka_status; }
_EOC_
    kafka_brokers $bs;
    kafka_log_queue 5;
    kafka_shutdown_timeout 1s;

    server {
        listen unix:\$TEST_NGINX_SERVER_ROOT/up.sock;
        location / {
            return 200 "order \$uri";
        }
    }
_EOH_

sub get {
    my ($path) = @_;
    my $t0 = time;
    my $res = http_request(nginx => $ngx, path => $path, timeout => 10);
    $res->{took} = time - $t0;
    return $res;
}

sub records {
    return dump_topic($bs, 'capture-outage');
}

sub paths {
    my @p;
    for my $r (@{ records() }) {
        for my $h (@{ $r->{headers} || [] }) {
            push @p, MIME::Base64::decode_base64($h->[2])
                if $h->[0] eq 'ce_httppath';
        }
    }
    return sort @p;
}

# nginx_kafka_log_dropped_total of the topic, from the text form
sub dropped {
    my $res = http_request(nginx => $ngx, path => '/status', timeout => 10);
    return $res->{body} =~ /^nginx_kafka_log_dropped_total\{topic="capture-outage"\} (\d+)$/m
           ? $1 : 'none';
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return $s[int(@s / 2)];
}

# Brokers up: a record lands.

is(get('/with/1')->{status}, 200, 'brokers up: 200');
ok((wait_until { records() >= 1 } 10), 'brokers up: the record lands');
is(dropped(), 0, 'brokers up: nginx_kafka_log_dropped_total is 0');

# Every broker down.

# its delivery report is served before the outage, so the queue is empty
sleep 1;
$broker->control('down all');
sleep 0.5;

# the drop counter, read between requests (not timed): 0 while the
# records fit in kafka_log_queue (5), then one more per request
my (@with, @without, %dropped_after);
for my $i (1 .. 40) {
    for my $w ([\@with, "/with/d$i"], [\@without, "/without/d$i"]) {
        my $res = get($w->[1]);
        push @{ $w->[0] }, $res;
    }
    $dropped_after{$i} = dropped() if $i == 5 || $i == 6 || $i == 40;
}

is($dropped_after{5}, 0, 'brokers down: 5 records queued, none dropped');
is($dropped_after{6}, 1, '... the 6th is dropped and counted');
is($dropped_after{40}, 35, '... and every later one: 35 of 40 dropped');

is(scalar(grep { $_->{status} == 200 } @with), 40,
   'brokers down: every response with kafka_log is 200');
is(scalar(grep { $_->{body} =~ m{^order /d\d+$} } @with), 40,
   '... with the upstream\'s body');

my $mw = median(map { $_->{took} } @with) * 1000;
my $mo = median(map { $_->{took} } @without) * 1000;
my $maxw = (sort { $b <=> $a } map { $_->{took} } @with)[0] * 1000;
diag(sprintf 'brokers down: median %.2f ms with kafka_log, %.2f ms '
             . 'without; slowest with: %.2f ms', $mw, $mo, $maxw);
ok($mw - $mo < 2, sprintf 'the median latency is within noise of the same '
                          . 'upstream without kafka_log (%.2f vs %.2f ms)',
                          $mw, $mo);
ok($maxw < 200, sprintf '... and no response waited on Kafka (slowest '
                        . '%.2f ms)', $maxw);

my @drops = grep { /\[warn\].*kafka_log: \d+ record\(s\) dropped/ }
            split /\n/, $ngx->error_log;
is(scalar @drops, 1, 'one rate-limited warning for the drops');
like($drops[0] // '', qr/kafka_log: 1 record\(s\) dropped \(1 in all\), the last to "capture-outage": kafka_log_queue is full/,
     '... once the bound (kafka_log_queue 5) is reached');

# Brokers back: capture resumes by itself (a request a second until its
# record lands), and no more than kafka_log_queue records of the outage
# were kept.

$broker->control('up all');

my $n = 0;
my $resumed = wait_until {
    $n++;
    get("/with/after$n")->{status} == 200 or return 0;
    scalar grep { m{^/with/after} } paths();
} 30, 1;
ok($resumed, "brokers back: capture resumes by itself ($n request(s))");

my @kept = grep { m{^/with/d\d+$} } paths();
my %seen;
ok(@kept <= 5 && !grep({ $seen{$_}++ } @kept),
   'at most kafka_log_queue (5) records of the outage were kept, once each: '
   . scalar(@kept));
diag('records of the outage delivered after it: ' . scalar(@kept)
     . ' (' . join(' ', @kept) . ')');
is((grep { $_ eq '/with/1' } paths()), 1,
   'the record from before the outage is there once');

# every capture record (1 before, 40 during, $n after the outage) either
# landed or was counted dropped; records still queued are delivered soon
my ($landed, $counted) = (0, 0);
my $balanced = wait_until {
    my @landed = paths();
    ($landed, $counted) = (scalar @landed, dropped());
    $landed + $counted == 1 + 40 + $n;
} 10, 0.5;
ok($balanced, 'every capture record landed or was counted dropped: '
              . "$landed + $counted = " . (1 + 40 + $n));

ok(defined $ngx->quit, 'nginx quits');
# the producer's own report of the outage is the only [error]
check_error_log_clean($ngx, qr/\[error\].*kafka (?:batch_)?producer: .*(?:_TRANSPORT|_ALL_BROKERS_DOWN|Connect to)/);

done_testing();
