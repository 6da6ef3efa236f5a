# kafka_catalog: the server's event products as an AsyncAPI 3.0 document
# and as a page.  Fixed and templated locations (the templated ones list
# the topics of Kafka's metadata that their regex admits), produce and
# SSE, schemas from the contracts, servers from the request, per-caller
# documents under kafka_jwt (two tokens, two channel lists, no foreign
# topic anywhere), the 401 without a token, the page's escaping, YAML, the
# warning for a location that cannot be described, a path refused at
# configuration time, and the 503 when Kafka's metadata cannot be had.
#
# Every document is also checked with the AsyncAPI project's own parser
# (@asyncapi/parser, run by node): no diagnostic of severity error (0 in
# its scale).  The parser is installed with npm into build/npm; without
# node or npm, or without network, those checks are skipped and say so.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);
use JSON::PP ();
use Test::More;

use lib 't/lib';
use KafkaGateway::Blocks;
use KafkaGateway::JWT qw(make_keys jwt_sign);

my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $keys = make_keys($dir);

$ENV{TEST_NGINX_CATALOG_DIR} = $dir;

my $exp = time + 600;

sub token {
    return jwt_sign('HS256', "$keys/hmac.key", { sub => 'dev',
                                                 exp => $exp, @_ });
}

# A may produce to cat-orders and stream cat-t-a; B produces to cat-pay
# and streams cat-orders.
our $A = token(scope => 'kafka:produce:cat-orders kafka:consume:cat-t-a');
our $B = token(scope => 'kafka:produce:cat-pay kafka:consume:cat-orders');
our $NONE = token(scope => 'openid');

# a JSON Schema for kafka_produce_schema, and an AsyncAPI document whose
# payload is a $ref into its components

open my $fh, '>', "$dir/order.schema.json" or die $!;
print $fh <<'JSON';
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://example.com/order.schema.json",
  "type": "object",
  "required": ["id", "amount"],
  "properties": {
    "id": { "type": "string" },
    "amount": { "$ref": "#/$defs/money" }
  },
  "$defs": { "money": { "type": "number", "minimum": 0 } }
}
JSON
close $fh;

open $fh, '>', "$dir/shop.asyncapi.json" or die $!;
print $fh <<'JSON';
{
  "asyncapi": "3.0.0",
  "info": { "title": "shop", "version": "1" },
  "channels": {
    "stock": {
      "address": "cat-stock",
      "messages": { "level": { "$ref": "#/components/messages/level" } }
    }
  },
  "components": {
    "messages": {
      "level": { "payload": { "$ref": "#/components/schemas/level" } }
    },
    "schemas": {
      "level": {
        "type": "object",
        "properties": { "sku": { "type": "string" },
                        "count": { "type": "integer" } }
      }
    }
  }
}
JSON
close $fh;


# The AsyncAPI parser, with node

my $top = Cwd::getcwd();
my $npm = "$top/build/npm";
my $parser_missing;

sub parser_ready {
    return 0 if $parser_missing;
    return 1 if -d "$npm/node_modules/\@asyncapi/parser";

    if (system('node --version > /dev/null 2>&1') != 0
        || system('npm --version > /dev/null 2>&1') != 0)
    {
        $parser_missing = 'node and npm are needed for @asyncapi/parser '
                          . '(apt-get install nodejs npm)';
        return 0;
    }

    system("mkdir -p '$npm' && cd '$npm' && npm install --silent "
           . "--no-audit --no-fund --no-save \@asyncapi/parser\@3 "
           . "> /dev/null 2>&1");

    return 1 if -d "$npm/node_modules/\@asyncapi/parser";

    $parser_missing = '@asyncapi/parser could not be installed with npm '
                      . 'into build/npm';
    return 0;
}

