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

use Errno qw(EAGAIN EWOULDBLOCK EINTR EINPROGRESS ECONNREFUSED);
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(min);
use Socket qw(SHUT_WR);
use Test::LongString ();
use Time::HiRes qw(sleep time);

use Test::Nginx::Util;

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test repeat_each
    config_preamble worker_connections master_process_enabled
    no_long_string workers master_on master_off log_level no_shuffle
    no_root_location use_hup server_name server_addr server_root html_dir
    server_port server_port_for_client timeout no_nginx_manager
    check_accum_error_log add_block_preprocessor bail_out
    add_cleanup_handler add_response_body_check
);

our @ResponseBodyChecks;

sub add_response_body_check ($);
sub parse_more_headers ($);
sub build_request ($$$$$);
sub get_req_from_block ($);
sub send_request ($$$$);
sub parse_response ($$$);
sub indexed ($$$$);
sub run_test_helper ($$$);
sub check_error_code ($$$$$);
sub check_raw_response_headers ($$$$$$);
sub check_response_headers ($$$$$$);
sub transform_response_body ($$$);
sub check_response_body ($$$$$$);
sub check_error_log ($$$$$);
sub check_shutdown_error_log ($$);
sub check_access_log ($$$);
sub pattern_list ($);
sub pattern_matches ($$);
sub fmt_str ($);

$RunTestHelper = \&run_test_helper;
$CheckErrorLog = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

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
    $headers .= "Host: " . server_name() . "\r\n"
        if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    return "$meth $url $ver\r\n$headers$content";
}

# A list of requests, each a list of strings sent in order on one fresh
# connection (several strings only for raw_request arrays).
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
    my $more = $block->more_headers;
    $more = '' unless defined $more;

    my $headers_for = sub {
        my $i = shift;
        if (ref $more eq 'ARRAY') {
            my $h = $more->[$i];
            bail_out("$name - --- more_headers lacks data for request $i")
                unless defined $h;
            return parse_more_headers($h);
        }
        return parse_more_headers($more);
    };

    if (defined(my $reqs = $block->pipelined_requests)) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my ($hdr, $chunked) = $headers_for->($i);
            $all .= build_request($name, $reqs->[$i], $hdr, $chunked,
                                  $i == $#$reqs ? 'close' : 'keep-alive');
        }
        return [[$all]];
    }

    if (!ref $request) {
        my ($hdr, $chunked) = $headers_for->(0);
        return [[build_request($name, $request, $hdr, $chunked, 'close')]];
    }

    if (ref $request eq 'ARRAY') {
        my @list;
        for my $i (0 .. $#$request) {
            my $one = $request->[$i];
            if (ref $one) {
                bail_out("$name - requests given as packet arrays are not "
                         . "supported by the t/compat runner");
            }
            my ($hdr, $chunked) = $headers_for->($i);
            push @list, [build_request($name, $one, $hdr, $chunked,
                                       'close')];
        }
        return \@list;
    }

    bail_out("$name - invalid ---request : MUST be string or array of "
             . "requests");
}


# Sending.

sub connect_server ($$) {
    my ($name, $timeout) = @_;
    my $tries = 0;
    while (1) {
        my $sock = IO::Socket::INET->new(PeerAddr => server_addr(),
                                         PeerPort => server_port_for_client(),
                                         Proto => 'tcp',
                                         Timeout => $timeout);
        return $sock if $sock;
        my $err = $!;
        if (++$tries > 50) {
            Test::More::fail("$name - Can't connect to " . server_addr()
                             . ":" . server_port_for_client()
                             . ": $err (aborted)");
            return undef;
        }
        my $wait = (sleep_time() + sleep_time() * $tries) * $tries / 2;
        $wait = 1 if $wait > 1;
        warn "$name - Can't connect to " . server_addr() . ":"
             . server_port_for_client() . ": $err; retrying\n"
            if $wait >= 0.6;
        sleep $wait;
    }
}

