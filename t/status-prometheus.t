# kafka_status read by a real Prometheus server: a gateway with two
# workers gets a known number of produce requests (successes and
# failures) and SSE streams, is reloaded in the middle, and every total
# that Prometheus scraped (every second) must equal what was sent, with no
# counter reset across the reload.

use strict;
use warnings;

use lib 't/lib';
use File::Temp qw(tempdir);
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use KafkaGateway::Test qw(start_broker start_nginx http_request wait_until
                          dump_topic check_error_log_clean free_port);

plan skip_all => 'no dev broker (run "make test")'
    unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');
plan skip_all => 'a Prometheus server and a reload: not under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

my $prometheus = (grep { -x "$_/prometheus" } split /:/, $ENV{PATH} || '')[0];
if (!$prometheus) {
    die "prometheus is missing (tools/install-deps.sh installs it)\n"
        if $ENV{CI};
    plan skip_all => 'no prometheus server (Debian package "prometheus", '
                     . 'which tools/install-deps.sh installs)';
}
$prometheus .= '/prometheus';

# what is sent, before and after the reload
my @ok = (20, 15);        # produce requests acknowledged
my @fail = (5, 4);        # produce requests to a partition that is not
my @streams = (3, 2);     # SSE clients, each reading every record so far

my $broker = start_broker(brokers => 1, topics => ['prom-ok:1',
                                                   'prom-fail:1']);
my $bs = $broker->bootstrap;

my $config = <<'_EOC_';
    location = /p { kafka_produce prom-ok; }
    location = /bad {
        kafka_produce prom-fail;
        kafka_produce_partition 7;
        kafka_produce_timeout 2s;
    }
    location = /sse {
        kafka_consume_sse prom-ok;
        kafka_consume_start earliest;
    }
    location = /metrics {
        allow 127.0.0.1;
        deny all;
        kafka_status;
    }
_EOC_

my $ngx = start_nginx($config, http_config => "kafka_brokers $bs;",
                      workers => 2);

# Prometheus on a loopback port with its own storage, scraping every second
my $pdir = tempdir('kgw-prometheus-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $pport = free_port();
open my $pc, '>', "$pdir/prometheus.yml" or die;
print $pc <<"_EOC_";
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gateway
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:${\ $ngx->port }']
_EOC_
close $pc;

my $ppid = fork // die "fork: $!";
if ($ppid == 0) {
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', "$pdir/prometheus.log";
    open STDERR, '>&', \*STDOUT;
    exec $prometheus, "--config.file=$pdir/prometheus.yml",
         "--storage.tsdb.path=$pdir/data",
         "--web.listen-address=127.0.0.1:$pport"
        or POSIX::_exit(127);
}
END { if ($ppid) { kill 'TERM', $ppid; waitpid $ppid, 0 } }

sub query {
    my $q = shift;
    (my $enc = $q) =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge;
    my $r = http_request(port => $pport, path => "/api/v1/query?query=$enc");
    my $doc = eval { JSON::PP::decode_json($r->{body}) } or return undef;
    my $res = $doc->{data}{result};
    return undef unless $res && @$res;
    return 0 + $res->[0]{value}[1];
}

# an SSE client that reads until it has N events, then leaves
sub sse_read {
    my ($n) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $ngx->port,
                                  Timeout => 5) or die "connect: $!";
    print $s "GET /sse HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my ($buf, $deadline) = ('', time + 10);
    my $sel = IO::Select->new($s);
    while (time < $deadline && (() = $buf =~ /^data: /mg) < $n) {
        next unless $sel->can_read(0.2);
        sysread($s, $buf, 65536, length $buf) or last;
    }
    close $s;
    return scalar(() = $buf =~ /^data: /mg);
}

my $ready = wait_until {
    http_request(port => $pport, path => '/-/ready')->{status} == 200
} 30;
ok($ready, 'Prometheus is ready')
    or BAIL_OUT('Prometheus did not start: '
                . `tail -5 $pdir/prometheus.log`);

my ($sent, $events) = (0, 0);

for my $phase (0, 1) {
    if ($phase) {
        # Prometheus has the first phase's figures from the old workers
        my $q = 'sum(nginx_kafka_produce_requests_total{topic="prom-ok"})';
        my $before = wait_until { (query($q) // 0) == $ok[0] } 20, 0.5;
        ok($before, "before the reload, Prometheus scraped $ok[0] requests");
        ok($ngx->reload, 'nginx -s reload in the middle');
    }

    my %status;
    for my $i (1 .. $ok[$phase]) {
        my $r = http_request(nginx => $ngx, method => 'POST', path => '/p',
                             body => "record $phase.$i");
        $status{$r->{status}}++;
    }
    $sent += $ok[$phase];
    is($status{200}, $ok[$phase], "phase $phase: $ok[$phase] records acked");

    %status = ();
    for my $i (1 .. $fail[$phase]) {
        my $r = http_request(nginx => $ngx, method => 'POST', path => '/bad',
                             body => 'lost');
        $status{$r->{status}}++;
    }
    is($status{404}, $fail[$phase],
       "phase $phase: $fail[$phase] produce failures (404)");

    for my $i (1 .. $streams[$phase]) {
        is(sse_read($sent), $sent, "phase $phase: stream $i reads $sent");
        $events += $sent;
    }
}

my $ok = $ok[0] + $ok[1];
my $fail = $fail[0] + $fail[1];
my $streams = $streams[0] + $streams[1];

my %want = (
    'sum(nginx_kafka_produce_requests_total{topic="prom-ok",status="200"})'
        => $ok,
    'sum(nginx_kafka_produce_requests_total{topic="prom-fail",status="404"})'
        => $fail,
    'sum(nginx_kafka_produce_records_total{topic="prom-ok",result="acked"})'
        => $ok,
    'sum(nginx_kafka_produce_records_total{topic="prom-fail",result="failed"})'
        => $fail,
    'sum(nginx_kafka_produce_ack_seconds_count{topic="prom-ok"})' => $ok,
    'sum(nginx_kafka_sse_events_total{topic="prom-ok"})' => $events,
    'sum(nginx_kafka_sse_streams_closed_total{topic="prom-ok",reason="client"})'
        => $streams,
    'sum(nginx_kafka_sse_streams{topic="prom-ok"})' => 0,
    'sum(resets(nginx_kafka_produce_requests_total[10m]))' => 0,
    'sum(resets(nginx_kafka_sse_events_total[10m]))' => 0,
);

# the last scrapes must have seen everything
my %got;
wait_until {
    %got = map { ($_ => query($_)) } keys %want;
    !grep { ($got{$_} // -1) != $want{$_} } keys %want;
} 20, 0.5;

for my $q (sort keys %want) {
    is($got{$q}, $want{$q}, "Prometheus: $q = $want{$q}");
}

is(scalar @{ dump_topic($bs, 'prom-ok') }, $ok,
   "Kafka holds the $ok acked records");

$ngx->stop;
check_error_log_clean($ngx);

done_testing();
