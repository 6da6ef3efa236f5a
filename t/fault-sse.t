# SSE across faults.
#
# First a reload with clients connected: the old worker ends its streams at
# once (a final comment, a proper end) and exits promptly, with no open
# socket left; clients that reconnect with their last id miss nothing and
# get nothing twice.
#
# Then one SSE client follows a topic while records flow, across faults:
# every broker down and back, a reload, kill -9 of its worker, and a move
# to a second nginx instance sharing the broker (read from A, reconnect to
# B with the last id).  Whenever its stream ends or breaks it reconnects
# with its last id, as a browser does.  At the end, what it received must
# be exactly what is in Kafka: every partition's records in offset order,
# no gap, nothing twice.

use strict;
use warnings;

use lib 't/lib';
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use KafkaGateway::Test qw(start_broker start_nginx http_request wait_until
                          dump_topic free_port check_error_log_clean);
use KafkaGateway::SSE qw(sse_open_at sse_read sse_close);

plan skip_all => 'no dev broker (run "make test")'
    unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');
plan skip_all => 'reload, kill -9 and two instances: not under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

my $topic = 'fault-sse';
my $parts = 3;
my $broker = start_broker(brokers => 3, topics => ["$topic:$parts"]);
my $bs = $broker->bootstrap;

my $locations = <<'_EOC_';
    location ~ ^/s/(?<t>[^/]+)$ {
        kafka_consume_sse $t;
        kafka_consume_format json;
        kafka_consume_start earliest;
        kafka_consume_retry 200ms;
        kafka_consume_heartbeat 1s;
        kafka_consume_timeout 2s;
    }
    location ~ ^/r/(?<t>[^/]+)$ {
        kafka_consume_sse $t;
        kafka_consume_format json;
    }
    location = /produce {
        kafka_produce $arg_topic;
        kafka_produce_partition $arg_partition;
        kafka_produce_timeout 2s;
    }
_EOC_
my $http = "kafka_brokers $bs;\n"
           . "    kafka_consumer_property fetch.wait.max.ms 100;\n";

my $na = start_nginx($locations, http_config => $http);
my $nb = start_nginx($locations, http_config => $http, port => free_port());


# 0. A reload with three clients connected, on a topic of its own.

sub produce_one {
    my ($topic, $value) = @_;
    my $r = http_request(nginx => $na, method => 'POST',
                         path => "/produce?topic=$topic&partition=0",
                         body => $value);
    die "produce to $topic: $r->{status} $r->{body}" if $r->{status} != 200;
}

{
    my $topic = 'fault-sse-reload';
    produce_one($topic, 'before');

    my @clients = map { sse_open_at($na->port, "/r/$topic") } 1 .. 3;
    sse_read($_, 5, until => sub { defined $_[0]{last_id} }) for @clients;

    produce_one($topic, "a$_") for 1 .. 3;
    sse_read($_, 5, until => sub { @{ $_[0]{events} } >= 3 }) for @clients;

    my ($old) = $na->workers;
    my $t0 = time();
    $na->reload;

    my $gone = wait_until { !kill(0, $old) && time() - $t0 } 5;

    ok(defined $gone && $gone < 3,
       'reload: the old worker exits promptly: '
       . (defined $gone ? sprintf('%.2f', $gone) : 'never') . ' s');

    for my $c (@clients) {
        sse_read($c, 3);
    }

    ok((grep { $_->{ended} && grep { /^closing: the server is restarting/ }
                                @{ $_->{comments} } } @clients) == 3,
       'reload: every stream ended with a comment saying why');
    ok((grep { $_->{complete} } @clients) == 3,
       'reload: and a proper end of response');

    # records produced while the clients are away

    produce_one($topic, "b$_") for 1 .. 3;

    for my $c (@clients) {
        sse_close($c);
        my $r = sse_open_at($na->port, "/r/$topic",
                            'Last-Event-ID' => $c->{last_id});
        sse_read($r, 8, until => sub { @{ $_[0]{events} } >= 3 });
        sse_read($r, 0.3) unless $r->{ended};
        sse_close($r);
        $c->{after} = [ map { /"value":"([^"]*)"/ ? $1 : '?' }
                        map { $_->{data} } @{ $r->{events} } ];
    }

    is_deeply([ map { join ',', @{ $_->{after} } } @clients ],
              [ ('b1,b2,b3') x 3 ],
              'reload: each client resumes with exactly the records it '
              . 'missed');

    my $log = $na->error_log;
    unlike($log, qr/open socket/,
           'reload: no open socket left in the old worker');
    unlike($log, qr/\[(alert|crit|emerg|error)\]/,
           'reload: no errors in the error log');
}

# The records: a child produces through instance B, round robin over the
# partitions, until told to stop.  What counts is what Kafka holds.
my $producer = fork // die "fork: $!";
if ($producer == 0) {
    my $stop = 0;
    local $SIG{TERM} = sub { $stop = 1 };
    for (my $i = 0; !$stop; $i++) {
        http_request(nginx => $nb, method => 'POST',
                     path => "/produce?topic=$topic&partition="
                             . ($i % $parts),
                     body => "rec-$i", timeout => 5);
        sleep 0.01;
    }
    POSIX::_exit(0);
}

# The client: one logical stream over as many connections as it takes.
my $json = JSON::PP->new;
my %client = (port => $na->port, conns => 0, events => [], last_id => undef,
              h => undef);

