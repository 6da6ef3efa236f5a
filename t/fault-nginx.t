# nginx as processes.  First the plain life of the per-worker client
# core: "nginx -t" (a valid configuration passes; acks=1 against the
# default idempotence is refused there, while a started nginx only fails
# in its worker), and reload and quit with the broker up and down, with a
# request in flight.  (The configuration checks at start and the event
# bridge are blocks in t/core.t.)
#
# Then nginx-side faults under concurrent produce load (2 workers):
# clients that vanish before their acknowledgement, "nginx -s reload"
# every 0.3 s, and kill -9 of a worker, twice.  Every request carries a
# unique id; afterwards every id answered 2xx must be in Kafka exactly
# once, and no id twice.  The counts are printed.

use strict;
use warnings;

use lib 't/lib';
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use KafkaGateway::Test qw(start_broker start_nginx http_request wait_until
                          check_error_log_clean free_port);
use KafkaGateway::Load qw(produce_load count_records);

plan skip_all => 'no dev broker (run "make test")'
    unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');
plan skip_all => 'signals, reloads and load: not under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

my $broker = start_broker(brokers => 3,
                          topics => ['fault-process:2', 'fault-vanish:4',
                                     'fault-reload:4', 'fault-kill:4']);
my $bs = $broker->bootstrap;

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