# Sends the strings of one request on a fresh connection and reads until
# the server closes it.  Each wait (to write or to read) is bounded by
# $timeout; a timeout fails unless the block has --- abort.
sub send_request ($$$$) {
    my ($bits, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;
    my @bits = @$bits;

    my $head_req = (join '', @bits) =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $sock = connect_server($name, $timeout) or return (undef, $head_req);
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
                    if (defined(my $how = $block->shutdown)) {
                        $how = 1 if $how !~ /\S/;
                        shutdown $sock, $how;
                    }
                    last;
                }
                sleep $middle_delay if $middle_delay;
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
    return ($resp, $head_req);
}


# Responses.

sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;
    my ($raw_headers, $left) = ('', undef);

    $raw_headers = $1 if $raw =~ /(.*?\r\n)\r\n/s;

    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        $code = undef;
    }

    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $content = $res->content;
    $content = '' unless defined $content;
    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if ($head_req) {
        $left = $content if length $content;
        $res->content('');

    } elsif (defined $te && $te eq 'chunked') {
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


# Running one block (once per repeat_each).

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

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time($block->timeout);
    $timeout = timeout() unless defined $timeout;

    my ($res, $need_array, $n);
    my $req_idx = 0;

    for my $one (@$reqs) {
        my ($raw, $head_req);
        if ($dry_run) {
            $raw = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        } else {
            ($raw, $head_req) = send_request($one,
                                             $block->raw_request_middle_delay,
                                             $timeout, $block);
        }

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$reqs > 1;
        }

        while (1) {
            $raw = '' unless defined $raw;
            my ($raw_headers, $left);

            if (!defined $block->ignore_response) {
                ($res, $raw_headers, $left) = parse_response($name, $raw,
                                                             $head_req);
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
                check_error_code($block, $res, $dry_run, $req_idx,
                                 $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run,
                                           $req_idx, $need_array, $res);
                check_response_headers($block, $res, $raw_headers, $dry_run,
                                       $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx,
                                    $repeated_req_idx, $need_array);
            }

            if ($n || $req_idx < @$reqs - 1) {
                sleep parse_time($block->wait) if $block->wait;
                check_error_log($block, $res, $dry_run, $repeated_req_idx,
                                $need_array);
                check_access_log($block, $dry_run, $repeated_req_idx)
                    if !defined $block->ignore_response;
            }

            $req_idx++;
            last unless $n;
        }
    }

    sleep parse_time($block->wait) if $block->wait;

    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
    check_access_log($block, $dry_run, $repeated_req_idx)
        if !defined $block->ignore_response;
}


# Checks.  Descriptions follow the real one's wording.

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';

    SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1)
            if $dry_run;

        if (defined $block->error_code_like) {
            my $val = indexed($name, $block->error_code_like, $req_idx,
                              $need_array);
            Test::More::like($code, qr/$val/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            Test::More::is($code,
                           indexed($name, $block->error_code, $req_idx,
                                   $need_array),
                           "$name - status code ok");
        } else {
            Test::More::is($code, 200, "$name - status code ok");
        }
    }
}

