# The catalog's page in a real browser: headless Chromium (Debian's
# chromium, driven by playwright-core from npm, as t/browser.t does) opens
# the page that kafka_catalog serves to a browser, finds the server's
# products there, presses "Watch live" on one, and sees a record produced
# during the test arrive in the live view (escaped: its value holds
# markup).  A screenshot of the page with that event is saved in the
# nginx prefix (and copied to $CATALOG_SCREENSHOT if set), to look at.
#
# As t/browser.t: chromium (and nodejs/npm if there is no node) come from
# tools/install-deps.sh; playwright-core is installed with npm into
# t/browser/node_modules; as root, anything missing is a failure.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use KafkaGateway::SSE;
use KafkaGateway::Browser;
use File::Copy qw(copy);
use IO::Select;
use IPC::Open2 qw(open2);
use JSON::PP ();
use Time::HiRes qw(time);

plan skip_all => 'a browser under valgrind is too slow'
    if sse_valgrind();
plan skip_all => 'no broker (run under tools/with-broker.sh)'
    unless $ENV{KAFKA_BROKERS};

browser_or_skip();

my $orders = sse_unique_topic('cat-orders');
my $audit = sse_unique_topic('cat-audit');

my $root = sse_start_nginx(<<"LOC");
        location = /catalog {
            kafka_catalog;
            kafka_catalog_title "Browser shop";
            kafka_catalog_description "Orders & audit <events>";
        }

        location = /favicon.ico {
            return 204;
        }

        location = /orders {
            kafka_produce $orders;
        }

        location = /orders/events {
            kafka_consume_sse $orders;
            kafka_consume_retry 500ms;
        }

        location = /audit/events {
            kafka_consume_sse $audit;
            kafka_consume_format json;
        }
LOC

my $shot = "$root/catalog.png";

open my $fh, '>', "$root/catalog-page.js" or die $!;
print $fh <<'JS';
// Opens the catalog page, lists its products, starts the live view of
// one; once told the value to expect (a line on stdin), waits for it in
// the live view, takes a screenshot and prints "done" and what it saw.
//   node catalog-page.js BROWSER_DIR URL TOPIC SCREENSHOT
'use strict';

const path = require('path');
const readline = require('readline');
const [dir, url, topic, shot] = process.argv.slice(2);
const { chromium } = require(path.join(dir, 'node_modules',
                                       'playwright-core'));

(async () => {
    const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu',
               '--no-first-run', '--disable-background-networking'],
    });
    const errors = [];

    try {
        const page = await browser.newPage({
            viewport: { width: 1100, height: 800 } });
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('console', (m) => {
            if (m.type() === 'error') {
                errors.push(m.text());
            }
        });

        const res = await page.goto(url);
        const title = await page.title();
        const description = await page.textContent('.description');
        const topics = await page.$$eval('section.product',
                                         (s) => s.map((x) => x.dataset.topic));
        const urls = await page.$$eval('code.url',
                                       (s) => s.map((x) => x.textContent));

        const section = page.locator(`section[data-topic="${topic}"]`);
        await section.locator('button.watch').click();
        await section.locator('.state', { hasText: 'live' })
            .waitFor({ timeout: 20000 });

        console.log('live ' + JSON.stringify({
            status: res.status(), title, description, topics, urls }));

        const input = readline.createInterface({ input: process.stdin });
        const expected = (await input[Symbol.asyncIterator]().next()).value;

        await section.locator('ol.events li', { hasText: expected })
            .waitFor({ timeout: 20000 });
        const events = await section.locator('ol.events li .data')
            .allTextContents();
        const markup = await section.locator('ol.events b').count();

        await page.screenshot({ path: shot, fullPage: true });
        input.close();

        console.log('done ' + JSON.stringify({ events, markup, errors }));

    } finally {
        await browser.close();
    }
})().catch((e) => {
    console.log('failed ' + e.message.split('\n')[0]);
    process.exit(1);
});
JS
close $fh;

my ($out, $in);
my $pid = open2($out, $in, 'node', "$root/catalog-page.js", browser_dir(),
                'http://127.0.0.1:' . sse_port() . '/catalog', $orders,
                $shot);
$in->autoflush(1);

my $sel = IO::Select->new($out);
my $buf = '';

sub line {
    my ($secs) = @_;
    my $end = time + $secs;
    while ($buf !~ /\n/) {
        my $left = $end - time;
        return undef if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread $out, my $chunk, 65536;
        return undef unless $n;
        $buf .= $chunk;
    }
    $buf =~ s/^([^\n]*)\n//;
    return $1;
}

my $line = line(90) // '';
my ($live) = $line =~ /^live (.*)$/;
ok($live, 'the page opens and its live view connects') or diag($line);

my $page = eval { JSON::PP::decode_json($live // '{}') } || {};
my $port = sse_port();

is($page->{status}, 200, 'the page: 200');
is($page->{title}, 'Browser shop', 'its title: kafka_catalog_title');
is($page->{description}, 'Orders & audit <events>',
   'the description, escaped in the HTML, reads as written');
is_deeply([ sort @{ $page->{topics} || [] } ], [ sort $audit, $orders ],
          'the products of the server: both topics, not the /produce '
          . 'location (its topic comes from the request)');
is_deeply([ sort @{ $page->{urls} || [] } ],
          [ sort "http://127.0.0.1:$port/orders",
                 "http://127.0.0.1:$port/orders/events",
                 "http://127.0.0.1:$port/audit/events" ],
          'the URLs, from the host the browser used');

# a record produced now reaches the open live view

my $value = 'order <b>42</b> & more';
my ($status) = sse_request('POST', "/orders", $value);
is($status, 200, 'a record produced through the gateway');

print $in "order <b>42</b>\n";
$line = line(60) // '';
my ($done) = $line =~ /^done (.*)$/;
ok($done, 'the live view shows it') or diag($line);

my $res = eval { JSON::PP::decode_json($done // '{}') } || {};

is_deeply($res->{events}, [ $value ], 'the event\'s data as produced');
is($res->{markup}, 0, 'as text: its markup is not rendered');
is_deeply($res->{errors}, [], 'no script error, nothing refused by the '
                              . 'page\'s Content-Security-Policy');

close $in;
waitpid($pid, 0);

ok(-s $shot, "a screenshot: $shot");
open my $png, '<:raw', $shot;
my $magic = '';
read($png, $magic, 8) if $png;
is($magic, "\x89PNG\r\n\x1a\n", 'a PNG image');

copy($shot, $ENV{CATALOG_SCREENSHOT}) if $ENV{CATALOG_SCREENSHOT};

unlike(sse_error_log(), qr/\[(alert|crit|emerg|error)\]/,
       'no errors in the error log');

sse_stop_nginx();

done_testing();
