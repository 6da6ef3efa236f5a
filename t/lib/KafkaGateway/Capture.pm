package KafkaGateway::Capture;

# A block section for Test::Nginx::Socket suites of kafka_log, whose
# records land after the response (no offsets in the body to look them up
# by), through the standard add_response_body_check hook:
#
#   --- capture_topic: TOPIC
#   --- capture_records eval
#   [ { key => "42", value => "...", headers => { ce_id => qr/.../ } },
#     { key => "42", value => undef, json => { ... } }, ... ]
#
#       Checked after the block's last request.  Waits up to 5 s for the
#       topic to hold as many records as listed (0: waits 1 s), then checks
#       it holds exactly that many, and that each listed record is there:
#       the first record not yet matched, in offset order, with this key
#       (undef = none) and value (undef = null) or, with "json", whose value
#       decodes to this structure (qr// leaves are matched, undef = null,
#       "ABSENT" = no such member).  "headers" lists every header: exactly
#       these names, each value equal, matched by a qr//, or accepted by a
#       sub (called with the value when the record is checked).  Records
#       listed with the same (non-null) key must be in Kafka in the listed
#       order.
#
# Use: use KafkaGateway::Capture; after "use Test::Nginx::Socket".

use strict;
use warnings;

use Test::More;
use JSON::PP ();
use MIME::Base64 ();
use Time::HiRes qw(sleep time);
use KafkaGateway::Test qw(dump_topic);

sub section {
    my ($block, $name) = @_;
    return $block->can($name) ? $block->$name : undef;
}

sub requests {
    my ($block) = @_;
    for my $s (qw(pipelined_requests request)) {
        my $r = section($block, $s);
        return scalar @$r if ref $r eq 'ARRAY';
    }
    return 1;
}

sub b64 {
    my ($s) = @_;
    return defined $s ? MIME::Base64::decode_base64($s) : undef;
}

sub check {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $name = $block->name;

    return if $dry_run;
    my $want = section($block, 'capture_records');
    return unless defined $want;
    return unless ($req_idx // 0) == requests($block) - 1;

    my $topic = section($block, 'capture_topic')
        or die "$name: capture_records needs capture_topic";
    $topic =~ s/^\s+|\s+$//g;

    my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS};
    my $deadline = time + (@$want ? 5 : 1);
    my $got;
    while (1) {
        $got = dump_topic($brokers, $topic);
        last if (@$want && @$got >= @$want) || time >= $deadline;
        sleep 0.1;
    }
    if (@$want) {
        sleep 0.3;    # anything more would come now
        $got = dump_topic($brokers, $topic);
    }

    is(scalar @$got, scalar @$want,
       "$name - topic $topic holds " . scalar(@$want) . " record(s)");

    my @sorted = sort { $a->{partition} <=> $b->{partition}
                        || $a->{offset} <=> $b->{offset} } @$got;
    my (%used, %last);

    for my $i (0 .. $#$want) {
        my $w = $want->[$i];
        my $what = "$name - capture_records[$i]";
        my ($rec) = grep {
            my $r = $_;
            !$used{"$r->{partition}:$r->{offset}"}
            && same(b64($r->{key_b64}), $w->{key})
            && (exists $w->{json}
                ? defined $r->{value_b64}
                : same(b64($r->{value_b64}), $w->{value}))
        } @sorted;

        if (!$rec) {
            fail("$what - a record with key "
                 . (defined $w->{key} ? "\"$w->{key}\"" : 'null')
                 . (exists $w->{json} ? '' : ' and the value '
                    . (defined $w->{value} ? "\"$w->{value}\"" : 'null')));
            diag(explain([ map { { key => b64($_->{key_b64}),
                                   value => b64($_->{value_b64}) } }
                           @sorted ]));
            next;
        }

        $used{"$rec->{partition}:$rec->{offset}"} = 1;
        pass("$what - key and value");

        # records without a key may go to any partition: no order
        my $k = $w->{key};
        if (defined $k and my $prev = $last{$k}) {
            ok($prev->{partition} == $rec->{partition}
               && $prev->{offset} < $rec->{offset},
               "$what - after the previous record of its key");
        }
        $last{$k} = $rec if defined $k;

        if (exists $w->{json}) {
            my $doc = eval {
                JSON::PP->new->utf8->decode(b64($rec->{value_b64}))
            };
            ok($doc, "$what - the value is JSON") or next;
            deep($doc, $w->{json}, "$what - value");
        }

        if (exists $w->{headers}) {
            my %h = map { ($_->[0] => b64($_->[2])) }
                    @{ $rec->{headers} || [] };
            is(join(",", sort keys %h),
               join(",", sort keys %{ $w->{headers} }),
               "$what - header names");
            for my $hk (sort keys %{ $w->{headers} }) {
                my $v = $w->{headers}{$hk};
                if (ref $v eq 'Regexp') {
                    like($h{$hk}, $v, "$what - header $hk");
                } elsif (ref $v eq 'CODE') {
                    ok($v->($h{$hk}), "$what - header $hk")
                        or diag("header $hk: "
                                . (defined $h{$hk} ? "'$h{$hk}'" : 'absent'));
                } else {
                    is($h{$hk}, $v, "$what - header $hk");
                }
            }
        }
    }
}

sub same {
    my ($a, $b) = @_;
    return !defined $a && !defined $b
        || defined $a && defined $b && $a eq $b;
}

# one test: GOT has WANT's shape; qr// leaves match, "ABSENT" members are
# missing
sub deep {
    my ($got, $want, $what) = @_;
    my @diffs;
    walk($got, $want, '', \@diffs);
    ok(!@diffs, $what) or diag(join "\n", @diffs, explain($got));
}

sub walk {
    my ($g, $w, $path, $diffs) = @_;

    if (ref $w eq 'HASH') {
        return push @$diffs, "$path: not an object" unless ref $g eq 'HASH';
        for my $k (sort keys %$w) {
            if (defined $w->{$k} && !ref $w->{$k} && $w->{$k} eq 'ABSENT') {
                push @$diffs, "$path.$k: present" if exists $g->{$k};
                next;
            }
            if (!exists $g->{$k}) {
                push @$diffs, "$path.$k: missing";
                next;
            }
            walk($g->{$k}, $w->{$k}, "$path.$k", $diffs);
        }
        for my $k (sort keys %$g) {
            push @$diffs, "$path.$k: unexpected" unless exists $w->{$k};
        }
    } elsif (ref $w eq 'Regexp') {
        push @$diffs, "$path: " . (defined $g ? "'$g'" : 'null')
                      . " does not match $w"
            unless defined $g && !ref $g && $g =~ $w;
    } elsif (!defined $w) {
        push @$diffs, "$path: not null" if defined $g;
    } elsif (JSON::PP::is_bool($g)) {
        push @$diffs, "$path: $g, not $w" unless ($g ? 1 : 0) == $w;
    } else {
        push @$diffs, "$path: " . (defined $g ? "'$g'" : 'null')
                      . ", not '$w'"
            unless defined $g && !ref $g && $g eq $w;
    }
}

Test::Nginx::Socket::add_response_body_check(\&check);

1;