my $validate_js = <<'JS';
'use strict';
const fs = require('fs');
const { Parser } = require('@asyncapi/parser');
(async () => {
    const { document, diagnostics } = await new Parser().parse(
        fs.readFileSync(process.argv[2], 'utf8'));
    const errors = diagnostics.filter((d) => d.severity === 0)
        .map((d) => `${d.code}: ${d.message} at /${d.path.join('/')}`);
    console.log(JSON.stringify({ parsed: Boolean(document), errors }));
})().catch((e) => {
    console.log(JSON.stringify({ parsed: false, errors: [String(e)] }));
});
JS

sub asyncapi_errors {
    my ($text) = @_;
    open my $f, '>', "$dir/validate.js" or die $!;
    print $f $validate_js;
    close $f;
    open $f, '>', "$dir/doc.json" or die $!;
    print $f $text;
    close $f;
    my $out = `NODE_PATH='$npm/node_modules' node '$dir/validate.js' '$dir/doc.json' 2>&1`;
    my $res = eval { JSON::PP::decode_json($out) }
              || { parsed => 0, errors => [ "node: $out" ] };
    return $res;
}


# --- catalog eval sub { my ($doc, $body) = @_; ... }: the body decoded,
# then the sub runs its own checks; --- catalog_valid: the AsyncAPI
# parser finds no error in it.

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $name = $block->name;

    if (defined(my $check = KafkaGateway::Blocks::section($block,
                                                          'catalog'))) {
        my $doc = eval { JSON::PP::decode_json($body) };
        ok($doc, "$name - the body is JSON") or diag($body);
        $check->($doc || {}, $body, $name);
    }

    if (defined KafkaGateway::Blocks::section($block, 'catalog_valid')) {
        SKIP: {
            skip("$name - AsyncAPI parser: $parser_missing", 1)
                unless parser_ready();
            my $res = asyncapi_errors($body);
            ok($res->{parsed} && !@{ $res->{errors} },
               "$name - \@asyncapi/parser: parsed, no error")
                or diag(join("\n", @{ $res->{errors} }));
        }
    }
});


# the parser does see errors: a document without info.version, an operation
# whose channel does not exist

SKIP: {
    skip("AsyncAPI parser: $parser_missing", 1) unless parser_ready();
    my $res = asyncapi_errors('{"asyncapi":"3.0.0","info":{"title":"x"},'
        . '"operations":{"o":{"action":"send",'
        . '"channel":{"$ref":"#/channels/none"}}}}');
    ok(@{ $res->{errors} } >= 2, 'the parser reports errors in a broken '
                                 . 'document') or diag(explain($res));
}


sub channels { [ sort keys %{ $_[0]{channels} || {} } ] }
sub operations { [ sort keys %{ $_[0]{operations} || {} } ] }


# nginx -t names a location it cannot describe, once

SKIP: {
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $mod = $ENV{TEST_NGINX_LOAD_MODULES};
    skip('nginx -t: no module to load (TEST_NGINX_LOAD_MODULES)', 3)
        unless $mod;

    mkdir "$dir/t";
    mkdir "$dir/t/logs";
    open my $c, '>', "$dir/t/nginx.conf" or die $!;
    print $c <<"CONF";
load_module $mod;
error_log stderr;
events { }
http {
    kafka_brokers 127.0.0.1:1;
    server {
        listen 127.0.0.1:1;
        location = /catalog { kafka_catalog; }
        location ~ ^/hidden/(?<t>[a-z-]+)\$ { kafka_produce \$t; }
        location = /arg { kafka_consume_sse \$arg_topic; }
        location ~ ^/fixed/ { kafka_produce cat-fixed; }
        location = /ok { kafka_produce cat-ok; }
    }
    server {
        listen 127.0.0.1:2;
        location ~ ^/elsewhere/(?<t>[a-z-]+)\$ { kafka_produce \$t; }
    }
}
CONF
    close $c;

    my $out = `'$bin' -t -p '$dir/t' -c '$dir/t/nginx.conf' 2>&1`;
    my @warn = grep { /\[warn\].*kafka_catalog/ } split /\n/, $out;

    is(scalar(grep { /location "\^\/hidden\/\(\?<t>\[a-z-\]\+\)\$" is left out of the catalog: its topic comes from the request, set "kafka_catalog_path"/ } @warn),
       1, 'nginx -t: the regex location with a captured topic, once')
        or diag($out);
    is(scalar(grep { /location "\/arg" is left out.*its topic comes from the request/ } @warn)
       + scalar(grep { /location "\^\/fixed\/" is left out.*its URL comes from the request/ } @warn),
       2, 'nginx -t: a variable topic, a regex location with a fixed topic')
        or diag($out);
    is(scalar(@warn), 3, 'nginx -t: nothing else (a server without a '
                         . 'catalog is not warned about)')
        or diag($out);
}


