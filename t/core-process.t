# The per-worker client core as processes: "nginx -t" (a valid
# configuration passes; acks=1 against the default idempotence is refused
# there, while a started nginx only fails in its worker), and reload/quit
# with the broker up and down, with a request in flight.  Scenarios that
# blocks cannot express; the configuration checks at start and the event
# bridge are blocks in t/core.t.

use strict;
use warnings;

use lib 't/lib';
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use KafkaGateway::Test qw(start_broker start_nginx http_request wait_until
                          dump_topic check_error_log_clean free_port);

plan skip_all => 'no dev broker (run "make test")'
    unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');

my $nginx_bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';

# Runs "nginx -t" on a configuration; returns (exit status, output).
sub nginx_t {
    my ($server, %opts) = @_;
    my $prefix = tempdir('kgw-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    mkdir "$prefix/$_" for qw(conf logs);
    my $ngx = bless { prefix => $prefix, port => free_port(), opts => {} },
                    'KafkaGateway::Test::Nginx';
    $ngx->write_config($server, %opts);
    my $out = `$nginx_bin -t -p $prefix/ -c conf/nginx.conf -e logs/error.log 2>&1`;
    return ($? >> 8, $out);
}

my $broker = start_broker(brokers => 1, topics => ['core:2']);
my $bs = $broker->bootstrap;

my $produce = <<"_EOC_";
    location /p {
        kafka_produce core;
        kafka_produce_timeout 3s;
    }
_EOC_


# nginx -t

{
    my ($rc, $out) = nginx_t($produce, http_config => "kafka_brokers $bs;");
    is($rc, 0, 'nginx -t: a valid configuration passes');
    like($out, qr/test is successful/, '... and says so');
}

{
    my ($rc, $out) = nginx_t($produce, http_config => <<"_EOC_");
    kafka_brokers $bs;
    kafka_producer_property acks 1;
_EOC_
    isnt($rc, 0, 'nginx -t: acks=1 with the default idempotence fails');
    like($out, qr/\[emerg\].*(idempotence|acks)/i,
         '... with librdkafka\'s reason');
}


# Reload and quit with the broker up.

my $ngx = start_nginx($produce, http_config => "kafka_brokers $bs;",
                      log_level => 'debug');

{
    my $t0 = time;
    $ngx->reload;
    my $took = time - $t0;
    ok($took < 1, sprintf 'reload with the broker up: %.3f s', $took);
    my $res = http_request(nginx => $ngx, method => 'POST', path => '/p',
                           body => 'after reload');
    is($res->{status}, 200, 'the new worker produces');
}

my $quit = $ngx->quit(timeout => 10);
ok(defined $quit && $quit < 2,
   sprintf 'quit with the broker up: %.3f s', $quit // -1);
check_error_log_clean($ngx);


# Reload and quit with the broker down, and with a request waiting for
# its acknowledgement.

$ngx = start_nginx($produce, http_config => <<"_EOC_");
    kafka_brokers $bs;
    kafka_shutdown_timeout 1s;
_EOC_
is(http_request(nginx => $ngx, method => 'POST', path => '/p',
                body => 'warm up')->{status}, 200, 'connected to the broker');

$broker->control('down all');

{
    my $t0 = time;
    $ngx->reload;
    my $took = time - $t0;
    ok($took < 1, sprintf 'reload with the broker down: %.3f s', $took);

    my $res = http_request(nginx => $ngx, method => 'POST', path => '/p',
                           body => 'lost', timeout => 10);
    is($res->{status}, 503, 'broker down: 503 within kafka_produce_timeout');
    like($res->{body}, qr/^\{"error_code":50\d\d\d,/, '... with a JSON body');
}

{
    # a request waits for its acknowledgement while nginx is told to quit
    my $pid = fork;
    if ($pid == 0) {
        http_request(nginx => $ngx, method => 'POST', path => '/p',
                     body => 'in flight', timeout => 10);
        POSIX::_exit(0);
    }
    sleep 0.5;

    my $quit = $ngx->quit(timeout => 15);
    waitpid $pid, 0;
    ok(defined $quit && $quit < 4,
       sprintf 'quit with the broker down and a request in flight: %.3f s '
               . '(kafka_shutdown_timeout 1s)', $quit // -1);
    unlike($ngx->error_log, qr/open socket #\d+ left|\[alert\]/,
           'no "open socket left" or other alerts');
}

$broker->control('up all');

done_testing();
