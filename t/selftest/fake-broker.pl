#!/usr/bin/env perl
# A stand-in for build/kafka-dev-broker that speaks only its command line,
# info file and control protocol (no Kafka), for t/selftest/helpers.t:
#
#   fake-broker.pl -n BROKERS -f INFO -c CONTROL_PORT [-q]
#
# Every control line it receives is appended to INFO.log.
use strict;
use warnings;
use Getopt::Std;
use IO::Select;
use IO::Socket::INET;

my %o;
getopts('n:f:c:q', \%o) or die "usage: $0 -n N -f INFO -c PORT [-q]\n";
my $n = $o{n} || 3;
my $info = $o{f} or die "-f INFO is required\n";

my @brokers = map {
    IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                          Listen => 5, ReuseAddr => 1) or die "listen: $!";
} 1 .. $n;
my $ctl = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                LocalPort => $o{c} || 0,
                                Listen => 5, ReuseAddr => 1)
    or die "listen: $!";

open my $out, '>', $info or die "$info: $!";
print $out "bootstrap=", join(',', map { "127.0.0.1:" . $_->sockport }
                                   @brokers), "\n";
print $out "control=127.0.0.1:", $ctl->sockport, "\n";
close $out;
open $out, '>>', $info or die;
print $out "ready\n";
close $out;

my %down;
my $sel = IO::Select->new($ctl);
while (1) {
    for my $fh ($sel->can_read) {
        if ($fh == $ctl) {
            $sel->add($ctl->accept);
            next;
        }
        my $line = <$fh>;
        if (!defined $line) {
            $sel->remove($fh);
            close $fh;
            next;
        }
        $line =~ s/\s+$//;
        open my $log, '>>', "$info.log" or die;
        print $log "$line\n";
        close $log;
        my ($cmd, @args) = split ' ', $line;
        $cmd = '' unless defined $cmd;
        my $reply;
        if ($cmd eq 'ping') {
            $reply = 'ok pong';
        } elsif ($cmd =~ /^(down|up)$/ && @args == 1) {
            $reply = $args[0] eq 'all' || ($args[0] =~ /^\d+$/
                                           && $args[0] >= 1 && $args[0] <= $n)
                     ? "ok $cmd $args[0]" : "error no broker $args[0]";
        } elsif ($cmd eq 'topic' && @args == 2) {
            $reply = "ok topic $args[0] $args[1]";
        } elsif ($cmd =~ /^(rtt|errors)$/) {
            $reply = "ok $cmd";
        } elsif ($cmd eq 'quit') {
            print $fh "ok bye\n";
            exit 0;
        } else {
            $reply = "error unknown command: $line";
        }
        print $fh "$reply\n";
        $fh->flush;
    }
}
