package KafkaGateway::Browser;

# Headless Chromium for the browser tests: Debian's chromium driven by
# playwright-core from npm, installed into t/browser/node_modules, launched
# once by t/browser/browser.js for all the jobs of a test file.
#
#   browser_or_skip();          # plans a skip (or, as root, a failure)
#                               # when the browser cannot be had
#   my $b = browser_start();    # Chromium runs (undef, with a diagnostic,
#                               # when it did not start)
#   my $res = browser_job($b, "demo-page URL ...", SECONDS);
#                               # one job in a new page: its "done" object
#   browser_send($b, "sse-browser URL ...");
#   my $line = browser_line($b, SECONDS);   # what a running job prints
#   browser_stop($b);           # Chromium closes
#
# tools/install-deps.sh (run by "make test") installs chromium and, when
# there is no node, Debian's nodejs and npm.  As root nothing is skipped:
# what is missing is a failure.

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use IO::Select;
use IPC::Open2 qw(open2);
use JSON::PP ();
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT = qw(browser_or_skip browser_dir browser_start browser_send
                 browser_line browser_job browser_stop);

my $dir = abs_path(dirname(__FILE__) . '/../../browser');
my @Started;

sub browser_dir { $dir }

sub browser_or_skip {
    my $missing = sub {
        my $why = shift;
        if ($> == 0) {
            plan tests => 1;
            fail($why);
            exit 0;
        }
        plan skip_all => $why;
    };

    $missing->('chromium is not installed (apt-get install chromium)')
        unless -x '/usr/bin/chromium';

    $missing->('node and npm are needed (apt-get install nodejs npm)')
        unless system('node --version > /dev/null 2>&1') == 0
               && system('npm --version > /dev/null 2>&1') == 0;

    if (!-d "$dir/node_modules/playwright-core") {
        # the newest playwright-core needs node 20; Debian 12's is 18
        my ($major) = `node --version` =~ /^v(\d+)/;
        my $pkg = ($major || 0) >= 20 ? 'playwright-core@1'
                                      : 'playwright-core@1.57';
        system("cd '$dir' && npm install --silent --no-audit --no-fund "
               . "--no-save $pkg > /dev/null 2>&1");
    }

    $missing->('playwright-core could not be installed with npm')
        unless -d "$dir/node_modules/playwright-core";
}

sub browser_start {
    my ($out, $in);
    my $pid = open2($out, $in, 'node', "$dir/browser.js");
    $in->autoflush(1);
    my $b = { pid => $pid, in => $in, out => $out, buf => '',
              sel => IO::Select->new($out) };
    push @Started, $b;

    my $line = browser_line($b, 60);
    return $b if defined $line && $line eq 'ready';
    diag('browser: Chromium did not start: ' . ($line // 'no answer'));
    browser_stop($b);
    return undef;
}

sub browser_send {
    my ($b, $job) = @_;
    return 0 unless $b && $b->{pid};
    local $SIG{PIPE} = 'IGNORE';
    return print { $b->{in} } "$job\n";
}

# the next line the browser printed, or undef after SECONDS or at its end
sub browser_line {
    my ($b, $secs) = @_;
    return undef unless $b;
    my $end = time + $secs;
    while ($b->{buf} !~ /\n/) {
        my $left = $end - time;
        return undef if $left <= 0 || $b->{eof};
        next unless $b->{sel}->can_read($left);
        my $n = sysread $b->{out}, my $chunk, 65536;
        if (!$n) {
            $b->{eof} = 1;
            next;
        }
        $b->{buf} .= $chunk;
    }
    $b->{buf} =~ s/^([^\n]*)\n//;
    return $1;
}

# one job, waited for: its "done" object decoded, {} (with the reason as a
# diagnostic) when it failed or did not end within SECONDS
sub browser_job {
    my ($b, $job, $secs) = @_;
    browser_send($b, $job) or return {};
    my $end = time + $secs;
    while (defined(my $line = browser_line($b, $end - time))) {
        if ($line =~ /^done (.*)$/) {
            return eval { JSON::PP::decode_json($1) } || {};
        }
        if ($line =~ /^failed (.*)$/) {
            diag("browser: $1");
            return {};
        }
    }
    diag("browser: no end of '$job' within $secs s");
    return {};
}

sub browser_stop {
    my ($b) = @_;
    my $pid = $b && delete $b->{pid} or return;
    close $b->{in};
    for my $sig (undef, 'TERM', 'KILL') {
        kill $sig, $pid if defined $sig;
        my $end = time + 10;
        while (time < $end) {
            return if waitpid($pid, WNOHANG) == $pid;
            sleep 0.1;
        }
    }
}

END {
    local $?;
    browser_stop($_) for @Started;
}

1;