sub check_raw_response_headers ($$$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    for my $type (qw(like unlike)) {
        my $sec = "raw_response_headers_$type";
        next unless defined $block->$sec;
        SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run",
                             1) if $dry_run;
            my $pat = indexed($name, $block->$sec, $req_idx, $need_array);
            if ($type eq 'like') {
                Test::More::like($raw_headers, qr/$pat/s,
                                 "$name - raw resp headers like");
            } else {
                Test::More::unlike($raw_headers, qr/$pat/s,
                                   "$name - raw resp headers unlike");
            }
        }
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers = '' unless defined $raw_headers;

    if (defined $block->response_headers) {
        my $headers = parse_headers(indexed($name, $block->response_headers,
                                            $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            SKIP: {
                Test::More::skip("$name - response_headers - tests skipped "
                                 . "due to $dry_run", 1) if $dry_run;
                if (!defined $val) {
                    Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                        "$name - header $key not present in the raw headers");
                    next;
                }
                my $port = server_port();
                my $cport = server_port_for_client();
                $val =~ s/\$ServerPort\b/$port/g;
                $val =~ s/\$ServerPortForClient\b/$cport/g;
                my $actual = $res ? $res->header($key) : undef;
                $actual = '' unless defined $actual;
                Test::More::is($actual, $val, "$name - header $key ok");
            }
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(indexed($name,
                                            $block->response_headers_like,
                                            $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
            SKIP: {
                Test::More::skip("$name - response_headers_like - tests "
                                 . "skipped due to $dry_run", 1) if $dry_run;
                Test::More::like($actual, qr/^$val$/,
                                 "$name - header $key like ok");
            }
        }
    }
}

sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;
    return unless $res && defined $res->content;
    my $filters = $block->response_body_filters;
    return unless defined $filters;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {
        $filters = $filters->[$req_idx]
            or bail_out($block->name . " - the --- response_body_filters "
                        . "array has no entry for request $req_idx");
    }

    my %named = (
        uc => sub { uc shift }, lc => sub { lc shift },
        ucfirst => sub { ucfirst shift }, lcfirst => sub { lcfirst shift },
        length => sub { length shift },
        md5_hex => sub { require Digest::MD5; Digest::MD5::md5_hex(shift) },
        sha1_hex => sub { require Digest::SHA; Digest::SHA::sha1_hex(shift) },
    );

    my $content = $res->content;
    for my $f (@$filters) {
        my $code = ref $f eq 'CODE' ? $f : $named{$f};
        bail_out($block->name . " - unknown filter, \"$f\", specified in "
                 . "the --- response_body_filters section") unless $code;
        $content = $code->($content);
    }
    $res->content($content);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array)
        = @_;
    my $name = $block->name;
    my $port = server_port();
    my $cport = server_port_for_client();
    my $content = $res ? $res->content : undef;

    if (defined $block->response_body || defined $block->response_body_eval)
    {
        my $expected;
        if (defined $block->response_body_eval) {
            $expected = eval indexed($name, $block->response_body_eval,
                                     $req_idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = indexed($name, $block->response_body, $req_idx,
                                $need_array);
        }
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$port/g;
            $expected =~ s/\$ServerPortForClient\b/$cport/g;
        }

        SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;
            my $desc = "$name - response_body - response is expected "
                       . "(repeated req $repeated_req_idx, req $req_idx)";
            if (ref $expected) {
                Test::More::like($content, $expected,
                                 "$name - response_body - like (repeated req "
                                 . "$repeated_req_idx, req $req_idx)");
            } elsif ($Test::Nginx::Util::NoLongString) {
                Test::More::is($content, $expected, $desc);
            } else {
                Test::LongString::is_string($content, $expected, $desc);
            }
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $sec = "response_body_$type";
        my $pat = indexed($name, $block->$sec, $req_idx, $need_array);
        $pat =~ s/\$ServerPort\b/$port/g;
        $pat =~ s/\$ServerPortForClient\b/$cport/g;
        my $summary = trim($content) // '';

        SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run",
                             1) if $dry_run;
            my $desc = "$name - $sec - response is expected ($summary)";
            if ($type eq 'like') {
                Test::More::like($content, qr/$pat/s, $desc);
            } else {
                Test::More::unlike($content, qr/$pat/s, $desc);
            }
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $req_idx, $repeated_req_idx, $dry_run);
    }
}

# A section of patterns: one per line (text matched literally), or an
# eval'ed regex or array of strings and regexes.
sub pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub pattern_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ /$pat/ : index($line, $pat) >= 0;
}

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

sub value_contains ($$) {
    my ($val, $pat) = @_;
    return 0 unless defined $val;
    return index("$val", $pat) >= 0 if !ref $val || ref $val eq 'Regexp';
    return scalar grep { defined && index("$_", $pat) >= 0 } @$val;
}

