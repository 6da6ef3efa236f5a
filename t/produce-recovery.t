# How soon kafka_produce answers 2xx after a start and after every broker
# was down, with the module's own librdkafka defaults (no property set).
#
# Start: after a reload, once the new worker has started and settled, the
# first request to a topic the configuration names must not wait for the
# topic's metadata (librdkafka alone would ask for it only at its next
# scan of topics, once a second); nor must the first request to a topic
# from a variable that librdkafka has not seen yet.
#
# A trial: one request every 0.25 s (each on its own connection, answered
# whenever it is), every broker of a private dev broker down for 5 s, then
# back, and requests for 2.5 s more.  Per trial: the time from the
# brokers' return to the first 2xx answer (bound: 1.5 s), whether every
# request sent more than 2 s after the return was answered 2xx, and
# whether any request was answered by its own timer (50303, 504) rather
# than by librdkafka's report (message.timeout.ms must come first).  The
# figures of every trial are printed.
#
# Sections (checked after the block's request, a warm-up):
#   --- cold: PATH ...    reload, then time one POST to each PATH, one
#                         after the other (bound: 0.3 s each)
#   --- trials: N         N outage trials; TEST_NGINX_RECOVERY_TRIALS
#                         overrides N

# before Test::Nginx plans: a skipped file plans nothing else
BEGIN {
    require Test::More;
    Test::More::plan(skip_all => 'no dev broker (run "make test")')
        unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');
    Test::More::plan(skip_all => 'outage timing: not under valgrind')
        if $ENV{TEST_NGINX_USE_VALGRIND};
}

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Test qw(start_broker http_request wait_until);
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

master_on();
workers(1);
log_level('info');
no_shuffle();

my $broker = start_broker(brokers => 3, topics => ['recovery:4']);
$ENV{TEST_NGINX_RECOVERY_BROKERS} = $broker->bootstrap;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;

my ($DOWN, $AFTER, $EVERY) = (5, 2.5, 0.25);

# one request in a child; its line "sent status error_code answered" (times
# in seconds since $t0) goes to $out
sub fire {
    my ($out, $t0, $n) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    return $pid if $pid;
    my $sent = time - $t0;
    my $r = http_request(port => $port, method => 'POST', path => '/p',
                         body => "r$n", timeout => 10);
    my $code = '-';
    if ($r->{status} != 200) {
        my $doc = eval { JSON::PP::decode_json($r->{body}) };
        $code = $doc->{error_code} // '-' if ref $doc eq 'HASH';
    }
    open my $fh, '>>', $out or POSIX::_exit(1);
    printf $fh "%.3f %d %s %.3f\n", $sent, $r->{status}, $code, time - $t0;
    close $fh;
    POSIX::_exit(0);
}

# returns { first => s to the first 2xx after the return (undef: none),
#           late => requests sent > 2 s after the return not answered 2xx,
#           timer => answers by the request's own timer, n => requests }
sub trial {
    my ($dir, $i) = @_;
    my $out = "$dir/trial$i";
    unlink $out;
    my (@pids, $n);
    my $t0 = time;

    $broker->control('down all');
    my $up_at;
    while (1) {
        my $now = time - $t0;
        if (!defined $up_at && $now >= $DOWN) {
            $broker->control('up all');
            $up_at = time - $t0;
        }
        last if defined $up_at && $now >= $up_at + $AFTER;
        push @pids, fire($out, $t0, ++$n);
        sleep $EVERY;
    }
    waitpid $_, 0 for @pids;

    open my $fh, '<', $out or die "$out: $!";
    my @lines = map { [split] } <$fh>;
    close $fh;

    my ($first, @late, $timer);
    for my $l (@lines) {
        my ($sent, $status, $code, $answered) = @$l;
        if ($status == 200 && $answered >= $up_at) {
            my $d = $answered - $up_at;
            $first = $d if !defined $first || $d < $first;
        }
        push @late, "$status/$code" if $sent > $up_at + 2 && $status != 200;
        $timer++ if $code eq '50303' || $status == 504;
    }
    return { first => $first, late => \@late, timer => $timer // 0,
             n => scalar @lines };
}

