
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


/*
 * Where an SSE stream starts (ngx_http_kafka_position.c): resume ids and
 * "since", through ngx_http_kafka_sse_position() as the content handler
 * calls it, then, for an accepted value, the start positions against a
 * topic's watermarks (ngx_http_kafka_sse_start_positions) and the first
 * "id:" line (ngx_http_kafka_sse_write_id), into a buffer of the size the
 * stream start gives them (ngx_http_kafka_sse_resolved).
 *
 * Input: byte 0, bits 0-1, where the rest goes: the Last-Event-ID header,
 * ?last_event_id=, ?since=, or the whole query string; bits 2-5, the
 * topic's partitions (1 to 16).  Byte 1: the watermarks' magnitude, the
 * log start of every partition near 2^(byte 1 % 63).
 *
 * Checked: a refusal is a 400 with a JSON error; an accepted id has its
 * partitions ascending and its offsets non-negative; a "since" of digits
 * only is that number; every start position lies in its partition's log;
 * nothing is written past the preamble's buffer (AddressSanitizer).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_consumer.h"
#include "ngx_http_kafka_sse.h"
#include "fuzz_common.h"


static void fuzz_position_start(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_uint_t n, ngx_uint_t shift);


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *p;
    int64_t                         ms;
    ngx_int_t                       rc;
    ngx_str_t                       value;
    ngx_uint_t                      i, where, n, shift, digits;
    ngx_http_request_t             *r;
    ngx_http_kafka_sse_ctx_t       *ctx;
    ngx_http_kafka_sse_loc_conf_t  *conf;

    static char  *names[] = { NULL, "last_event_id=", "since=", "" };

    if (size < 2) {
        return 0;
    }

    where = data[0] & 3;
    n = ((data[0] >> 2) & 15) + 1;
    shift = data[1] % 63;
    value.data = (u_char *) data + 2;
    value.len = size - 2;

    r = fuzz_request();

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kafka_sse_ctx_t));
    conf = ngx_pcalloc(r->pool, sizeof(ngx_http_kafka_sse_loc_conf_t));
    if (ctx == NULL || conf == NULL) {
        fuzz_fail("no memory");
    }

    conf->retry = 3000;
    ctx->request = r;
    ctx->conf = conf;
    ctx->since = -1;

    if (where == 0) {
        (void) fuzz_header_in(r, "Last-Event-ID", value.data, value.len);

    } else {
        /* r->args as the request line parser leaves it: raw, undecoded */

        r->args.len = ngx_strlen(names[where]) + value.len;
        r->args.data = ngx_pnalloc(r->pool, r->args.len);
        if (r->args.data == NULL) {
            fuzz_fail("no memory");
        }

        p = ngx_cpymem(r->args.data, names[where], ngx_strlen(names[where]));
        ngx_memcpy(p, value.data, value.len);
    }

    rc = ngx_http_kafka_sse_position(r, ctx);

    if (rc != NGX_DECLINED) {
        if (rc != NGX_OK || fuzz_response_status() != NGX_HTTP_BAD_REQUEST) {
            fuzz_fail("a refusal returned %i, answered %ui", rc,
                      fuzz_response_status());
        }

        fuzz_request_done(r);
        return 0;
    }

    if (fuzz_response_status()) {
        fuzz_fail("an accepted value answered %ui", fuzz_response_status());
    }

    for (i = 0; i < ctx->nresume; i++) {
        if (ctx->resume[i].partition < 0 || ctx->resume[i].offset < 0
            || (i && ctx->resume[i].partition <= ctx->resume[i - 1].partition))
        {
            fuzz_fail("resume id entry %ui: %D:%L", i,
                      ctx->resume[i].partition, ctx->resume[i].offset);
        }
    }

    if (where == 2 && value.len) {
        for (digits = 0; digits < value.len; digits++) {
            if (value.data[digits] < '0' || value.data[digits] > '9') {
                break;
            }
        }

        if (digits == value.len && digits <= 15) {
            ms = ngx_atotm(value.data, value.len);

            if (ctx->since != ms) {
                fuzz_fail("since \"%V\" is %L", &value, ctx->since);
            }
        }
    }

    fuzz_position_start(r, ctx, n, shift);

    fuzz_request_done(r);

    return 0;
}


/*
 * The look-up's answer for a topic of "n" partitions: log starts near
 * 2^shift, 1000 records in each; with "since", partition 0 has no time
 * index and the others' times fall anywhere.
 */

static void
fuzz_position_start(ngx_http_request_t *r, ngx_http_kafka_sse_ctx_t *ctx,
    ngx_uint_t n, ngx_uint_t shift)
{
    u_char                    *buf, *p, *last;
    size_t                     size;
    int64_t                   *next;
    ngx_uint_t                 i;
    ngx_http_kafka_resolve_t   rs;

    ngx_memzero(&rs, sizeof(ngx_http_kafka_resolve_t));

    rs.npartitions = n;
    rs.low = ngx_palloc(r->pool, n * sizeof(int64_t));
    rs.high = ngx_palloc(r->pool, n * sizeof(int64_t));
    if (rs.low == NULL || rs.high == NULL) {
        fuzz_fail("no memory");
    }

    for (i = 0; i < n; i++) {
        rs.low[i] = ((int64_t) 1 << shift) + i;
        rs.high[i] = (rs.low[i] > NGX_HTTP_KAFKA_SSE_MAX_OFFSET - 1000)
                     ? NGX_HTTP_KAFKA_SSE_MAX_OFFSET : rs.low[i] + 1000;
    }

    if (ctx->since >= 0) {
        rs.at = ngx_palloc(r->pool, n * sizeof(int64_t));
        if (rs.at == NULL) {
            fuzz_fail("no memory");
        }

        for (i = 0; i < n; i++) {
            rs.at[i] = (i == 0) ? NGX_HTTP_KAFKA_OFFSET_SCAN
                                : (ctx->since >> i) - 1;
        }
    }

    /* the preamble's size, as ngx_http_kafka_sse_resolved() computes it */

    ctx->piece_size = sizeof("id: \n\n") - 1
                      + n * NGX_HTTP_KAFKA_SSE_ID_PART_LEN
                      + NGX_HTTP_KAFKA_SSE_COMMENT_LEN;

    size = ctx->piece_size + sizeof("retry: \n") - 1 + NGX_INT_T_LEN
           + (ctx->nresume + n) * 160;

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        fuzz_fail("no memory");
    }

    last = buf + size;

    p = ngx_http_kafka_sse_start_positions(r, ctx, &rs, buf, last);
    if (p == NULL) {
        fuzz_fail("ngx_http_kafka_sse_start_positions() failed");
    }

    p = ngx_slprintf(p, last, "retry: %M\n", ctx->conf->retry);
    p = ngx_http_kafka_sse_write_id(p, ctx);

    if (p > last) {
        fuzz_fail("the preamble is %uz bytes, its buffer %uz", p - buf, size);
    }

    next = ctx->sub.next;

    for (i = 0; i < n; i++) {
        if (next[i] < rs.low[i] || next[i] > rs.high[i]) {
            fuzz_fail("partition %ui starts at %L, its log is %L to %L",
                      i, next[i], rs.low[i], rs.high[i]);
        }
    }
}
