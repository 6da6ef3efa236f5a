package KafkaGateway::Blocks;

# Extra block sections for Test::Nginx::Socket suites that put records in
# Kafka, drive the dev broker, read SSE streams and check what really
# landed in Kafka.  Only Test::Nginx's public hooks are used
# (add_block_preprocessor, add_response_body_check), so they run the same
# under the CPAN Test::Nginx and our t/compat runner.
#
# Before nginx starts (a block preprocessor):
#
#   --- kafka_topics: NAME:PARTITIONS ...
#       Creates the topics on the dev broker ($TEST_NGINX_KAFKA_CONTROL).
#
#   --- kafka_produce_before eval
#   [ { topic => "t", partition => 0, key => "k", value => "v",
#       headers => { "x-a" => "1" } }, sub { ... }, ... ]
#       Produces the records, in order, with KafkaGateway::Test's produce
#       (kcat; any bytes; undef key = no key).  A code ref is called at its
#       place (to note a time, for instance).
#
#   --- kafka_produce_during eval
#   [ { topic => "t", value => "v" }, ... ]
#       The same, once the SSE stream of the first record's topic has
#       started (nginx's debug log says "kafka sse stream of "t" starts"):
#       records a stream must see live.  A test checks it happened.
#
#   --- sse_other_client eval
#   { request => "GET /s/t HTTP/1.0", headers => { "Last-Event-ID" => "0:1" },
#     status => 200, sse_data => [ ... ] }
#       Another client streams at the same time as the block's request
#       (from when the block's nginx accepts, until silent for the block's
#       timeout); its status and body are checked as status, sse_events
#       and sse_data say (below).  An array of them: as many clients.  The
#       block's request waits for their streams to start (an --- init is
#       set), and kafka_produce_during for every stream of its topic.
#
#   --- sse_reload_after: TOPIC SECONDS
#       SECONDS after the SSE stream of TOPIC started, nginx is reloaded:
#       its old worker ends every stream (": closing: ..." and the end of
#       the response), so an HTTP/1.1 stream ends with its last chunk.
#
# Around the requests (after each response, a response body check):
#
#   --- kafka_control eval
#   { start => 'rtt all 1000', 0 => 'down all',
#     2 => [ qr/kafka_produce: 1 report\(s\) for a gone request/, 'up all' ] }
#       Steps run before nginx starts ("start") or after response N
#       (0-based).  A string is a dev broker control command; a qr// waits
#       for an error log line of this block matching it (one test: it came
#       within the patience); a code ref is called.  After the last
#       response the brokers are restored ("up all", "rtt all 0") whenever
#       a command was sent.
#
# Checks of each response (before its kafka_control steps):
#
#   --- kafka_records eval
#   [ { key => "k1", value => "hello", headers => { "x-a" => "1" } }, ... ]
#       The response's "offsets" name, record by record, where each record
#       was written; the record found at that partition and offset must have
#       exactly this key (undef = no key), value (undef = null) and, if
#       given, these headers (and no others; a qr// value is matched) and
#       partition.
#
#   --- sse_events eval
#   [ { retry => 1500, id => qr/^0:0/ }, { event => "t", data => "v" } ]
#       The response body parsed as a browser's EventSource reads it, one
#       hash per block (the text up to a blank line): id, event, retry,
#       data (its lines joined with "\n"; undef when there is none) and
#       comments (an array, when there are some).  There must be exactly
#       as many blocks as listed; each listed key must match (a qr// is
#       matched, undef means absent, an array is compared element by
#       element); keys not listed are not checked.
#
#   --- sse_data eval
#   [ "a1", "a2" ]            the data of the events (blocks with data), in
#                             this order, and no other;
#   { 0 => [ "p0-1" ], 1 => [ "p1-0" ] }
#                             the same per partition (the partition whose
#                             offset the event's id moved on), the order
#                             between partitions free;
#   { unordered => [ "a", "b" ] }
#                             these, in any order (records filtered out
#                             move other partitions on too).
#       sse_other_client bodies are checked the same way.
#
# After each response's kafka_control steps (after the last one's, the
# brokers restored):
#
#   --- kafka_topic_count: TOPIC N
#       The topic holds exactly N records (0: the requests produced
#       nothing).  Waits up to 15 s (60 under valgrind) for the count to be
#       reached, then checks it is not exceeded.
#
# After the last response:
#
#   --- error_log_allowed eval
#   [ qr/kafka producer: .*Connection refused/ ]
#       Every [error], [crit], [alert] or [emerg] line of the block's error
#       log matches one of these (for blocks that expect some errors).
#
#   --- kafka_topic_values eval
#   { topic => "t", values => [ "a", "b" ] }
#       The values in the topic, sorted, are exactly these (sorted); waits
#       as kafka_topic_count does.
#
# Streams never end: an SSE block sends "GET ... HTTP/1.0" (not chunked, so
# a partial body is a body) with "--- timeout" and "--- abort", and is read
# until it is silent that long.  Under TEST_NGINX_USE_VALGRIND a block's
# timeout with --- abort is multiplied by 3: the silence must be nginx's,
# not valgrind's.
#
# For an --- init: KafkaGateway::Blocks::wait_log(qr/.../) waits for an
# error log line (a ready worker, say).  KafkaGateway::Blocks::reload()
# reloads the block's nginx (after the init has changed a file it reads)
# and returns once the old workers are gone; reload(refused => qr/.../)
# once the refusal is logged, the old workers still running.
#
# Use: use KafkaGateway::Blocks; after "use Test::Nginx::Socket".