my $http_config = <<'HTTP';
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_jwt_key_type hmac;
    kafka_jwt_key_file $TEST_NGINX_CATALOG_DIR/hmac.key;
    kafka_catalog_title "Cat shop";
HTTP

my $config = <<'CONFIG';
    kafka_asyncapi $TEST_NGINX_CATALOG_DIR/shop.asyncapi.json;
    kafka_catalog_description "Orders & <b>stock</b> of the 'cat' shop";

    location = /catalog {
        kafka_catalog;
        kafka_catalog_version 2.1.0;
    }

    location = /secure/catalog {
        kafka_jwt "catalog";
        kafka_acl_claim scope;
        kafka_catalog;
    }

    location = /cat-orders {
        kafka_produce cat-orders;
        kafka_produce_key $arg_key;
        kafka_produce_schema $TEST_NGINX_CATALOG_DIR/order.schema.json;
    }

    location = /cat-orders/events {
        kafka_consume_sse cat-orders;
        kafka_consume_format json;
    }

    location = /stock {
        kafka_consume_sse cat-stock;
    }

    location = /pay {
        kafka_jwt "pay";
        kafka_produce cat-pay;
    }

    location ~ ^/topics/(?<t>cat-t-[a-z0-9]+)$ {
        kafka_produce $t;
        kafka_catalog_path "/topics/{topic}";
    }

    location ~ ^/streams/(?<t>cat-t-[a-z0-9]+)$ {
        kafka_consume_sse $t;
        kafka_consume_event update;
        kafka_consume_start earliest;
        kafka_catalog_path "/streams/{topic}";
    }
CONFIG

