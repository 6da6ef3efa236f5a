package KafkaGateway::Blocks;

# Extra block sections for Test::Nginx::Socket suites that check what
# really landed in Kafka, through the standard add_response_body_check hook
# (so they run the same under the CPAN Test::Nginx and our t/compat runner):
#
#   --- kafka_records eval
#   [ { key => "k1", value => "hello", headers => { "x-a" => "1" } }, ... ]
#       The response's "offsets" name, record by record, where each record
#       was written; the record found at that partition and offset must have
#       exactly this key (undef = no key), value (undef = null) and, if
#       given, these headers (and no others; a qr// value is matched) and
#       partition.
#
#   --- kafka_topic_count: TOPIC N
#       The topic holds exactly N records (0: the request produced nothing).
#       Waits up to 5 s for the count to be reached, then checks it is not
#       exceeded.
#
# Use: use KafkaGateway::Blocks; after "use Test::Nginx::Socket".

use strict;
use warnings;

use Test::More;
use JSON::PP ();
use Time::HiRes qw(sleep time);
use KafkaGateway::Test qw(dump_topic);

sub section {
    my ($block, $name) = @_;
    return $block->can($name) ? $block->$name : undef;
}

sub check {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $name = $block->name;
    my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS};

    return if $dry_run;

    if (defined(my $spec = section($block, 'kafka_topic_count'))) {
        my ($topic, $want) = split ' ', $spec;
        my $records = [];
        my $deadline = time + ($want ? 5 : 0.5);
        while (1) {
            $records = dump_topic($brokers, $topic);
            last if ($want && @$records >= $want) || time >= $deadline;
            sleep 0.1;
        }
        is(scalar @$records, $want,
           "$name - topic $topic holds $want record(s)");
    }

    if (defined(my $want = section($block, 'kafka_records'))) {
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
                    my $v = $w->{headers}{$k};
                    if (ref $v eq 'Regexp') {
                        like($h{$k}, $v, "$what - header $k");
                    } else {
                        is($h{$k}, $v, "$what - header $k");
                    }
                }
            }
        }
    }
}

sub decode_b64 {
    my $s = shift;
    return undef unless defined $s;
    require MIME::Base64;
    return MIME::Base64::decode_base64($s);
}

Test::Nginx::Socket::add_response_body_check(\&check);

1;