use strict;
use warnings;

use Test::More;
use JSON::PP ();
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use POSIX ();
use Scalar::Util qw(refaddr);
use Time::HiRes qw(sleep time);
use KafkaGateway::Test qw(dump_topic produce shared_broker);

my $Valgrind = $ENV{TEST_NGINX_USE_VALGRIND};

# how long a wait for a condition may take before it fails
our $Patience = $Valgrind ? 60 : 15;

my %Child;          # block => pids of its after_stream_start children
my %Other;          # block => [pid, body file, spec] per sse_other_client
my $Touched;        # a broker control command was sent

sub section {
    my ($block, $name) = @_;
    return $block->can($name) ? scalar $block->$name : undef;
}

sub error_log_file {
    no warnings 'once';
    return $Test::Nginx::Util::ErrLogFile;
}

sub slurp {
    my $file = shift;
    open my $in, '<', $file or return '';
    local $/;
    my $data = <$in>;
    return $data // '';
}

# the error log of this block: both runners start each block with a new
# one (a child started before that reads the last block's first: each
# block streams its own topics)
sub block_log {
    return slurp(error_log_file());
}

sub nginx_pid {
    no warnings 'once';
    return slurp($Test::Nginx::Util::PidFile) =~ /(\d+)/ ? $1 : undef;
}

sub control {
    my $cmd = shift;
    my $broker = shared_broker()
        or die "kafka_control: TEST_NGINX_KAFKA_BROKERS is not set\n";
    $Touched = 1;
    $broker->control($cmd);
}

sub run_steps {
    my ($block, $steps) = @_;
    my $name = $block->name;

    for my $step (ref $steps eq 'ARRAY' ? @$steps : $steps) {
        if (ref $step eq 'Regexp') {
            my $deadline = time + $Patience;
            my $found;
            while (1) {
                last if $found = block_log($block) =~ $step;
                last if time >= $deadline;
                sleep 0.05;
            }
            ok($found, "$name - error.log shows $step");

        } elsif (ref $step eq 'CODE') {
            $step->($block);

        } else {
            control($step);
        }
    }
}

sub restore_brokers {
    return unless $Touched;
    undef $Touched;
    control('up all');
    control('rtt all 0');
    undef $Touched;
}

END {
    local $?;
    eval { restore_brokers() };
}

sub produce_records {
    my ($records) = @_;
    my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS};

    for my $rec (@$records) {
        if (ref $rec eq 'CODE') {
            $rec->();
            next;
        }
        my %r = %$rec;
        my $topic = delete $r{topic};
        produce($brokers, $topic, %r);
    }
}

