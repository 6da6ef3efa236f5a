package KafkaGateway::Load;

# Concurrent produce load for the fault scenarios (t/fault-*.t), and the
# count that checks it: every request carries a unique id (its key, sent
# in X-Id, and in its body); afterwards every id answered 2xx must be in
# Kafka exactly once.  Works with an nginx from KafkaGateway::Test's
# start_nginx and reads Kafka back with its dump_topic.  POD at the end.

use strict;
use warnings;

use base 'Exporter';

use Errno qw(EAGAIN EINPROGRESS EWOULDBLOCK);
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Test::More ();
use Time::HiRes qw(sleep time);
use KafkaGateway::Test qw(dump_topic wait_until);

our @EXPORT_OK = qw(produce_load count_records);

# produce_load(%args): see the POD.
sub produce_load {
    my (%args) = @_;
    my $port = $args{port} or die "produce_load: no port";
    my $path = $args{path} || '/load';
    my $tag = $args{tag} || 'load';
    my $conns = $args{conns} || 16;
    my $vanish = $args{vanish} || 0;
    my $max = $args{max_requests} || 1_000_000;
    my $min_time = $args{min_time} || 0;
    my $deadline = time + ($args{max_time} || 60);
    my $answer_within = $args{answer_within} || 30;

    my %r = (tag => $tag, sent => 0, acked => {}, ids => {}, status => {},
             not_json => 0, no_answer => 0, vanished => 0, error_codes => {},
             at => {}, connections => 0);

    # the fault runs in a child, so that this loop keeps the load going
    my $fault_pid;
    if ($args{fault}) {
        $fault_pid = fork;
        die "fork: $!" unless defined $fault_pid;
        if ($fault_pid == 0) {
            my $ok = eval { $args{fault}->(); 1 };
            print STDERR "# fault action failed: $@" unless $ok;
            POSIX::_exit($ok ? 0 : 1);
        }
    }
    my $fault_status;
    my $fault_done = sub {
        return 1 unless $fault_pid;
        return 1 if defined $fault_status;
        if (waitpid($fault_pid, POSIX::WNOHANG()) == $fault_pid) {
            $fault_status = $?;
            return 1;
        }
        return 0;
    };

    my $start = time;
    my $seq = 0;
    my $stopping = sub {
        return 1 if $r{sent} >= $max || time >= $deadline;
        return $fault_done->() && time - $start >= $min_time;
    };

    my $sel = IO::Select->new;
    my %conn;       # fileno => { sock, id, buf, since }
    local $SIG{PIPE} = 'IGNORE';

    my $open = sub {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp',
                                      Timeout => 5);
        return undef unless $s;
        $s->blocking(0);
        return $s;
    };

    my $request = sub {
        my $id = sprintf '%s-%06d', $tag, $seq++;
        my $body = "record $id";
        $r{ids}{$id} = 1;
        $r{sent}++;
        return ($id, "POST $path HTTP/1.1\r\nHost: localhost\r\nX-Id: $id\r\n"
                     . "Content-Length: " . length($body) . "\r\n\r\n$body");
    };

    my $write_all = sub {
        my ($s, $req) = @_;
        my $off = 0;
        my $until = time + 5;
        while ($off < length $req && time < $until) {
            my $n = syswrite $s, $req, length($req) - $off, $off;
            if (!defined $n) {
                return 0 unless $! == EAGAIN || $! == EWOULDBLOCK;
                IO::Select->new($s)->can_write(0.1);
                next;
            }
            $off += $n;
        }
        return $off == length $req;
    };

    # a connection that sends one request and goes away at once, without
    # waiting for anything: a client that gives up before the answer
    my $fire_and_vanish = sub {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp',
                                      Timeout => 5) or return;
        my ($id, $req) = $request->();
        $r{vanished}++;
        $r{status}{vanished}++;
        $write_all->($s, $req);
        close $s;
    };

    # at most "rate" requests a second over all connections: a connection
    # over the budget waits for its turn (keeps the count bounded)
    my $rate = $args{rate};
    my $over_budget = sub {
        return $rate && $r{sent} >= $rate * (time - $start) + $conns;
    };

    my $send = sub {
        my $c = shift;
        if ($over_budget->() || $r{sent} >= $max) {
            $c->{waiting} = 1;
            return;
        }
        delete $c->{waiting};
        my ($id, $req) = $request->();
        $c->{id} = $id;
        $c->{since} = time;
        if (!$write_all->($c->{sock}, $req)) {
            $c->{broken} = 1;
        }
    };

    my $drop = sub {
        my $c = shift;
        $sel->remove($c->{sock});
        delete $conn{ fileno $c->{sock} };
        close $c->{sock};
        if (defined $c->{id}) {
            $r{no_answer}++;
            $r{status}{'no answer'}++;
        }
    };

    my $add = sub {
        my $s = $open->() or return;
        my $c = { sock => $s, buf => '' };
        $r{connections}++;
        $conn{ fileno $s } = $c;
        $sel->add($s);
        $send->($c);
    };

    $add->() for 1 .. $conns;

    my $last_vanish = 0;

    while (1) {
        my $stop = $stopping->();
        last if $stop && !%conn;
        last if time >= $deadline + $answer_within;

        # keep the number of clients up while the load runs (the server
        # closes connections on reload, a killed worker resets them)
        if (!$stop) {
            $add->() for 1 .. $conns - keys %conn;
            if ($vanish && time - $last_vanish >= 0.01) {
                $fire_and_vanish->() for 1 .. $vanish;
                $last_vanish = time;
            }
        }

        for my $c (values %conn) {
            if ($c->{waiting}) {
                if ($stop) {
                    $drop->($c);
                    next;
                }
                $send->($c);
            }
            if ($c->{broken}
                || (defined $c->{id} && time - $c->{since} > $answer_within))
            {
                $drop->($c);
            }
        }

        for my $s ($sel->can_read(0.05)) {
            my $c = $conn{ fileno $s } or next;
            my $n = sysread $s, my $chunk, 65536;
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK;
                $drop->($c);
                next;
            }
            if ($n == 0) {
                $drop->($c);
                next;
            }
            $c->{buf} .= $chunk;

            while ($c->{buf} =~ /^HTTP\/1\.1 (\d+)[^\r]*\r\n(.*?)\r\n\r\n/s) {
                my ($status, $head, $hlen) = ($1, $2, $+[0]);
                my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
                $len = 0 unless defined $len;
                last if length($c->{buf}) < $hlen + $len;
                my $body = substr $c->{buf}, $hlen, $len;
                substr($c->{buf}, 0, $hlen + $len) = '';

                my $id = delete $c->{id};
                $r{status}{$status}++;
                if ($status =~ /^2/) {
                    $r{acked}{$id} = 1;
                    my $o = eval {
                        JSON::PP::decode_json($body)->{offsets}[0]
                    };
                    $r{at}{$id} = "$o->{partition}:$o->{offset}"
                        if ref $o eq 'HASH';
                } elsif ($body =~ /^\{"error_code":(\d+),"message":"/) {
                    $r{error_codes}{$1}++;
                    $r{answer}{$id} = $1;
                } else {
                    $r{not_json}++;
                }

                if ($head =~ /^connection:\s*close/mi || $stop) {
                    $drop->($c);
                    last;
                }
                $send->($c);
            }
        }
    }

    $drop->($_) for values %conn;

    if ($fault_pid && !defined $fault_status) {
        waitpid($fault_pid, 0);
        $fault_status = $?;
    }
    $r{fault_ok} = !$fault_pid || $fault_status == 0;
    $r{seconds} = time - $start;
    return \%r;
}