# error_log: each pattern must match a line; no_error_log: no pattern may
# match any line; one test per pattern (a failure per matching line).
sub check_log_patterns ($$$$$$) {
    my ($block, $lines, $dry_run, $log, $sec, $suffix) = @_;
    my $name = $block->name;
    my $neg = $sec =~ /^no_/;
    my $pats = pattern_list($block->$sec);

    if (!$neg) {
        my @left = @$pats;
        for my $line (@$lines) {
            for my $pat (@left) {
                next unless defined $pat && pattern_matches($line, $pat);
                SKIP: {
                    Test::More::skip("$name - $sec - tests skipped due to "
                                     . "$dry_run", 1) if $dry_run;
                    Test::More::pass("$name - pattern \"$pat\" matches a "
                                     . "line in $log$suffix");
                }
                undef $pat;
            }
        }
        for my $pat (grep { defined } @left) {
            SKIP: {
                Test::More::skip("$name - $sec - tests skipped due to "
                                 . "$dry_run", 1) if $dry_run;
                Test::More::fail("$name - pattern \"$pat\" should match a "
                                 . "line in $log$suffix");
            }
        }
        return;
    }

    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@$pats) {
            next unless defined $pat && pattern_matches($line, $pat);
            $found{$pat} = 1;
            SKIP: {
                Test::More::skip("$name - $sec - tests skipped due to "
                                 . "$dry_run", 1) if $dry_run;
                my @more = @$lines[$i + 1 .. min($i + 9, $#$lines)];
                Test::More::fail("$name - pattern \"" . fmt_str($pat)
                                 . "\" should not match any line in $log but "
                                 . "matches line \"" . fmt_str($line)
                                 . "\"$suffix\n" . join('', @more));
            }
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
        SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run",
                             1) if $dry_run;
            Test::More::pass("$name - pattern \"" . fmt_str($pat) . "\" does "
                             . "not match a line in $log$suffix");
        }
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $lines;
    my $suffix = " (req $repeated_req_idx)";

    if (defined(my $grep = $block->grep_error_log)) {
        my $pat = ref $grep eq 'ARRAY' ? $grep->[$repeated_req_idx] : $grep;
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- "
                 . "grep_error_log is defined") unless defined $expected;
        $expected = $expected->[$repeated_req_idx]
            if ref $expected eq 'ARRAY';
        SKIP: {
            Test::More::skip("$name - error_log - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;
            $lines ||= error_log_data();
            my $matched = '';
            for my $line (@$lines) {
                if (ref $pat ? $line =~ /$pat/ : $line =~ /\Q$pat\E/) {
                    $matched .= "$&\n" if $& !~ /\n/;
                }
            }
            is_str($matched, $expected,
                   "$name - grep_error_log_out (req $repeated_req_idx)");
        }
    }

    my %warn_about = (alert => 1, crit => 1, emerg => 1);
    for my $sec (qw(error_log no_error_log)) {
        my $pats = $block->$sec;
        next unless defined $pats;
        for my $level (keys %warn_about) {
            delete $warn_about{$level} if value_contains($pats, "[$level");
        }
        $lines ||= error_log_data();
        check_log_patterns($block, $lines, $dry_run, 'error.log', $sec,
                           $suffix);
    }

    return if $dry_run;
    $lines ||= error_log_data();

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

sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $lines = error_log_data();
    for my $sec (qw(no_shutdown_error_log shutdown_error_log)) {
        next unless defined $block->$sec;
        check_log_patterns($block, $lines, $dry_run, 'error.log', $sec, '');
    }
}

sub check_access_log ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $lines;
    for my $sec (qw(access_log no_access_log)) {
        next unless defined $block->$sec;
        $lines ||= Test::Nginx::Util::access_log_data();
        check_log_patterns($block, $lines, $dry_run, 'access.log', $sec,
                           " (req $repeated_req_idx)");
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
runner.  It implements a subset of the real module's API with the same
meaning, so that our suites run unchanged under either; it adds no API of
its own.  Block parsing is L<Test::Base>'s (C<use Test::Base -Base> as in
the real one): C<=== TEST n: name>, C<--- section>, section filters
(C<eval>, C<chomp>, ...), C<--- name: value> one-liners, C<--- ONLY>,
C<--- SKIP>, C<--- LAST>.