# Waits in a child for the stream(s) of $topic to start, then runs $then.
sub after_stream_start {
    my ($block, $topic, $then, $streams) = @_;
    my $name = $block->name;
    my $re = qr/kafka sse stream of "\Q$topic\E" starts/;
    $streams ||= 1;

    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid) {
        push @{ $Child{refaddr $block} }, $pid;
        return;
    }

    my $ok = eval {
        my $deadline = time + $Patience;
        until ((() = block_log($block) =~ /$re/g) >= $streams) {
            die "no \"kafka sse stream of \"$topic\" starts\" in the "
                . "debug log within $Patience s\n" if time >= $deadline;
            sleep 0.05;
        }
        $then->();
        1;
    };
    print STDERR "# $name: $@" unless $ok;
    POSIX::_exit($ok ? 0 : 1);
}

sub preprocess {
    my $block = shift;
    my $name = $block->name;


    if ($Valgrind && defined section($block, 'abort')
        && defined(my $t = section($block, 'timeout')))
    {
        $t =~ s/^\s+|\s+$//g;
        my $secs = $t =~ /^(.*?)ms$/ ? $1 / 1000 : ($t =~ s/s$//r);
        $block->set_value('timeout', $secs * 3);
    }

    # a block without a timeout of its own (and not cut by --- abort, whose
    # silence is the expected end) gets 20 s under valgrind rather than the
    # runners' 3 s: a worker's first request that waits for Kafka metadata
    # took longer than 3 s there (t/catalog.t TEST 1, three runs at once);
    # the answer ends the wait, so only a hang waits this long
    if ($Valgrind && !defined section($block, 'timeout')
        && !defined section($block, 'abort'))
    {
        $block->set_value('timeout', 20);
    }

    if (defined(my $topics = section($block, 'kafka_topics'))) {
        for my $t (split ' ', $topics) {
            my ($topic, $parts) = split /:/, $t;
            control("topic $topic " . ($parts || 1));
        }
    }

    my $steps = section($block, 'kafka_control');
    if ($steps && exists $steps->{start}) {
        run_steps($block, $steps->{start});
    }

    if (my $records = section($block, 'kafka_produce_before')) {
        produce_records($records);
    }

    my $others = section($block, 'sse_other_client');
    $others = [$others] if ref $others eq 'HASH';
    if ($others) {
        other_client($block, $_) for @$others;
        $block->set_value('init',
            'KafkaGateway::Blocks::wait_streams(' . @$others . ')')
            unless defined section($block, 'init');
    }

    if (my $records = section($block, 'kafka_produce_during')) {
        after_stream_start($block, $records->[0]{topic},
                           sub { produce_records($records) },
                           1 + @{ $others || [] });
    }

    if (defined(my $spec = section($block, 'sse_reload_after'))) {
        my ($topic, $secs) = split ' ', $spec;
        after_stream_start($block, $topic, sub {
            sleep $secs;
            my $pid = nginx_pid()
                or die "no nginx pid in $Test::Nginx::Util::PidFile\n";
            kill 'HUP', $pid or die "kill HUP $pid: $!\n";
        });
    }
}

# A client in a child: connects once nginx accepts, sends the request and
# reads until the connection is silent for the block's timeout; the body
# (after the headers) goes to a file the check reads.
sub other_client {
    my ($block, $spec) = @_;
    my $file = File::Temp->new(TMPDIR => 1);
    my $timeout = section($block, 'timeout') // 3;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || $Test::Nginx::Util::ServerPort;

    # the CPAN runner stops the last block's nginx after the preprocessors
    my $old = nginx_pid();

    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid) {
        push @{ $Other{refaddr $block} }, [$pid, $file, $spec];
        return;
    }

    my $ok = eval {
        my $deadline = time + $Patience;
        my $s;
        until (($s = nginx_pid()) && $s != ($old // 0) && kill 0, $s) {
            die "no new nginx\n" if time >= $deadline;
            sleep 0.05;
        }
        until ($s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $port)) {
            die "cannot connect to port $port: $!\n" if time >= $deadline;
            sleep 0.05;
        }
        my ($line, $path) = $spec->{request} =~ /^(\S+ (\S+)) (\S+)$/
            or die "sse_other_client: bad request $spec->{request}\n";
        my $h = $spec->{headers} || {};
        print $s "$spec->{request}\r\nHost: localhost\r\n"
                 . join('', map { "$_: $h->{$_}\r\n" } sort keys %$h)
                 . "\r\n";
        my $sel = IO::Select->new($s);
        my $raw = '';
        while ($sel->can_read($timeout)) {
            my $n = sysread $s, my $buf, 65536;
            last unless $n;
            $raw .= $buf;
        }
        close $s;
        open my $out, '>', $file->filename or die "$file: $!\n";
        print $out $raw;
        close $out;
        1;
    };
    print STDERR "# sse_other_client: $@" unless $ok;
    POSIX::_exit($ok ? 0 : 1);
}

