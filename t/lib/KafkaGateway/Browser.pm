package KafkaGateway::Browser;

# Headless Chromium for the browser tests: Debian's chromium driven by
# playwright-core from npm, installed into t/browser/node_modules.
#
#   browser_or_skip();   # plans a skip (or, as root, a failure) when the
#                        # browser cannot be had
#   browser_dir();       # t/browser, where the node scripts are
#
# tools/install-deps.sh (run by "make test") installs chromium and, when
# there is no node, Debian's nodejs and npm.  As root nothing is skipped:
# what is missing is a failure.

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use Test::More;

our @EXPORT = qw(browser_or_skip browser_dir);

my $dir = abs_path(dirname(__FILE__) . '/../../browser');

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

1;
