# nginx-kafka-gateway
#
#   make          build the module (build/ngx_http_kafka_gateway_module.so)
#   make run      build, start a dev broker and nginx with nginx.conf.sample
#   make test     build and run the whole test suite, and the JSON Schema
#                 validator through JSON-Schema-Test-Suite
#                 (JSON_SCHEMA_TEST_SUITE, default ../shared/json-schema-test-suite;
#                 skipped when it is absent)
#   make test-valgrind   the same suite with nginx under valgrind
#   make test-matrix     the suites against other nginx releases, built from
#                        NGINX_SOURCES (default ../shared/nginx; skipped
#                        when it is absent)
#   make test-asan       the suite against nginx and the module built with
#                        ASan and UBSan (sources as for test-matrix)
#   make fuzz     libFuzzer targets for the parsers of client input, each for
#                 FUZZ_SECONDS (default 15; fuzz/README.md)
#   make check    everything CI runs (.ci/run): test, test-matrix, test-asan,
#                 test-deb, fuzz
#   make bench    benchmarks (see bench/README.md)

BUILD      ?= $(CURDIR)/build
NGINX_BIN  ?= /usr/sbin/nginx
RUN_PORT   ?= 8080
PROVE_ARGS ?= t/*.t t/selftest/*.t
NGINX_SOURCES ?= ../shared/nginx
FUZZ_SECONDS ?= 15
JSON_SCHEMA_TEST_SUITE ?= ../shared/json-schema-test-suite

MODULE     = $(BUILD)/ngx_http_kafka_gateway_module.so
TOOLS      = $(BUILD)/kafka-dev-broker $(BUILD)/kafka-dev-dump \
             $(BUILD)/schema-suite
SCHEMA_SRCS = src/ngx_http_kafka_schema.c src/ngx_http_kafka_schema_format.c
TOOL_CFLAGS = -std=gnu99 -O2 -g -Wall -Wextra -Werror

# Test::Nginx is not packaged by Debian: our compatible runner in t/compat
# is used only when the real one is not installed.
PROVE_INC  = -I t/lib $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                         || echo -I t/compat)

export TEST_NGINX_BINARY ?= $(NGINX_BIN)
export TEST_NGINX_LOAD_MODULES ?= $(MODULE)
export KAFKA_DEV_BROKER ?= $(BUILD)/kafka-dev-broker
export KAFKA_DEV_DUMP ?= $(BUILD)/kafka-dev-dump

.PHONY: all deps module tools run test test-valgrind test-matrix test-asan \
        fuzz test-schema-suite check bench clean

all: module tools

deps:
	@tools/install-deps.sh

module: deps
	@tools/build-module.sh $(BUILD)

tools: deps $(TOOLS)

$(BUILD)/kafka-dev-broker: tools/kafka-dev-broker.c
	@mkdir -p $(BUILD)
	$(CC) $(TOOL_CFLAGS) -o $@ $< -lrdkafka -lpthread

$(BUILD)/kafka-dev-dump: tools/kafka-dev-dump.c
	@mkdir -p $(BUILD)
	$(CC) $(TOOL_CFLAGS) -o $@ $< -lrdkafka -ljansson

# the contracts' validator, linked on its own with the suite's driver
$(BUILD)/schema-suite: tools/schema-suite.c $(SCHEMA_SRCS) \
                       src/ngx_http_kafka_schema.h
	@mkdir -p $(BUILD)
	$(CC) $(TOOL_CFLAGS) -Isrc -o $@ tools/schema-suite.c $(SCHEMA_SRCS) \
	    -ljansson -lpcre2-8 -lm

run: all
	@RUN_PORT=$(RUN_PORT) NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) \
	    tools/with-broker.sh tools/run-demo.sh

test: all test-schema-suite
	tools/with-broker.sh prove $(PROVE_INC) $(PROVE_ARGS)

# JSON Schema validation judged by the official JSON-Schema-Test-Suite
# (drafts 2020-12 and 7, not optional/; the skipped groups and why are in
# tools/schema-suite.skip); a clone without the suite skips it
test-schema-suite: $(BUILD)/schema-suite
	@if [ -d "$(JSON_SCHEMA_TEST_SUITE)/tests/draft2020-12" ]; then \
	    $(SCHEMA_SUITE_RUNNER) $(BUILD)/schema-suite \
	        "$(JSON_SCHEMA_TEST_SUITE)" tools/schema-suite.skip; \
	else \
	    echo "test-schema-suite: skipped, no JSON-Schema-Test-Suite at" \
	         "$(JSON_SCHEMA_TEST_SUITE) (set JSON_SCHEMA_TEST_SUITE)"; \
	fi

# the runner's own self-tests (t/selftest) are not memory-checked; the
# suite's driver runs under valgrind's memcheck
test-valgrind: all
	$(MAKE) test-schema-suite SCHEMA_SUITE_RUNNER="valgrind -q \
	    --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite"
	TEST_NGINX_USE_VALGRIND=1 tools/with-broker.sh \
	    prove $(PROVE_INC) $(or $(VALGRIND_PROVE_ARGS),t/*.t)

# the whole suite on the newest mainline, a smoke subset on the older
# releases (tools/test-matrix.sh says which); each nginx is built once
test-matrix: tools
	NGINX_SOURCES="$(NGINX_SOURCES)" tools/test-matrix.sh $(BUILD)

# the whole suite on the newest mainline built with clang's ASan and UBSan,
# the module too; fails on any sanitizer report (tools/test-asan.sh)
test-asan: tools
	NGINX_SOURCES="$(NGINX_SOURCES)" tools/test-asan.sh $(BUILD)

# libFuzzer targets (fuzz/README.md): each runs FUZZ_SECONDS (CI: the
# default, 15 s; by hand e.g. FUZZ_SECONDS=600) against nginx's objects and
# the module built with clang's ASan and UBSan (sources as for test-matrix);
# fails on any crash, sanitizer report, leak or failed check
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) NGINX_SOURCES="$(NGINX_SOURCES)" \
	    tools/fuzz.sh $(BUILD)

# what CI runs: the suite on Debian's nginx, the other nginx releases, the
# sanitizers, the Debian package, the fuzzers (each says "skipped" where it
# cannot run)
check: test test-matrix test-asan test-deb fuzz

bench: all
	PROVE_INC="$(PROVE_INC)" bench/run.sh

# The Debian package, built by Debian's own tools (debhelper, nginx-dev's
# dh-sequence-nginx) from a copy of the tree in build/deb; test-deb installs
# it into this system (root, Debian), checks it, and purges it.
.PHONY: deb test-deb

deb:
	@tools/install-deps.sh deb
	@tools/build-deb.sh $(BUILD)

test-deb: deb tools
	KGW_BUILD=$(BUILD) prove $(PROVE_INC) -v t/package/deb.t

clean:
	rm -rf $(BUILD) t/servroot*