# For an --- init: waits until the block's error log has a line matching
# $re (e.g. the worker's "kafka producer ... started": requests then meet
# a ready worker, however slow nginx starts)
sub wait_log {
    my $re = shift;
    my $deadline = time + $Patience;
    until (block_log() =~ $re) {
        die "no error log line matches $re within $Patience s\n"
            if time >= $deadline;
        sleep 0.05;
    }
}

# the workers of nginx master $pid (a worker the master has not reaped
# yet is still listed)
sub workers_of {
    my $pid = shift;
    return `ps -o pid= --ppid $pid` =~ /(\d+)/g;
}

# For an --- init: reloads the block's nginx (SIGHUP to its master) and
# returns once every worker it had has exited and a new one runs, so that
# the block's requests meet the configuration as the files now say (an old
# worker may still accept a connection until it has seen the reload).
# With refused => qr/.../, a reload the master must refuse: returns once
# the block's error log has a line matching it, and dies unless the old
# workers still run.
sub reload {
    my %opts = @_;
    my $pid = nginx_pid()
        or die "reload: no nginx pid in $Test::Nginx::Util::PidFile\n";
    my %old = map { ($_ => 1) } workers_of($pid);
    die "reload: nginx $pid has no workers\n" unless %old;

    kill 'HUP', $pid or die "reload: kill HUP $pid: $!\n";

    if (my $re = $opts{refused}) {
        wait_log($re);
        my %now = map { ($_ => 1) } workers_of($pid);
        my @gone = grep { !$now{$_} } sort keys %old;
        die "reload: refused, yet worker(s) @gone exited\n" if @gone;
        return;
    }

    my $deadline = time + $Patience;
    while (1) {
        my @now = workers_of($pid);
        return if @now && !grep { $old{$_} } @now;
        die "reload: the old workers did not make way for new ones "
            . "within $Patience s\n" if time >= $deadline;
        sleep 0.05;
    }
}

# --- init of a block with other clients: their streams have started
sub wait_streams {
    my $n = shift;
    my $re = qr/kafka sse stream of "[^"]+" starts/;
    my $deadline = time + $Patience;
    until ((() = block_log() =~ /$re/g) >= $n) {
        die "$n stream(s) did not start within $Patience s\n"
            if time >= $deadline;
        sleep 0.05;
    }
}