sub connect_client {
    my %headers;
    $headers{'Last-Event-ID'} = $client{last_id} if defined $client{last_id};
    $client{h} = sse_open_at($client{port}, "/s/$topic", %headers);
    $client{conns}++;
}

sub take_events {
    my $h = $client{h};
    if (@{ $h->{events} }) {
        push @{ $client{events} },
            map { $json->decode($_->{data}) } @{ $h->{events} };
        @{ $h->{events} } = ();
    }
    $client{last_id} = $h->{last_id} if defined $h->{last_id};
}

# reads until $cond (given the number of events so far) holds, reconnecting
# with the last id whenever the stream ends; returns $cond's last value
sub follow {
    my ($cond, $max) = @_;
    my $deadline = time + ($max || 30);
    while (1) {
        take_events();
        my $v = $cond->(scalar @{ $client{events} });
        return $v if $v || time >= $deadline;
        # ended: the connection closed; complete: the response ended (on
        # a keepalive connection), which ends an EventSource stream too
        if (!$client{h} || $client{h}{ended} || $client{h}{complete}) {
            sse_close($client{h}) if $client{h};
            # as a browser: wait the stream's retry: before reconnecting
            sleep(($client{h} && $client{h}{retry} || 200) / 1000);
            connect_client();
        }
        sse_read($client{h}, 0.2);
    }
}

sub more_events {
    my ($n, $what) = @_;
    my $want = @{ $client{events} } + $n;
    ok(follow(sub { $_[0] >= $want }),
       "$what: $n more events arrive (now $client{conns} connection(s))")
        or diag("the last stream: status " . ($client{h}{status} // '-')
                . ", ended $client{h}{ended}, complete "
                . ($client{h}{complete} // 0) . ", comments: "
                . join(' | ', @{ $client{h}{comments} })
                . ", last id " . ($client{last_id} // '-'));
}

connect_client();
more_events(30, 'start');


# 1. Every broker down and back.  The client also reconnects during the
# outage (its stream then says Kafka is not available and ends).

{
    my $from = length $na->error_log;
    $broker->control('down all');
    ok((wait_until { substr($na->error_log, $from)
                     =~ /brokers are down|Connection refused|Disconnected/ }
        20), 'broker down: the gateway noticed');
    sse_close($client{h});
    $client{h}{ended} = 1;
    follow(sub { 0 }, 1.5);
    $broker->control('up all');
    more_events(30, 'broker down and up');
}


# 2. A reload: the stream ends with a comment, the client comes back to a
# new worker.

{
    my $conns = $client{conns};
    $na->reload;
    # events the old stream sent before its end may still be unread (after
    # the outage a backlog arrives at once): read on until the client is
    # on a new connection and has 30 more events
    my $want = @{ $client{events} } + 30;
    ok(follow(sub { $_[0] >= $want && $client{conns} > $conns }),
       "reload: 30 more events arrive (now $client{conns} connection(s))");
    ok($client{conns} > $conns, 'reload: the client reconnected');
}


# 3. kill -9 of the client's worker: its connection breaks, the master
# starts a new worker, the client reconnects to it.

{
    # the old worker of the reload is gone: the one left is the client's
    my @workers;
    ok((wait_until { @workers = $na->workers; @workers == 1 } 20),
       'one worker left after the reload');
    my $conns = $client{conns};
    my ($worker) = @workers;
    ok(kill('KILL', $worker), "kill -9 of worker $worker");
    more_events(30, 'kill -9');
    ok($client{conns} > $conns, 'kill -9: the client reconnected');
    my @now = $na->workers;
    ok(@now == 1 && $now[0] != $worker, 'a new worker runs');
}


# 4. From instance A to instance B, with the last id.

{
    sse_read($client{h}, 0.3);
    take_events();
    sse_close($client{h});
    $client{port} = $nb->port;
    connect_client();
    more_events(30, 'instance A to instance B');
}


# The end: stop producing, read until the client has everything Kafka has.

kill 'TERM', $producer;
waitpid($producer, 0);

my $records = dump_topic($bs, $topic);
my $total = @$records;
ok(follow(sub { $_[0] >= $total }, 30),
   "the client received as many events as Kafka holds records ($total)");
follow(sub { 0 }, 0.5);

my (%kafka, %got);
push @{ $kafka{ $_->{partition} } }, "$_->{offset}:$_->{value}"
    for sort { $a->{partition} <=> $b->{partition}
               || $a->{offset} <=> $b->{offset} } @$records;
push @{ $got{ $_->{partition} } }, "$_->{offset}:$_->{value}"
    for @{ $client{events} };

my ($dups, $gaps) = (0, 0);
for my $p (0 .. $parts - 1) {
    my %seen;
    $dups += grep { $seen{$_}++ } @{ $got{$p} || [] };
    $gaps += grep { !$seen{$_} } @{ $kafka{$p} || [] };
}
diag(sprintf 'SSE across faults: %d records in Kafka, %d events received '
             . 'over %d connections, %d missing, %d duplicated',
     $total, scalar @{ $client{events} }, $client{conns}, $gaps, $dups);

for my $p (0 .. $parts - 1) {
    is_deeply($got{$p} || [], $kafka{$p} || [],
              "partition $p: every record once, in offset order");
}

ok(defined $na->stop, 'instance A quits');
ok(defined $nb->stop, 'instance B quits');

my $outage = qr/kafka (?:producer|consumer): .*(?:Disconnected|Connection refused|brokers are down|Connect to)|exited on signal 9/;
check_error_log_clean($na, $outage);
check_error_log_clean($nb, $outage);

done_testing();