# count_records($bootstrap, $topic, $result, $name): reads the topic back
# and runs the tests; see the POD.
sub count_records {
    my ($bootstrap, $topic, $r, $name, %opt) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my @acked = keys %{ $r->{acked} };
    my $expected_min = @acked;

    # the last acknowledged record is in Kafka when the answer is given;
    # records of unanswered requests may still arrive: read until two reads
    # agree
    my ($records, %seen);
    my $prev = -1;
    wait_until {
        $records = dump_topic($bootstrap, $topic, timeout => 60);
        my $n = @$records;
        my $stable = $n == $prev && $n >= $expected_min;
        $prev = $n;
        $stable;
    } 30, 0.5;

    my ($dups, $foreign) = (0, 0);
    for my $rec (@$records) {
        my $key = defined $rec->{key} ? $rec->{key} : '';
        next if $opt{other} && $key =~ $opt{other};
        $foreign++ unless $r->{ids}{$key};
        $dups++ if $seen{$key}++;
    }
    my @lost = grep { !$seen{$_} } @acked;
    my $unanswered_in = grep { $seen{$_} && !$r->{acked}{$_} }
                        keys %{ $r->{ids} };

    my %status = %{ $r->{status} };
    my $statuses = join ', ', map { "$_: $status{$_}" }
                   sort { $a cmp $b } keys %status;
    my $codes = join ', ', map { "$_: $r->{error_codes}{$_}" }
                sort keys %{ $r->{error_codes} };
    Test::More::diag(sprintf "%s: %d requests in %.1f s; acknowledged %d, "
                     . "found %d, lost %d, duplicated %d; "
                     . "not acknowledged but in Kafka %d; by status: %s%s",
                     $name, $r->{sent}, $r->{seconds}, scalar @acked,
                     scalar(@acked) - @lost, scalar @lost, $dups,
                     $unanswered_in, $statuses,
                     $codes ? "; error codes: $codes" : '');

    Test::More::ok($r->{fault_ok}, "$name: the fault was injected");
    Test::More::ok(@acked > 0, "$name: some requests were acknowledged");
    Test::More::is(scalar @lost, 0, "$name: every 2xx is in Kafka")
        or Test::More::diag("lost: @lost[0 .. ($#lost < 9 ? $#lost : 9)]");
    Test::More::is($dups, 0, "$name: no record is in Kafka twice");
    Test::More::is($foreign, 0, "$name: nothing else is in the topic");
    Test::More::is($r->{not_json}, 0,
                   "$name: every error answer is a JSON error");
    return { lost => scalar @lost, dups => $dups };
}