sub wait_child {
    my $pid = shift;
    my $deadline = time + $Patience;
    while (time < $deadline) {
        return $? == 0 if waitpid($pid, POSIX::WNOHANG()) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return 0;
}

# the number of responses a block expects
sub responses {
    my $block = shift;
    my $p = section($block, 'pipelined_requests');
    return scalar @$p if ref $p eq 'ARRAY';
    my $r = section($block, 'request');
    return scalar @$r if ref $r eq 'ARRAY';
    return 1;
}

sub check {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $name = $block->name;
    my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS};

    return if $dry_run;

    if (my $pids = delete $Child{refaddr $block}) {
        for my $pid (@$pids) {
            ok(wait_child($pid), "$name - the stream started, then the "
                                 . "records were produced or nginx reloaded");
        }
    }

    check_sse($block, $body, section($block, 'sse_events'),
              section($block, 'sse_data'), '');

    my $i = 0;
    for my $other (@{ delete $Other{refaddr $block} || [] }) {
        my ($pid, $file, $spec) = @$other;
        my $who = " sse_other_client[" . $i++ . "]";
        ok(wait_child($pid), "$name$who - read its stream");
        my ($head, $rest) = split /\r\n\r\n/, slurp($file->filename), 2;
        if (defined $spec->{status}) {
            is(($head // '') =~ m{^HTTP/\S+ (\d+)} ? $1 : undef,
               $spec->{status}, "$name$who - status");
        }
        check_sse($block, $rest, $spec->{sse_events}, $spec->{sse_data},
                  $who);
    }

    if (defined(my $want = section($block, 'kafka_records'))) {
        check_records($block, $body, $want);
    }

    if (my $steps = section($block, 'kafka_control')) {
        run_steps($block, $steps->{$req_idx}) if exists $steps->{$req_idx};
    }

    my $last = $req_idx == responses($block) - 1;

    restore_brokers() if $last;

    if (defined(my $spec = section($block, 'kafka_topic_count'))) {
        my ($topic, $want) = split ' ', $spec;
        my $records = wait_records($topic, $want);
        is(scalar @$records, $want,
           "$name - topic $topic holds $want record(s)");
    }

    # the block's end state
    return unless $last;

    if (my $allowed = section($block, 'error_log_allowed')) {
        $allowed = [$allowed] unless ref $allowed eq 'ARRAY';
        my @bad = grep { my $l = $_; !grep { $l =~ $_ } @$allowed }
                  grep { /\[(?:error|crit|alert|emerg)\]/ }
                  split /\n/, block_log();
        ok(!@bad, "$name - error_log_allowed: no other [error], [crit], "
                  . "[alert] or [emerg] line") or diag(join "\n", @bad);
    }

    if (defined(my $spec = section($block, 'kafka_topic_values'))) {
        my $want = [ sort @{ $spec->{values} } ];
        my $records = wait_records($spec->{topic}, scalar @$want);
        is_deeply([ sort map { decode_b64($_->{value_b64}) } @$records ],
                  $want, "$name - the values in topic $spec->{topic}");
    }
}

sub wait_records {
    my ($topic, $want) = @_;
    my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS};
    my $records = [];
    my $deadline = time + ($want ? $Patience : 0.5);
    while (1) {
        $records = dump_topic($brokers, $topic);
        last if ($want && @$records >= $want) || time >= $deadline;
        sleep 0.1;
    }
    return $records;
}

sub check_records {
    my ($block, $body, $want) = @_;
    my $name = $block->name;
    my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS};
    my $topic = section($block, 'kafka_topic')
        or die "$name: kafka_records needs kafka_topic";
    my $resp = eval { JSON::PP::decode_json($body) };
    my $offsets = $resp && $resp->{offsets};

    if (ref $offsets ne 'ARRAY' || @$offsets != @$want) {
        fail("$name - kafka_records - response lists "
             . scalar(@$want) . " offsets: $body");
        return;
    }

    my %at = map { ("$_->{partition}:$_->{offset}" => $_) }
             @{ dump_topic($brokers, $topic) };

    for my $i (0 .. $#$want) {
        my $o = $offsets->[$i];
        my $w = $want->[$i];
        my $got = $at{"$o->{partition}:$o->{offset}"};
        my $what = "$name - kafka_records[$i] at "
                   . "$o->{partition}:$o->{offset}";

        if (!$got) {
            fail("$what - record exists in Kafka");
            next;
        }

        is(decode_b64($got->{key_b64}), $w->{key}, "$what - key");
        is(decode_b64($got->{value_b64}), $w->{value}, "$what - value");

        if (exists $w->{partition}) {
            is($got->{partition}, $w->{partition}, "$what - partition");
        }

        if (exists $w->{headers}) {
            my %h = map { ($_->[0] => decode_b64($_->[2])) }
                    @{ $got->{headers} || [] };
            is(join(",", sort keys %h),
               join(",", sort keys %{ $w->{headers} }),
               "$what - header names");
            for my $k (sort keys %{ $w->{headers} }) {
                match($h{$k}, $w->{headers}{$k}, "$what - header $k");
            }
        }
    }
}

