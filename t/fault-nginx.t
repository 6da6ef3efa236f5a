# nginx-side faults under concurrent produce load (2 workers): clients
# that vanish before their acknowledgement, "nginx -s reload" every 0.3 s,
# and kill -9 of a worker, twice.  Every request carries a unique id;
# afterwards every id answered 2xx must be in Kafka exactly once, and no
# id twice.  The counts are printed.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use KafkaGateway::Test qw(start_broker start_nginx http_request wait_until);
use KafkaGateway::Load qw(produce_load count_records);

plan skip_all => 'no dev broker (run "make test")'
    unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');
plan skip_all => 'signals, reloads and load: not under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

my $broker = start_broker(brokers => 3,
                          topics => ['fault-vanish:4', 'fault-reload:4',
                                     'fault-kill:4']);
my $bs = $broker->bootstrap;

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