# the first request to PATH after a reload, once the new worker settled
sub cold {
    my ($name, $path) = @_;
    my $root = $Test::Nginx::Util::ServRoot // $ENV{TEST_NGINX_SERVER_ROOT};
    my $log = "$root/logs/error.log";
    my $started = sub {
        open my $fh, '<', $log or return 0;
        return scalar grep { /kafka producer \S+ started/ } <$fh>;
    };
    my $before = $started->();
    open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
    chomp(my $master = <$fh>);
    close $fh;
    kill 'HUP', $master or die "kill -HUP $master: $!";
    ok((wait_until { $started->() > $before } 10, 0.05),
       "$name - the new worker's producer started");
    sleep 0.5;    # its first exchanges with Kafka are over
    # one after the other: a path that waited for librdkafka's scan of
    # topics would leave the next one a whole scan interval to wait
    for my $p (split ' ', $path) {
        my $t = time;
        my $r = http_request(port => $port, method => 'POST', path => $p,
                             body => 'cold', timeout => 10);
        my $took = time - $t;
        diag(sprintf "$name: the first request after the start to $p "
                     . "took %.3f s", $took);
        is($r->{status}, 200, "$name - the first request to $p: 200");
        ok($took < 0.3, "$name - ... within 0.3 s: "
                        . sprintf('%.3f s', $took));
    }
}

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated, $dry_run) = @_;
    return if $dry_run;
    cold($block->name, $block->cold) if $block->cold;
    my $trials = $block->trials or return;
    $trials = $ENV{TEST_NGINX_RECOVERY_TRIALS} || $trials;
    my $name = $block->name;
    my $dir = File::Temp::tempdir(CLEANUP => 1);

    my @firsts;
    for my $i (1 .. $trials) {
        my $t = trial($dir, $i);
        my $first = defined $t->{first} ? sprintf('%.2f s', $t->{first})
                                        : 'none';
        diag("$name: trial $i: first 2xx $first after the return; "
             . "$t->{n} requests; not 2xx > 2 s after: "
             . scalar(@{ $t->{late} }) . "; own timer: $t->{timer}");
        push @firsts, $t->{first} // 99;
        ok(defined $t->{first} && $t->{first} <= 1.5,
           "$name - trial $i: a 2xx within 1.5 s of the brokers' return");
        is("@{ $t->{late} }", '',
           "$name - trial $i: every request sent 2 s after it is 2xx");
        is($t->{timer}, 0, "$name - trial $i: no answer by the request's "
                           . 'own timer');
        # the next trial starts from a producer that works again
        wait_until {
            http_request(port => $port, method => 'POST', path => '/p',
                         body => 'between')->{status} == 200
        } 10, 0.2;
    }
    my @s = sort { $a <=> $b } @firsts;
    diag(sprintf "$name: first 2xx after the return over %d trials: "
                 . "min %.2f s, median %.2f s, max %.2f s",
                 scalar @s, $s[0], $s[$#s / 2], $s[-1]);
});

run_tests();

__DATA__

=== TEST 1: the first request after a start, to a topic the configuration names, does not wait for the topic's metadata
--- http_config
    kafka_brokers $TEST_NGINX_RECOVERY_BROKERS;
--- config
    location = /p {
        kafka_produce recovery;
    }
    location = /cold {
        kafka_produce recovery-cold;
    }
--- request
POST /p
warm-up
--- cold: /cold
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: the first request after a start, to a topic from a variable that librdkafka has not seen, does not wait for librdkafka's next scan of topics
--- http_config
    kafka_brokers $TEST_NGINX_RECOVERY_BROKERS;
--- config
    location = /p {
        kafka_produce recovery;
    }
    location ~ ^/v/(?<t>[a-z-]+)$ {
        kafka_produce $t;
    }
--- request
POST /p
warm-up
--- cold: /v/recovery-cold-one /v/recovery-cold-two /v/recovery-cold-three
--- no_error_log
[error]
[alert]
[crit]



=== TEST 3: every broker down 5 s under a request every 0.25 s, then back: 2xx again within 1.5 s, and librdkafka's report answers before the request's timer
--- http_config
    kafka_brokers $TEST_NGINX_RECOVERY_BROKERS;
--- config
    location = /p {
        kafka_produce recovery;
        kafka_produce_timeout 3s;
    }
--- request
POST /p
warm-up
--- timeout: 15
--- trials: 10
--- no_error_log
[alert]
[crit]
