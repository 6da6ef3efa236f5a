# kafka_produce under a concurrent load, as the brokers go: all up, every
# broker down for about 10 s and back, then one broker of three down and
# back.  Every request carries a unique id; afterwards every id answered
# 2xx must be in Kafka exactly once (with every broker up: at the
# partition and offset its answer names, and every request answered 2xx),
# and every other answer must be an honest 503/504 with a JSON body.  The
# counts are printed.  (One broker going away between single requests,
# as blocks: t/produce-outage.t.)

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use KafkaGateway::Test qw(start_broker start_nginx http_request wait_until
                          dump_topic check_error_log_clean);
use KafkaGateway::Load qw(produce_load count_records);

plan skip_all => 'no dev broker (run "make test")'
    unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');
plan skip_all => 'load and outage timing: not under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

my $broker = start_broker(brokers => 3,
                          topics => ['fault-load:4', 'fault-all:4',
                                     'fault-one:4']);
my $bs = $broker->bootstrap;

# the broker that leads partition 0 of fault-one (the dev broker picks
# leaders at random unless told)
my $leader = 2;
ok(eval { $broker->control("leader fault-one 0 $leader") },
   "one down: broker $leader leads partition 0") or diag($@);

my $ngx = start_nginx(<<'_EOC_', http_config => "kafka_brokers $bs;",
    location /load {
        kafka_produce fault-load;
        kafka_produce_key $http_x_id;
        kafka_produce_timeout 3s;
    }
    location /all {
        kafka_produce fault-all;
        kafka_produce_key $http_x_id;
        kafka_produce_timeout 3s;
    }
    location /one {
        kafka_produce fault-one;
        kafka_produce_key $http_x_id;
        kafka_produce_timeout 3s;
    }
_EOC_
                      workers => 2);

sub ready {
    my $path = shift;
    return wait_until {
        http_request(nginx => $ngx, method => 'POST', path => $path,
                     headers => { 'X-Id' => 'warm-up' }, body => 'w')
            ->{status} == 200
    } 30, 0.2;
}

sub statuses_honest {
    my ($r, $name) = @_;
    my @other = grep { !/^(?:2\d\d|503|504|no answer)$/ }
                keys %{ $r->{status} };
    is("@other", '', "$name: every answer is 2xx, 503 or 504");
}


# Every broker up: 64 keepalive connections at once, 3200 requests, no
# rate cap; each is answered 2xx and is exactly one record in Kafka, at
# the partition and offset its answer names.

{
    my $conns = 64;
    my $total = $conns * 50;
    # no fault: the load runs until the $total requests are sent
    my $r = produce_load(port => $ngx->port, path => '/load', tag => 'load',
                         conns => $conns, max_requests => $total,
                         min_time => 120, max_time => 120);

    my $answered = 0;
    $answered += $r->{status}{$_} for grep { /^\d+$/ } keys %{ $r->{status} };
    is($answered, $total, "$total requests over $conns keepalive connections "
                          . 'all answered');
    is($r->{connections}, $conns,
       '... each connection kept alive (none had to be replaced)');
    note('statuses: ' . join ', ', map { "$_ x$r->{status}{$_}" }
                                   sort keys %{ $r->{status} });
    my $ok = keys %{ $r->{acked} };
    ok($ok > 0, "$ok answered 2xx");

    my $records = dump_topic($bs, 'fault-load', timeout => 60);
    my %in_kafka;
    my $dups = 0;
    for my $rec (@$records) {
        $dups++ if $in_kafka{ $rec->{key} // '' }++;
    }
    is(scalar @$records, $ok,
       'the topic holds exactly as many records as 2xx answers');
    is($dups, 0, 'no record is in Kafka twice');
    my @missing = grep { !$in_kafka{$_} } keys %{ $r->{acked} };
    is(scalar @missing, 0, 'every 2xx answer has its record')
        or diag("missing: @missing[0 .. ($#missing < 9 ? $#missing : 9)]");
    my %at = map { ("$_->{partition}:$_->{offset}" => $_->{key}) }
             @$records;
    my @wrong = grep { ($at{ $r->{at}{$_} // '' } // '') ne $_ }
                keys %{ $r->{acked} };
    is(scalar @wrong, 0,
       'each answer names the partition and offset of its own record');

    check_error_log_clean($ngx);
}


# Every broker down for about 10 s under load, then back.

ok(ready('/all'), 'all down: the gateway works before the outage');

{
    my $r = produce_load(
        port => $ngx->port, path => '/all', tag => 'all', conns => 24,
        rate => 2000,
        fault => sub {
            sleep 1;
            $broker->control('down all');
            sleep 10;
            $broker->control('up all');
        },
        # load goes on until the gateway acknowledges again
        min_time => 14, max_time => 40);

    count_records($bs, 'fault-all', $r, 'all brokers down 10 s',
                  other => qr/^warm-up$/);
    statuses_honest($r, 'all brokers down');
    ok($r->{status}{503} || $r->{status}{504},
       'all brokers down: the outage was answered 503/504');
    is($r->{status}{'no answer'} || 0, 0,
       'all brokers down: every request was answered');
}

ok(ready('/all'), 'all down: requests succeed again without a reload');


# One broker of three down under load: the partitions it leads are
# unavailable (the dev broker does not move leaders), the others go on.

ok(ready('/one'), 'one down: the gateway works before');

{
    my $r = produce_load(
        port => $ngx->port, path => '/one', tag => 'one', conns => 24,
        rate => 2000,
        fault => sub {
            sleep 1;
            $broker->control("down $leader");
            sleep 5;
            $broker->control("up $leader");
        },
        min_time => 8, max_time => 30);

    count_records($bs, 'fault-one', $r, 'one broker of three down 5 s',
                  other => qr/^warm-up$/);
    statuses_honest($r, 'one broker down');
    ok($r->{status}{503} || $r->{status}{504},
       'one broker down: records for its partitions were answered 503/504');
    is($r->{status}{'no answer'} || 0, 0,
       'one broker down: every request was answered');
}

ok(defined $ngx->stop, 'nginx quits');

# the outage is logged as errors, once per kind
check_error_log_clean($ngx, qr/kafka producer: .*(?:Disconnected|Connection refused|brokers are down|Connect to)/);

done_testing();