master_on();
workers(1);
log_level('info');
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $http_config)
        unless defined $block->http_config;
    $block->set_value("config", $config) unless defined $block->config;

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: the whole catalog: fixed and templated, produce and SSE
--- kafka_topics: cat-t-a:1 cat-t-b:2 cat-u-x:1
--- request
GET /catalog
--- more_headers
Host: cat.example:8080
--- error_code: 200
--- response_headers
Content-Type: application/json
Vary: Accept
Cache-Control: no-cache
--- catalog eval
sub {
    my ($doc, $body, $name) = @_;
    ::is($doc->{asyncapi}, '3.0.0', "$name - AsyncAPI 3.0.0");
    ::is_deeply($doc->{info}, { title => 'Cat shop', version => '2.1.0',
              description => "Orders & <b>stock</b> of the 'cat' shop" },
              "$name - info from the directives");
    ::is_deeply($doc->{servers}{gateway}{host}, 'cat.example:8080',
              "$name - the host the caller used");
    ::is($doc->{servers}{gateway}{protocol}, 'http', "$name - its scheme");
    ::is_deeply(::channels($doc),
              [ qw(cat-orders cat-pay cat-stock cat-t-a cat-t-b) ],
              "$name - a channel per topic: the regex admits cat-t-*");
    ::is_deeply(::operations($doc),
              [ qw(consume-cat-orders consume-cat-stock consume-cat-t-a
                   consume-cat-t-b produce-cat-orders produce-cat-pay
                   produce-cat-t-a produce-cat-t-b) ],
              "$name - an operation per location and topic");
    ::unlike($body, qr/__|cat-u-x/, "$name - no internal topic, no topic "
                                   . "the regexes refuse");
    ::like($body, qr/"produce-cat-t-a".*"produce-cat-t-b".*"consume-cat-t-a"
                     .*"consume-cat-t-b"/sx,
           "$name - a templated location's topics in name order");

    my $p = $doc->{operations}{'produce-cat-t-b'};
    ::is($p->{action}, 'send', "$name - produce is send");
    ::is($p->{channel}{'$ref'}, '#/channels/cat-t-b', "$name - its channel");
    ::is($p->{'x-gateway'}{url}, 'http://cat.example:8080/topics/cat-t-b',
       "$name - the template filled in");
    ::is($p->{bindings}{http}{method}, 'POST', "$name - POST");
    ::is_deeply($p->{messages}, [
        { '$ref' => '#/channels/cat-t-b/messages/record' },
        { '$ref' => '#/channels/cat-t-b/messages/restJson' },
        { '$ref' => '#/channels/cat-t-b/messages/restBinary' } ],
        "$name - raw and REST Proxy v2 forms");
    ::is($doc->{channels}{'cat-t-b'}{messages}{restJson}{contentType},
       'application/vnd.kafka.json.v2+json', "$name - the v2 JSON type");

    my $s = $doc->{operations}{'consume-cat-t-a'};
    ::is($s->{action}, 'receive', "$name - SSE is receive");
    ::is_deeply([ @{ $s->{'x-gateway'} }{qw(url event format start)} ],
              [ 'http://cat.example:8080/streams/cat-t-a', 'update',
                'value', 'earliest' ],
              "$name - URL, event name, format, start");
    ::is_deeply($s->{'x-gateway'}{resume},
              { header => 'Last-Event-ID', query => 'last_event_id',
                since => 'since' }, "$name - resume semantics");
    ::ok($s->{bindings}{http}{query}{properties}{last_event_id},
       "$name - last_event_id in the binding's query");

    my $o = $doc->{operations}{'consume-cat-orders'};
    ::is_deeply([ @{ $o->{'x-gateway'} }{qw(url event format)} ],
              [ 'http://cat.example:8080/cat-orders/events', 'cat-orders',
                'json' ], "$name - a fixed SSE location: the topic's event");
    ::ok($doc->{channels}{'cat-orders'}{messages}{eventJson}{payload}
           {properties}{offset}, "$name - the json format's envelope");

    ::is_deeply($doc->{channels}{'cat-orders'}{messages}{record}{payload},
              { type => 'object', required => [ 'id', 'amount' ],
                properties => { id => { type => 'string' },
                                amount => { type => 'number',
                                            minimum => 0 } } },
              "$name - kafka_produce_schema, its \$ref inlined");
    ::is_deeply($doc->{channels}{'cat-stock'}{messages}{event}{payload},
              { type => 'object',
                properties => { sku => { type => 'string' },
                                count => { type => 'integer' } } },
              "$name - the kafka_asyncapi channel's payload, inlined");
    ::is($doc->{channels}{'cat-t-a'}{messages}{record}{payload}{type}, undef,
       "$name - no schema: any value");
    ::ok($doc->{operations}{'produce-cat-orders'}{'x-gateway'}{key},
       "$name - kafka_produce_key noted");

    ::is_deeply($doc->{operations}{'produce-cat-pay'}{security},
              [ { '$ref' => '#/components/securitySchemes/bearer' } ],
              "$name - a kafka_jwt location requires the bearer token");
    ::is_deeply($doc->{components}{securitySchemes}{bearer},
              { type => 'http', scheme => 'bearer', bearerFormat => 'JWT',
                description => $doc->{components}{securitySchemes}{bearer}
                                   {description} },
              "$name - HTTP bearer JWT");
    ::ok(!$doc->{operations}{'produce-cat-orders'}{security},
       "$name - an open location has no security");
}
--- catalog_valid