For each block it writes C<$servroot/conf/nginx.conf>, starts a fresh
nginx (C<-p $servroot/ -c conf/nginx.conf -e logs/error.log>; C<-e> only
for nginx E<gt>= 1.19.5), waits for the pid file to name a live master
(written after the listening sockets are open), sends the request(s),
checks, and stops nginx with SIGQUIT.  The error log checks see only the
lines written since the previous check of the same block, as in the real
one.

=head2 Functions

C<run_tests>, C<plan>, C<blocks> (Test::Base), C<repeat_each>, C<workers>,
C<worker_connections> (default 1024), C<master_on>, C<master_off>,
C<master_process_enabled>, C<log_level> (default C<debug>, or
C<$TEST_NGINX_LOG_LEVEL>), C<no_shuffle>, C<no_long_string>,
C<no_root_location>, C<env_to_nginx>, C<config_preamble>, C<timeout>
(default 3 s, or C<$TEST_NGINX_TIMEOUT>), C<server_name>, C<server_addr>,
C<server_port>, C<server_port_for_client>, C<server_root>, C<html_dir>,
C<check_accum_error_log>, C<add_block_preprocessor>,
C<add_response_body_check> (called as C<< $check->($block, $body, $req_idx,
$repeated_req_idx, $dry_run) >> after the body checks of every response),
C<add_cleanup_handler>, C<bail_out>, C<is_str>.  C<use_hup> and
C<no_nginx_manager> die: not supported.

=head2 Sections

Configuration: C<main_config>, C<http_config>, C<config> (inside the
default server), C<post_main_config>, C<server_name>, C<log_level>,
C<error_log_file>, C<user_files> (C<<< >>> name >>> lines or an array of
C<[name, body, date]>), C<init> (Perl code run after start).

Requests: C<request> (C<METHOD [URI [HTTP/x.y]]> and an optional body on
the following lines; a non-empty body is trimmed and gets a Content-Length;
C<eval> may return an array of such strings, each sent on a fresh
connection, and then every expectation must be an array too),
C<more_headers> (C<Name: value> per line, or an array, one per request),
C<pipelined_requests> (array, sent on one connection), C<raw_request>
(string, or array of pieces sent with C<raw_request_middle_delay> between
them), C<timeout> (C<3>, C<500ms>, C<2s>; each wait to write or read),
C<abort> (a timeout is then not a failure), C<shutdown> (shut the write
side after sending), C<wait> (sleep before checking the error log).

