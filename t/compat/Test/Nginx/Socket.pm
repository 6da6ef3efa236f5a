package Test::Nginx::Socket;

# A small runner for Test::Nginx::Socket block files, compatible with the
# CPAN Test::Nginx for the subset documented below.  It is put on @INC
# (prove -I t/compat) only when the real one is not installed.
#
# Spiffy's -Base source filter adds "my $self = shift;" to every named sub
# without a prototype: every sub here has one.

use v5.10.1;
use Test::Base -Base;

our $VERSION = '0.29_compat';

use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use Test::LongString ();
use Time::HiRes qw(sleep time);

use Test::Nginx::Util;

our @EXPORT = qw(
    plan run_tests workers master_on log_level no_shuffle
    add_block_preprocessor add_response_body_check
);

our @ResponseBodyChecks;

sub add_response_body_check ($);
sub parse_more_headers ($);
sub build_request ($$$$$);
sub get_req_from_block ($);
sub send_request ($$$);
sub parse_response ($$);
sub indexed ($$$$);
sub run_test_helper ($);
sub check_error_code ($$$$);
sub check_response_headers ($$$$$);
sub check_response_body ($$$$);
sub check_error_log ($);
sub fmt_str ($);
sub error_log_patterns ($);

$RunTestHelper = \&run_test_helper;
$CheckErrorLog = \&check_error_log;

sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}


# Building requests.

sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $is_chunked) = ('', 0);
    for my $line (split /\n+/, defined $in ? $in : '') {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val = '' unless defined $val;
        $is_chunked = 1
            if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# "METHOD [URI [HTTP/x.y]]\nbody" -> the bytes to send.  As in the real
# one: Host and Connection are added unless given, and a non-empty body is
# trimmed and gets a Content-Length unless chunked or already given.
sub build_request ($$$$$) {
    my ($name, $text, $more_headers, $is_chunked, $conn) = @_;

    $text = '' unless defined $text;
    my ($first, $content) = split /\n/, $text, 2;
    if (!defined $first || $first !~ /\S/) {
        bail_out("$name - Request line should be non-empty");
    }
    $first =~ /^\s*(\S+)(?:\s+(\S+))?(?:\s+(\S+))?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    my ($meth, $url, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');
    $content = '' unless defined $content;

    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/i)
    {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;

    my $headers = '';
    $headers .= "Host: $ServerName\r\n"
        if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    return "$meth $url $ver\r\n$headers$content";
}

# A list of requests, each a list of strings sent in order on one fresh
# connection (several strings only for a raw_request array).
sub get_req_from_block ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [ref $raw eq 'ARRAY' ? [@$raw] : [$raw]];
    }

    my $request = $block->request;
    if (defined $request && !ref $request) {
        1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
    }
    # more_headers: one text for every request, or (eval) an array of
    # them, one per request
    my $more = $block->more_headers;
    my $headers_of = sub {
        my $i = shift;
        return parse_more_headers($more) unless ref $more eq 'ARRAY';
        bail_out("$name - --- more_headers lacks data for the ${i}th "
                 . "request") unless defined $more->[$i];
        return parse_more_headers($more->[$i]);
    };

    if (defined(my $reqs = $block->pipelined_requests)) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my ($hdr, $chunked) = $headers_of->($i);
            $all .= build_request($name, $reqs->[$i], $hdr, $chunked,
                                  $i == $#$reqs ? 'close' : 'keep-alive');
        }
        return [[$all]];
    }

    if (!ref $request) {
        my ($hdr, $chunked) = $headers_of->(0);
        return [[build_request($name, $request, $hdr, $chunked, 'close')]];
    }

    if (ref $request eq 'ARRAY') {
        my @reqs;
        for my $i (0 .. $#$request) {
            my ($hdr, $chunked) = $headers_of->($i);
            push @reqs, [build_request($name, $request->[$i], $hdr,
                                       $chunked, 'close')];
        }
        return \@reqs;
    }

    bail_out("$name - invalid ---request : MUST be string or array of "
             . "requests");
}


# Sending.