# is() or like(), as the expected value says
sub match {
    my ($got, $want, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return ref $want eq 'Regexp' ? like($got, $want, $what)
                                 : is($got, $want, $what);
}


# SSE

# The blocks of an event stream, as an EventSource reads them: fields
# split at the first ":" (one space after it dropped), "\r\n" and "\r" as
# line ends, an incomplete last block ignored.
sub sse_parse {
    my $body = shift // '';
    $body =~ s/\r\n?/\n/g;
    my @blocks;

    while ($body =~ /\G(.*?)\n\n/gcs) {
        my %b;
        my @data;
        for my $line (split /\n/, $1) {
            if ($line =~ /^:\s?(.*)$/) {
                push @{ $b{comments} }, $1;
                next;
            }
            my ($f, $v) = $line =~ /^([^:]*)(?::\s?(.*))?$/;
            $v //= '';
            if ($f eq 'data') {
                push @data, $v;
            } elsif ($f =~ /^(?:id|event|retry)$/) {
                $b{$f} = $v;
            }
        }
        $b{data} = join "\n", @data if @data;
        push @blocks, \%b;
    }

    return \@blocks;
}

# the partition each event's id moved on
sub sse_partition_of {
    my ($prev, $id) = @_;
    my %before = map { split /:/ } split /,/, $prev // '';
    my @moved = grep { ($before{$_->[0]} // -1) != $_->[1] }
                map { [split /:/] } split /,/, $id // '';
    return @moved == 1 ? $moved[0][0] : '?';
}

sub check_sse {
    my ($block, $body, $events, $data, $who) = @_;
    my $name = $block->name . $who;

    return unless $events || $data;

    my $blocks = sse_parse($body);

    if ($events) {
        is(scalar @$blocks, scalar @$events,
           "$name - sse_events - " . @$events . " block(s)")
            or diag("the stream:\n$body");

        for my $i (0 .. $#$events) {
            my $got = $blocks->[$i] || {};
            for my $k (sort keys %{ $events->[$i] }) {
                my $want = $events->[$i]{$k};
                my $what = "$name - sse_events[$i] $k";
                if (ref $want eq 'ARRAY') {
                    my $g = $got->{$k} || [];
                    is(scalar @$g, scalar @$want, "$what - count");
                    match($g->[$_], $want->[$_], "$what\[$_]")
                        for 0 .. $#$want;
                } else {
                    match($got->{$k}, $want, $what);
                }
            }
        }
    }

    if ($data) {
        my @ev = grep { defined $_->{data} } @$blocks;

        if (ref $data eq 'ARRAY') {
            is_deeply([ map { $_->{data} } @ev ], $data,
                      "$name - sse_data")
                or diag("the stream:\n$body");
            return;
        }

        if (my $set = $data->{unordered}) {
            is_deeply([ sort map { $_->{data} } @ev ], [ sort @$set ],
                      "$name - sse_data, in any order")
                or diag("the stream:\n$body");
            return;
        }

        my (%by, $prev);
        for my $b (@$blocks) {
            if (defined $b->{data}) {
                push @{ $by{ sse_partition_of($prev, $b->{id}) } },
                     $b->{data};
            }
            $prev = $b->{id} if defined $b->{id};
        }
        is_deeply(\%by, $data, "$name - sse_data by partition")
            or diag("the stream:\n$body");
    }
}

sub decode_b64 {
    my $s = shift;
    return undef unless defined $s;
    require MIME::Base64;
    return MIME::Base64::decode_base64($s);
}

Test::Nginx::Socket::add_block_preprocessor(\&preprocess);
Test::Nginx::Socket::add_response_body_check(\&check);

1;