1;
__END__

=head1 NAME

KafkaGateway::Load - concurrent produce load and exactly-once counting

=head1 SYNOPSIS

    my $r = produce_load(port => $ngx->port, path => '/load', tag => 'kill',
                         conns => 24, min_time => 3,
                         fault => sub { kill 'KILL', ($ngx->workers)[0] });
    count_records($broker->bootstrap, 'load-topic', $r, 'kill -9');

=head1 DESCRIPTION

C<produce_load> keeps C<conns> keepalive connections busy with
C<POST path> requests, one at a time each; request N carries the id
C<TAG-N> in C<X-Id> (use C<kafka_produce_key $http_x_id>) and in its body.
A connection the server closes or resets is replaced while the load runs.
C<rate> caps the requests a second over all connections, C<max_requests>
their number.
C<vanish =E<gt> K> also opens K connections every 10 ms that send a request
and close at once.  C<fault> is a code ref run in a child process while
the load runs (it must not run tests); the load stops once it has returned
and C<min_time> seconds have passed, or after C<max_time> (60) seconds or
C<max_requests>; requests in flight are then answered (each waits at most
C<answer_within>, 30 s).  Returns a hash ref: C<sent>, C<acked> (id =E<gt>
1 for 2xx), C<at> (id =E<gt> C<partition:offset> the 2xx answer names),
C<ids> (every id sent), C<connections> (the keepalive connections opened,
C<conns> unless some had to be replaced), C<status> (status, C<no answer> or
C<vanished> =E<gt> count), C<error_codes> (the JSON C<error_code>s of
non-2xx answers), C<not_json> (non-2xx answers without a JSON error),
C<fault_ok>, C<seconds>.

C<count_records($bootstrap, $topic, $result, $name, other =E<gt> qr/.../)>
reads the topic with C<dump_topic> until two reads agree (keys matching
C<other> are records of the test's own, not counted),
prints the counts with C<diag> (acknowledged, found, lost, duplicated,
not acknowledged but in Kafka, by status) and runs six tests: the fault
ran, something was acknowledged, no acknowledged id is missing, no id is
in Kafka twice, nothing else is in the topic, every error answer was JSON.

=cut