=== TEST 2: only GET and HEAD
--- request
POST /catalog
x
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body chomp
{"error_code":40501,"message":"method POST is not allowed, use GET"}



=== TEST 3: kafka_jwt on the catalog: no token, the usual challenge
--- request
GET /secure/catalog
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer realm="catalog"
--- response_body_unlike: cat-



=== TEST 4: token A sees its two products, nothing else
--- request
GET /secure/catalog
--- more_headers eval
"Authorization: Bearer $::A\nHost: cat.example"
--- error_code: 200
--- response_headers
Cache-Control: private, no-store
--- catalog eval
sub {
    my ($doc, $body, $name) = @_;
    ::is_deeply(::channels($doc), [ qw(cat-orders cat-t-a) ],
              "$name - the channels A's grants allow");
    ::is_deeply(::operations($doc),
              [ qw(consume-cat-t-a produce-cat-orders) ],
              "$name - produce cat-orders, stream cat-t-a: not the other "
              . "way round");
    ::unlike($body, qr/cat-t-b|cat-pay|cat-stock|cat-orders\/events|eventJson/,
           "$name - no other topic or operation anywhere");
    ::ok(!$doc->{components}, "$name - no security scheme: none of A's "
                            . "products needs one");
}
--- catalog_valid



=== TEST 5: token B sees other products
--- request
GET /secure/catalog
--- more_headers eval
"Authorization: Bearer $::B\nHost: cat.example"
--- error_code: 200
--- catalog eval
sub {
    my ($doc, $body, $name) = @_;
    ::is_deeply(::channels($doc), [ qw(cat-orders cat-pay) ],
              "$name - the channels B's grants allow");
    ::is_deeply(::operations($doc),
              [ qw(consume-cat-orders produce-cat-pay) ],
              "$name - stream cat-orders, produce to cat-pay");
    ::unlike($body, qr/cat-t-|cat-stock|example\/cat-orders"/,
             "$name - no other topic or operation anywhere");
    ::is_deeply([ sort keys %{ $doc->{channels}{'cat-orders'}{messages} } ],
                [ 'eventJson' ], "$name - cat-orders: the stream's message "
                . "only");
    ::is($doc->{operations}{'consume-cat-orders'}{'x-gateway'}{url},
       'http://cat.example/cat-orders/events', "$name - its URL");
    ::ok($doc->{components}{securitySchemes}{bearer},
       "$name - cat-pay needs the bearer token");
}
--- catalog_valid



=== TEST 6: a token without grants: an empty catalog, still valid
--- request
GET /secure/catalog
--- more_headers eval
"Authorization: Bearer $::NONE"
--- error_code: 200
--- catalog eval
sub {
    my ($doc, $body, $name) = @_;
    ::is_deeply($doc->{channels}, {}, "$name - no channel");
    ::is_deeply($doc->{operations}, {}, "$name - no operation");
    ::unlike($body, qr/cat-/, "$name - no topic anywhere");
}
--- catalog_valid



=== TEST 7: a browser gets the page, every text escaped
--- request
GET /catalog
--- more_headers
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8
Host: cat.example
--- error_code: 200
--- response_headers
Content-Type: text/html; charset=utf-8
Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'
--- response_body_like chomp
(?s)^<!DOCTYPE html>.*<title>Cat shop</title>.*Orders &amp; &lt;b&gt;stock&lt;/b&gt; of the &#39;cat&#39; shop.*<section class="product" data-topic="cat-orders">.*curl -X POST 'http://cat.example/cat-orders'.*data-url="/cat-orders/events" data-event="cat-orders".*data-topic="cat-t-a".*curl -N 'http://cat.example/streams/cat-t-a'.*data-event="update".*</html>$
--- response_body_unlike
<b>|src=|href="http