my $produce = <<"_EOC_";
    location /p {
        kafka_produce fault-process;
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

{
    my $ngx = start_nginx($produce, http_config => "kafka_brokers $bs;",
                          log_level => 'debug');

    my $t0 = time;
    $ngx->reload;
    my $took = time - $t0;
    ok($took < 1, sprintf 'reload with the broker up: %.3f s', $took);
    my $res = http_request(nginx => $ngx, method => 'POST', path => '/p',
                           body => 'after reload');
    is($res->{status}, 200, 'the new worker produces');

    my $quit = $ngx->quit(timeout => 10);
    ok(defined $quit && $quit < 2,
       sprintf 'quit with the broker up: %.3f s', $quit // -1);
    check_error_log_clean($ngx);
}


# Reload and quit with the broker down, and with a request waiting for
# its acknowledgement.

{
    my $ngx = start_nginx($produce, http_config => <<"_EOC_");
    kafka_brokers $bs;
    kafka_shutdown_timeout 1s;
_EOC_
    is(http_request(nginx => $ngx, method => 'POST', path => '/p',
                    body => 'warm up')->{status}, 200,
       'connected to the broker');

    $broker->control('down all');

    my $t0 = time;
    $ngx->reload;
    my $took = time - $t0;
    ok($took < 1, sprintf 'reload with the broker down: %.3f s', $took);

    my $res = http_request(nginx => $ngx, method => 'POST', path => '/p',
                           body => 'lost', timeout => 10);
    is($res->{status}, 503, 'broker down: 503 within kafka_produce_timeout');
    like($res->{body}, qr/^\{"error_code":50\d\d\d,/, '... with a JSON body');

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

    $broker->control('up all');
}


# Faults under load.

my $ngx = start_nginx(<<'_EOC_', http_config => "kafka_brokers $bs;",
    location ~ ^/(?<t>vanish|reload|kill)$ {
        kafka_produce fault-$t;
        kafka_produce_key $http_x_id;
        kafka_produce_timeout 5s;
    }
_EOC_
                      workers => 2);

sub produces {
    my $wait = shift;
    return wait_until {
        http_request(nginx => $ngx, method => 'POST', path => '/kill',
                     headers => { 'X-Id' => 'warm-up' }, body => 'w')
            ->{status} == 200
    } $wait, 0.2;
}

ok(produces(30), 'the gateway works');

# the error log from an offset: no [alert], [crit], [error] or crashed
# worker, except lines matching @allow
sub log_clean_from {
    my ($from, $name, @allow) = @_;
    my @bad = grep {
        my $l = $_;
        $l =~ /\[(?:alert|crit|error|emerg)\]|exited on signal|open socket/
            && !grep { $l =~ $_ } @allow;
    } split /\n/, substr($ngx->error_log, $from);
    ok(!@bad, "$name: no error, alert or crashed worker in the error log")
        or diag(join "\n", @bad[0 .. ($#bad < 19 ? $#bad : 19)]);
}


# Clients that vanish: 200 a second connect, send a request and close at
# once, while 16 keepalive clients wait for their answers.

{
    my $from = length $ngx->error_log;
    my $r = produce_load(port => $ngx->port, path => '/vanish',
                         tag => 'vanish', conns => 16, vanish => 2,
                         rate => 1500, min_time => 4, max_time => 20);
    count_records($bs, 'fault-vanish', $r, 'clients vanishing',
                  other => qr/^warm-up$/);
    ok($r->{vanished} > 100, "$r->{vanished} clients vanished");
    is($r->{status}{'no answer'} || 0, 0,
       'clients vanishing: every waiting client was answered');
    log_clean_from($from, 'clients vanishing');
}


# nginx -s reload every 0.3 s for 3 s.

{
    my $from = length $ngx->error_log;
    my $master = $ngx->pid;
    my $r = produce_load(
        port => $ngx->port, path => '/reload', tag => 'reload', conns => 24,
        rate => 1500, max_time => 30,
        fault => sub {
            sleep 0.5;
            for (1 .. 10) {
                kill 'HUP', $master or die "HUP: $!";
                sleep 0.3;
            }
        },
        min_time => 5);
    count_records($bs, 'fault-reload', $r, 'reload every 0.3 s',
                  other => qr/^warm-up$/);
    my $reloads = () = substr($ngx->error_log, $from)
                       =~ /signal 1 \(SIGHUP\) received/g;
    is($reloads, 10, 'nginx got the ten reloads');
    my $settled = wait_until { my @w = $ngx->workers; @w == 2 } 20;
    ok($settled, 'the old workers exit, two are left');
    log_clean_from($from, 'reload every 0.3 s');
}


# kill -9 of a worker, twice; the master starts a new one each time.

{
    my $from = length $ngx->error_log;
    my $killed = "$from.killed";
    my $r = produce_load(
        port => $ngx->port, path => '/kill', tag => 'kill', conns => 24,
        rate => 1500, max_time => 30,
        fault => sub {
            my @pids;
            for (1 .. 2) {
                sleep 1;
                my @before = $ngx->workers;
                die "not two workers: @before" unless @before == 2;
                kill 'KILL', $before[0] or die "kill: $!";
                push @pids, $before[0];
                # respawned: two workers again, the killed one not among
                # them
                wait_until {
                    my @now = $ngx->workers;
                    @now == 2 && !grep { $_ == $before[0] } @now;
                } 10 or die "no new worker after kill -9 of $before[0]";
            }
            open my $out, '>', $killed or die;
            print $out "@pids\n";
        },
        min_time => 4);
    count_records($bs, 'fault-kill', $r, 'kill -9 of a worker, twice',
                  other => qr/^warm-up$/);

    my ($pids) = do { local (@ARGV) = $killed; <> } // '';
    my @pids = split ' ', $pids;
    unlink $killed;
    is(scalar @pids, 2, "two workers killed: @pids");
    my @gone = grep { substr($ngx->error_log, $from)
                      =~ /worker process $_ exited on signal 9/ } @pids;
    is(scalar @gone, 2, 'the master saw both exit on signal 9');
    my @workers = $ngx->workers;
    is(scalar @workers, 2, 'and runs two workers again');
    ok(produces(10), 'the new workers produce');
    log_clean_from($from, 'kill -9',
                   map { qr/worker process $_ exited on signal 9/ } @pids);
}

ok(defined $ngx->stop, 'nginx quits');

done_testing();