Checks: C<error_code> (default 200), C<error_code_like>,
C<response_headers> (C<Name: value>; C<!Name> = absent),
C<response_headers_like> (values are anchored regexes),
C<raw_response_headers_like>, C<raw_response_headers_unlike>,
C<response_body>, C<response_body_eval>, C<response_body_like>,
C<response_body_unlike> (regex with C</s>), C<response_body_filters>,
C<ignore_response>, C<error_log> and C<no_error_log> (one literal text
per line, or C<eval> giving a qr// or an array of strings and qr//),
C<grep_error_log> / C<grep_error_log_out>, C<access_log>,
C<no_access_log>, C<shutdown_error_log>, C<no_shutdown_error_log> (lines
logged while nginx quits), C<must_die> (nginx must fail to start: any
non-zero exit, or the given exit code; then C<error_log> is matched against
the error log, which C<-e> makes receive the config errors), C<skip_eval>,
C<skip_nginx>, C<todo>.

As in the real one, unexpected C<[error]> lines fail a block only when
C<no_error_log> lists them; C<[alert]>, C<[crit]> and C<[emerg]> lines
not mentioned by C<error_log>/C<no_error_log> are printed as warnings, and
C<Assertion ... failed> lines fail.

=head2 Environment

=over

=item C<TEST_NGINX_BINARY>: the nginx binary (default C<nginx> in PATH,
else F</usr/sbin/nginx>).

=item C<TEST_NGINX_LOAD_MODULES>: space separated paths, one
C<load_module> line each, before C<main_config>.

=item C<TEST_NGINX_SERVER_PORT> / C<TEST_NGINX_PORT>: the port the server
listens on (default 1984); C<TEST_NGINX_CLIENT_PORT>: the port requests go
to (default the same).

=item C<TEST_NGINX_SERVROOT>: the server root (default F<t/servroot>).

=item C<TEST_NGINX_TIMEOUT>, C<TEST_NGINX_LOG_LEVEL>,
C<TEST_NGINX_MASTER_PROCESS>, C<TEST_NGINX_NO_SHUFFLE>,
C<TEST_NGINX_CHECK_ACCUM_ERR_LOG>, C<TEST_NGINX_SLEEP>,
C<TEST_NGINX_VERBOSE>: as in the real one.

=item C<$TEST_NGINX_FOO> in C<config>, C<http_config>, C<main_config>,
C<post_main_config> and C<user_files> is replaced by C<$ENV{TEST_NGINX_FOO}>;
an unset variable bails out.  C<$TEST_NGINX_RAND_PORT_N> is a free port.
C<run_tests> sets C<TEST_NGINX_SERVER_PORT> and C<TEST_NGINX_SERVER_ROOT>
(as the real one does) and, when unset, C<TEST_NGINX_PORT>,
C<TEST_NGINX_HTML_DIR> and C<TEST_NGINX_SERVROOT>.

=item C<TEST_NGINX_FAIL_ON_ALERT> (default 1; 0 turns it off): the
project's extra strictness.  After nginx has quit, any C<[alert]> or
C<[emerg]> line, C<open socket #N left in connection> line or C<worker
process N exited on signal> line anywhere in the block's error log fails
the block unless one of the block's C<error_log> or C<shutdown_error_log>
patterns matches it (C<[emerg]> is allowed in C<must_die> blocks).

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

For C<plan tests =E<gt> ...>, each block makes, per C<repeat_each>:

=over

=item a C<must_die> block: 1, plus 1 per C<error_log> and C<no_error_log>
pattern (plus 1 for C<grep_error_log>);

=item otherwise, with K responses (K requests, or K pipelined requests):
for each response 1 (status), plus 1 per C<response_headers> (or
C<response_headers_like>) line, plus 1 if any of C<response_body>,
C<response_body_eval>, C<response_body_like>, C<response_body_unlike>,
plus 1 each for C<raw_response_headers_like>/C<_unlike> (none of these
with C<ignore_response>); plus K times (1 per C<error_log>,
C<no_error_log>, C<access_log>, C<no_access_log> pattern, plus 1 for
C<grep_error_log>) - the log is checked after every response, each time
against the lines new since the previous check, as in the real one;

=item plus, once per block, 1 per C<shutdown_error_log> and
C<no_shutdown_error_log> pattern;

=item plus whatever C<add_response_body_check> callbacks emit.

=back

Failures add tests: a C<no_error_log> pattern that matches several lines
fails once per line, and the runner's own failures (timeouts, slow quit,
alerts, valgrind) are extra tests, so a failing file may also miss its
plan.

=head1 DIFFERENCES FROM THE REAL Test::Nginx::Socket

nginx is stopped at the end of each block (the real one stops it when the
next block starts) and a graceful quit over 5 s fails; readiness is the
pid file, not connection retries (both exist); the configuration adds
C<*_temp_path> directives under the server root (Debian's compiled-in
paths are not writable), C<load_module> lines come before C<main_config>,
C<worker_connections> defaults to 1024 (64 in the real one), and no
C<env MOCKEAGAIN...> lines.  Not supported: HTTP/2 and HTTP/3, curl,
C<use_hup>, check-leak and benchmark modes, stap, C<tcp_listen>,
C<udp_listen>, requests given as arrays of packets, C<skip_nginx2>,
C<skip_openssl>, C<skip_slave>, C<todo_nginx>, C<http09>, C<charset>.
TEST_NGINX_FAIL_ON_ALERT exists only here.

=cut