=== TEST 8: ?format=json wins over Accept; ?format=html over JSON
--- request eval
[ "GET /catalog?format=json", "GET /catalog?format=html" ]
--- more_headers
Accept: text/html
--- error_code eval
[ 200, 200 ]
--- response_headers eval
[ "Content-Type: application/json", "Content-Type: text/html; charset=utf-8" ]



=== TEST 9: a page per caller too
--- request
GET /secure/catalog
--- more_headers eval
"Authorization: Bearer $::A\nAccept: text/html"
--- error_code: 200
--- response_body_like chomp
data-topic="cat-t-a"
--- response_body_unlike
cat-t-b|cat-pay|cat-stock



=== TEST 10: no product: a valid, empty catalog
--- config
    location = /catalog {
        kafka_catalog;
    }
--- request
GET /catalog
--- error_code: 200
--- catalog eval
sub {
    my ($doc, $body, $name) = @_;
    ::is_deeply($doc->{info}, { title => 'Cat shop', version => '1.0.0' },
              "$name - the default version, no description");
    ::is_deeply($doc->{channels}, {}, "$name - no channel");
}
--- catalog_valid



=== TEST 11: the catalog of a server{} only lists that server's products
--- config
    location = /catalog {
        kafka_catalog;
        kafka_catalog_title "Only here";
    }
    location = /here {
        kafka_produce cat-here;
    }
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/there.sock;
        location = /there { kafka_produce cat-there; }
    }
--- request
GET /catalog
--- error_code: 200
--- catalog eval
sub {
    my ($doc, $body, $name) = @_;
    ::is_deeply(::channels($doc), [ 'cat-here' ], "$name - cat-here");
    ::unlike($body, qr/cat-there/, "$name - not the other server's");
}
--- catalog_valid



=== TEST 12: YAML, from libyaml's emitter: the same document
--- request
GET /catalog?format=yaml
--- error_code: 200
--- response_headers
Content-Type: application/yaml
--- response_body_like chomp
(?s)^asyncapi: "3\.0\.0"\ninfo:\n  title: "Cat shop"\n  version: "2\.1\.0"\n.*\nchannels:\n  cat-orders:\n    address: cat-orders\n.*\noperations:\n.*  produce-cat-orders:\n    action: send\n.*\n      key: true\n.*    - \$ref: "#/channels/cat-orders/messages/record"\n.*\n  consume-cat-t-a:\n.*\n      retry: 3000\n
--- catalog_valid



=== TEST 13: Accept: application/yaml
--- request
GET /catalog
--- more_headers
Accept: application/yaml, application/json;q=0.5
--- error_code: 200
--- response_headers
Content-Type: application/yaml
--- response_body_like chomp
^asyncapi: "3\.0\.0"



=== TEST 14: kafka_catalog_path is a path of the server
--- config
    location ~ ^/t/(?<t>[a-z]+)$ {
        kafka_produce $t;
        kafka_catalog_path "t/{topic}";
    }
--- must_die
--- error_log
"kafka_catalog_path" directive must start with "/"



=== TEST 15: no broker answers the metadata of a templated location: 503
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_metadata_timeout 1s;
--- config
    location = /catalog {
        kafka_catalog;
    }
    location ~ ^/topics/(?<t>cat-t-[a-z0-9]+)$ {
        kafka_produce $t;
        kafka_catalog_path "/topics/{topic}";
    }
--- kafka_control eval
{ start => 'down all' }
--- request
GET /catalog
--- error_code: 503
--- response_body_like chomp
^\{"error_code":50302,"message":"Kafka's metadata is unavailable: .+"\}$
--- error_log
kafka_catalog: no metadata from Kafka
--- no_error_log
[alert]
[crit]
--- error_log_allowed eval
[ qr/kafka/ ]
--- timeout: 10