sub connect_server ($$) {
    my ($name, $timeout) = @_;
    my $tries = 0;
    while (1) {
        my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                         PeerPort => $ServerPort,
                                         Proto => 'tcp',
                                         Timeout => $timeout);
        return $sock if $sock;
        my $err = $!;
        if (++$tries > 50) {
            Test::More::fail("$name - Can't connect to $ServerAddr:"
                             . "$ServerPort: $err (aborted)");
            return undef;
        }
        my $wait = ($TestNginxSleep + $TestNginxSleep * $tries) * $tries / 2;
        $wait = 1 if $wait > 1;
        warn "$name - Can't connect to $ServerAddr:$ServerPort: $err; "
             . "retrying\n" if $wait >= 0.6;
        sleep $wait;
    }
}

# Sends the strings of one request on a fresh connection and reads until
# the server closes it.  Each wait (to write or to read) is bounded by
# $timeout; a timeout fails unless the block has --- abort.
sub send_request ($$$) {
    my ($bits, $timeout, $block) = @_;
    my $name = $block->name;
    my @bits = @$bits;

    my $sock = connect_server($name, $timeout) or return undef;
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $buf = shift @bits;
    my $off = 0;
    my $writing = 1;
    my $sel_r = IO::Select->new($sock);
    my $sel_w = IO::Select->new($sock);

    while (1) {
        my ($r, $w) = IO::Select->select($sel_r, $writing ? $sel_w : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            next if $! == EINTR;
            close $sock;
            if (!defined $block->abort) {
                Test::More::fail("ERROR: client socket timed out - $name");
            } else {
                sleep 0.005;
            }
            last;
        }

        if ($w && @$w) {
            while (1) {
                my $rest = length($buf) - $off;
                if ($rest > 0) {
                    my $n = syswrite $sock, $buf, $rest, $off;
                    if (!defined $n) {
                        last if $! == EAGAIN || $! == EWOULDBLOCK;
                        warn "WARNING: $name - write failed: $!\n";
                        $writing = 0;
                        last;
                    }
                    $off += $n;
                    next;
                }
                if (!@bits) {
                    $writing = 0;
                    last;
                }
                ($buf, $off) = (shift(@bits), 0);
            }
        }

        if ($r && @$r) {
            my $n = sysread $sock, my $chunk, 65536;
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }

    close $sock;
    return $resp;
}


# Responses.

sub parse_response ($$) {
    my ($name, $raw) = @_;
    my ($raw_headers, $left) = ('', undef);

    $raw_headers = $1 if $raw =~ /(.*?\r\n)\r\n/s;

    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        $code = undef;
    }

    my $content = $res->content;
    $content = '' unless defined $content;
    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if (defined $te && $te eq 'chunked') {
        my $decoded = '';
        pos($content) = 0;
        while (1) {
            if ($content =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $content =~ /\G(.+)/gcs;
                last;
            }
            if ($content =~ /\G[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n/gc)
            {
                my $size = hex $1;
                my $at = pos $content;
                if (length($content) - $at < $size + 2
                    || substr($content, $at + $size, 2) ne "\r\n")
                {
                    Test::More::fail("$name - invalid chunked data received");
                    return;
                }
                $decoded .= substr $content, $at, $size;
                pos($content) = $at + $size + 2;
                next;
            }
            Test::More::fail("$name - no last chunk found - "
                             . substr($content, pos($content) // 0, 200));
            return;
        }
        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $content < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($content) . "\n";
        } elsif (length $content > $len) {
            $left = substr $content, $len;
            $res->content(substr $content, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}


# Running one block.

sub indexed ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected "
                 . "results should be arrays as well.");
    }
    return $value->[0] if ref $value eq 'ARRAY';
    return $value;
}

sub run_test_helper ($) {
    my $block = shift;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time($block->timeout);
    $timeout = $Timeout unless defined $timeout;

    my ($n, $need_array) = (0, @$reqs > 1);
    if ($block->pipelined_requests) {
        $n = @{ $block->pipelined_requests };
        $need_array = 1;
    }

    my $req_idx = 0;
    for my $one (@$reqs) {
        my $raw = send_request($one, $timeout, $block);

        while (1) {
            $raw = '' unless defined $raw;
            my ($res, $raw_headers, $left);

            if (!defined $block->ignore_response) {
                ($res, $raw_headers, $left) = parse_response($name, $raw);
            }

            if (!$n) {
                if (defined $left && length $left) {
                    warn "WARNING: $name - unexpected extra bytes after the "
                         . "response: \"" . fmt_str($left) . "\"\n";
                }
            } else {
                $raw = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $req_idx,
                                       $need_array);
                check_response_body($block, $res, $req_idx, $need_array);
            }

            if ($n || $req_idx < @$reqs - 1) {
                sleep parse_time($block->wait) if $block->wait;
                check_error_log($block);
            }

            $req_idx++;
            last unless $n;
        }
    }

    sleep parse_time($block->wait) if $block->wait;

    check_error_log($block);
}


# Checks.  Descriptions follow the real one's wording.

sub check_error_code ($$$$) {
    my ($block, $res, $req_idx, $need_array) = @_;
    my $code = ($res && $res->code) || '';
    my $want = defined $block->error_code
               ? indexed($block->name, $block->error_code, $req_idx,
                         $need_array)
               : 200;
    Test::More::is($code, $want, $block->name . " - status code ok");
}

sub check_response_headers ($$$$$) {
    my ($block, $res, $raw_headers, $req_idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers = '' unless defined $raw_headers;

    if (defined $block->response_headers) {
        my $headers = parse_headers(indexed($name, $block->response_headers,
                                            $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                    "$name - header $key not present in the raw headers");
                next;
            }
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
            Test::More::is($actual, $val, "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(indexed($name,
                                            $block->response_headers_like,
                                            $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
            Test::More::like($actual, qr/^$val$/,
                             "$name - header $key like ok");
        }
    }
}

sub check_response_body ($$$$) {
    my ($block, $res, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined $block->response_body) {
        my $expected = indexed($name, $block->response_body, $req_idx,
                               $need_array);
        Test::LongString::is_string($content, $expected,
            "$name - response_body - response is expected (repeated req 0, "
            . "req $req_idx)");

    } elsif (defined $block->response_body_like) {
        my $pat = indexed($name, $block->response_body_like, $req_idx,
                          $need_array);
        my $summary = trim($content) // '';
        Test::More::like($content, qr/$pat/s,
            "$name - response_body_like - response is expected ($summary)");
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $req_idx, 0, 0);
    }
}

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

# The patterns of an error_log/no_error_log section: one literal text per
# line, or (eval) a Regexp or an array of texts and Regexps.
sub error_log_patterns ($) {
    my $v = shift;
    return () unless defined $v;
    return ($v) if ref $v eq 'Regexp';
    return grep { defined } @$v if ref $v eq 'ARRAY';
    chomp $v;
    return split /\n+/, $v;
}

# error_log: each line (a literal text) must match a line of the error log;
# no_error_log: no line may match any (a failure per matching line).  One
# test per pattern.  Only the lines new since the previous check are read.
sub check_error_log ($) {
    my $block = shift;
    my $name = $block->name;
    my $lines = error_log_data();
    my %warn_about = (alert => 1, crit => 1, emerg => 1);

    for my $sec (qw(error_log no_error_log)) {
        my @pats = error_log_patterns(scalar $block->$sec);
        next unless @pats;
        for my $level (keys %warn_about) {
            delete $warn_about{$level}
                if grep { !ref && index($_, "[$level") >= 0 } @pats;
        }

        for my $pat (@pats) {
            my @hits = grep { ref $pat ? $_ =~ $pat : index($_, $pat) >= 0 }
                       @$lines;
            if ($sec eq 'error_log') {
                if (@hits) {
                    Test::More::pass("$name - pattern \"$pat\" matches a "
                                     . "line in error.log (req 0)");
                } else {
                    Test::More::fail("$name - pattern \"$pat\" should match "
                                     . "a line in error.log (req 0)");
                }
            } elsif (!@hits) {
                Test::More::pass("$name - pattern \"" . fmt_str($pat)
                                 . "\" does not match a line in error.log "
                                 . "(req 0)");
            } else {
                Test::More::fail("$name - pattern \"" . fmt_str($pat)
                                 . "\" should not match any line in "
                                 . "error.log but matches line \""
                                 . fmt_str($_) . "\" (req 0)")
                    for @hits;
            }
        }
    }

    for my $line (@$lines) {
        for my $level (sort keys %warn_about) {
            warn "WARNING: $name - " . fmt_str($line) . "\n"
                if $line =~ /\[$level\]/;
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

1;
__END__

=encoding utf-8

=head1 NAME

Test::Nginx::Socket - the project's small compatible runner for
Test::Nginx::Socket block files (t/compat)

=head1 SYNOPSIS

    # only when the CPAN Test::Nginx is missing:
    prove -I t/compat -I t/lib -r t/

    use Test::Nginx::Socket 'no_plan';     # or: plan tests => ...
    master_on();
    workers(1);
    log_level('info');
    no_shuffle();
    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location /t { return 200 "hello"; }
    --- request
    GET /t
    --- response_body chomp
    hello
    --- no_error_log
    [error]

=head1 DESCRIPTION

Test::Nginx is not packaged by Debian, so the project carries this
runner.  It implements the part of the real module's API that the
project's block files (F<t/*.t>) and F<t/lib> use, with the same meaning,
so that they run unchanged under either; it adds no API of its own.  A
feature no suite uses is not here: add it (with a case in
F<t/selftest/runner.t> that passes under both runners) when a suite needs
it.  Block parsing is L<Test::Base>'s (C<use Test::Base -Base> as in the
real one): C<=== TEST n: name>, C<--- section>, section filters (C<eval>,
C<chomp>, ...), C<--- name: value> one-liners, C<--- ONLY>, C<--- SKIP>,
C<--- LAST>.

For each block it writes C<$servroot/conf/nginx.conf>, starts a fresh
nginx (C<-p $servroot/ -c conf/nginx.conf -e logs/error.log>; C<-e> only
for nginx E<gt>= 1.19.5), waits for the pid file to name a live master
(written after the listening sockets are open), sends the request(s),
checks, and stops nginx with SIGQUIT.  The error log checks see only the
lines written since the previous check of the same block, as in the real
one.

=head2 Functions

C<run_tests>, C<plan> (Test::Base; or C<use Test::Nginx::Socket
'no_plan'>), C<workers>, C<master_on>, C<log_level> (default C<debug>),
C<no_shuffle> (blocks run in a random order otherwise, as in the real
one), C<add_block_preprocessor>, C<add_response_body_check> (called as
C<< $check->($block, $body, $req_idx, 0, 0) >> after the body checks of
every response).

=head2 Sections

Configuration: C<config> (inside the default server; every block needs
one), C<http_config>, C<init> (Perl code run after nginx has started).

Requests: C<request> (C<METHOD [URI [HTTP/x.y]]> and an optional body on
the following lines; a non-empty body is trimmed and gets a Content-Length;
C<eval> may return an array of such strings, each sent on a fresh
connection, and then every expectation must be an array too),
C<more_headers> (C<Name: value> per line, the same for every request; or,
with C<eval>, an array of such texts, one per request),
C<pipelined_requests> (array, sent on one connection), C<raw_request>
(string, or array of pieces sent one after the other), C<timeout> (C<3>,
C<500ms>, C<2s>; each wait to write or read; default 3 s), C<abort> (a
timeout is then not a failure), C<wait> (sleep before checking the error
log).

Checks: C<error_code> (default 200), C<response_headers> (C<Name: value>;
C<!Name> = absent), C<response_headers_like> (values are anchored
regexes), C<response_body>, C<response_body_like> (regex with C</s>),
C<ignore_response>, C<error_log> and C<no_error_log> (one literal text per
line; or, with C<eval>, a Regexp or an array of texts and Regexps), C<must_die> (nginx must fail to start; then C<error_log> is matched
against the error log, which C<-e> makes receive the config errors).

As in the real one, unexpected C<[error]> lines fail a block only when
C<no_error_log> lists them; C<[alert]>, C<[crit]> and C<[emerg]> lines
not mentioned by C<error_log>/C<no_error_log> are printed as warnings, and
C<Assertion ... failed> lines fail.

=head2 Environment

=over

=item C<TEST_NGINX_BINARY>: the nginx binary (default C<nginx> in PATH,
else F</usr/sbin/nginx>).

=item C<TEST_NGINX_LOAD_MODULES>: space separated paths, one
C<load_module> line each.

=item C<TEST_NGINX_SERVER_PORT> / C<TEST_NGINX_PORT>: the port the server
listens on (default 1984).

=item C<TEST_NGINX_SERVROOT>: the server root (default F<t/servroot>).

=item C<$TEST_NGINX_FOO> in C<config> and C<http_config> is replaced by
C<$ENV{TEST_NGINX_FOO}>; an unset variable bails out.  C<run_tests> sets
C<TEST_NGINX_SERVER_PORT> and C<TEST_NGINX_SERVER_ROOT>, as the real one
does.

=item C<TEST_NGINX_FAIL_ON_ALERT> (default 1; 0 turns it off): the
project's extra strictness.  After nginx has quit, any C<[alert]> or
C<[emerg]> line, C<open socket #N left in connection> line or C<worker
process N exited on signal> line anywhere in the block's error log fails
the block unless one of the block's C<error_log> patterns matches it
(C<[emerg]> is allowed in C<must_die> blocks).

=item C<TEST_NGINX_USE_VALGRIND>: run nginx under valgrind memcheck (see
below).

=back

=head2 Stopping nginx

After each block nginx gets SIGQUIT.  If the master has not exited within
5 s (60 s under valgrind) the block fails ("nginx did not quit gracefully")
and nginx gets SIGTERM, then SIGKILL (master and workers).  A master that
is gone before the end of the block also fails it.  Before each block, a
leftover nginx from a crashed run (pid file, or an nginx process still
listening on the port) is stopped; an END block and INT/TERM/HUP handlers
stop the nginx this process started.

=head2 Valgrind

With C<TEST_NGINX_USE_VALGRIND=1> nginx runs in the foreground (C<daemon
off>; C<master_process> as the file says) under C<valgrind --tool=memcheck
--leak-check=full --show-leak-kinds=definite
--errors-for-leak-kinds=definite --error-exitcode=99 --trace-children=yes
--child-silent-after-fork=no --num-callers=50 --keep-debuginfo=yes
--log-file=$servroot/logs/valgrind.%p.log
--suppressions=t/compat/nginx-core.supp>, plus
C<--suppressions=t/valgrind.suppress> when that file exists; a
non-numeric value of the variable is added as further options.
F<nginx-core.supp> holds only the exit-time allocations stock nginx never
frees (worker environment, pcre2 compile context, connection arrays);
libraries' own process-lifetime allocations belong in the project's
F<t/valgrind.suppress>.  Start
waits up to 60 s.  After nginx quits, every valgrind log is scanned: an
C<Invalid read/write/free>, C<uninitialised>, C<Mismatched free>,
C<Source and destination overlap>, C<unaddressable>, C<Process
terminating>, C<definitely lost in N> (N E<gt> 0) or non-zero C<ERROR
SUMMARY> line fails the block, with the log in the diagnostics.
C<must_die> blocks run without valgrind, as in the real one.

=head2 How many tests a block makes

For C<plan tests =E<gt> ...>, each block makes:

=over

=item a C<must_die> block: 1, plus 1 per C<error_log> and C<no_error_log>
pattern;

=item otherwise, with K responses (K requests, or K pipelined requests):
for each response 1 (status), plus 1 per C<response_headers> (or
C<response_headers_like>) line, plus 1 if C<response_body> or
C<response_body_like> is given (none of these with C<ignore_response>);
plus K times 1 per C<error_log> and C<no_error_log> pattern - the log is
checked after every response, each time against the lines new since the
previous check, as in the real one;

=item plus whatever C<add_response_body_check> callbacks emit.

=back

Failures add tests: a C<no_error_log> pattern that matches several lines
fails once per line, and the runner's own failures (timeouts, slow quit,
alerts, valgrind) are extra tests, so a failing file may also miss its
plan.

=head1 DIFFERENCES FROM THE REAL Test::Nginx::Socket

nginx is stopped at the end of each block (the real one stops it when the
next block starts) and a graceful quit over 5 s fails; a block without
C<config> bails out (the real one keeps the previous block's nginx
running, and then does not write that block's files or config);
readiness is the pid file, not connection retries (both exist); the
configuration adds C<*_temp_path> directives under the server root
(Debian's compiled-in paths are not writable), and C<worker_connections>
is 1024 (64 in the real one).  TEST_NGINX_FAIL_ON_ALERT exists only here.
Everything else the real one has (C<repeat_each>, C<main_config>,
C<user_files>, C<shutdown_error_log>, C<access_log>, C<grep_error_log>,
C<response_body_filters>, skips other
than C<skip_eval: N: PERL> (which skips N tests when PERL is true), HTTP/2,
the C<TEST_NGINX_*> knobs not listed above, ...) is not implemented: no
suite uses it.

=cut
