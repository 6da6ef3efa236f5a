
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_consumer.h"
#include "ngx_http_kafka_sse.h"


static ngx_http_kafka_sse_msg_t *ngx_http_kafka_sse_shared(
    ngx_http_kafka_record_t *rec, ngx_http_kafka_sse_ctx_t *ctx);
static void ngx_http_kafka_sse_record_release(ngx_http_kafka_record_t *rec);
static ngx_http_kafka_sse_msg_t *ngx_http_kafka_sse_format(
    const rd_kafka_message_t *msg, ngx_str_t *topic, ngx_uint_t format,
    ngx_str_t *event, ngx_log_t *log);
static size_t ngx_http_kafka_sse_value_len(const rd_kafka_message_t *msg,
    ngx_uint_t *value_b64);
static u_char *ngx_http_kafka_sse_value_write(u_char *p,
    const rd_kafka_message_t *msg, ngx_uint_t value_b64);
static size_t ngx_http_kafka_sse_json_len(const rd_kafka_message_t *msg,
    ngx_str_t *topic, ngx_uint_t *key_b64, ngx_uint_t *value_b64,
    rd_kafka_headers_t **headers);
static u_char *ngx_http_kafka_sse_json_write(u_char *p,
    const rd_kafka_message_t *msg, ngx_str_t *topic, ngx_uint_t key_b64,
    ngx_uint_t value_b64, rd_kafka_headers_t *headers);
static size_t ngx_http_kafka_sse_json_string_len(u_char *p, size_t len,
    ngx_uint_t *base64);
static u_char *ngx_http_kafka_sse_json_string(u_char *dst, u_char *p,
    size_t len, ngx_uint_t base64);


/* the consumer hands over a record at or after the client's position */

ngx_int_t
ngx_http_kafka_sse_record(ngx_http_kafka_sub_t *sub,
    ngx_http_kafka_record_t *rec)
{
    ngx_http_kafka_sse_ctx_t *ctx = sub->data;

    u_char                    *p;
    int32_t                    partition;
    ngx_http_kafka_sse_msg_t  *m;
    ngx_http_kafka_sse_out_t  *out;
    const rd_kafka_message_t  *msg;

    msg = rec->msg;
    partition = msg->partition;

    if (ctx->state != NGX_HTTP_KAFKA_SSE_STREAMING || ctx->overflow
        || ctx->paused)
    {
        return NGX_DECLINED;
    }

    if (ctx->skipping && ctx->skipping[partition]) {
        if (rd_kafka_message_timestamp(msg, NULL) < ctx->since) {
            ctx->id_stale = 1;
            return NGX_OK;
        }

        ctx->skipping[partition] = 0;
    }

    if (ctx->filter
        && (msg->key == NULL
            ? ctx->key.len != 0
            : (msg->key_len != ctx->key.len
               || ngx_memcmp(msg->key, ctx->key.data, ctx->key.len) != 0)))
    {
        ctx->id_stale = 1;
        return NGX_OK;
    }

    m = ngx_http_kafka_sse_shared(rec, ctx);
    if (m == NULL) {
        ctx->overflow = 1;
        ctx->close_reason = "out of memory";
        ctx->closed = NGX_HTTP_KAFKA_STATUS_CLOSED_ERROR;
        goto post;
    }

    out = ngx_http_kafka_sse_out(ctx, 0);
    if (out == NULL) {
        if (m->refs == 0) {
            ngx_free(m);
        }

        ctx->overflow = 1;
        ctx->close_reason = "out of memory";
        ctx->closed = NGX_HTTP_KAFKA_STATUS_CLOSED_ERROR;
        goto post;
    }

    out->msg = m;
    m->refs++;

    p = ngx_http_kafka_sse_write_id(out->data, ctx);

    ngx_http_kafka_sse_append(ctx, out, p);

    ngx_http_kafka_status_sse_event(&ctx->topic);

    return NGX_OK;

post:

    ngx_http_kafka_sse_schedule(ctx);

    return NGX_DECLINED;
}


/*
 * The record as this client wants it, formatted by the first client of
 * the fan-out that asked for this format and event name.  The record's
 * reference is dropped when the fan-out ends; a copy that does not fit in
 * the record's list belongs to the client's piece alone (refs 0 here).
 */

static ngx_http_kafka_sse_msg_t *
ngx_http_kafka_sse_shared(ngx_http_kafka_record_t *rec,
    ngx_http_kafka_sse_ctx_t *ctx)
{
    ngx_uint_t                 i;
    ngx_http_kafka_sse_msg_t  *m;

    for (i = 0; i < rec->nshared; i++) {
        m = rec->shared[i];

        if (m->format == ctx->conf->format
            && m->event.len == ctx->event.len
            && ngx_memcmp(m->event.data, ctx->event.data, ctx->event.len)
               == 0)
        {
            return m;
        }
    }

    m = ngx_http_kafka_sse_format(rec->msg, rec->topic, ctx->conf->format,
                                  &ctx->event, ctx->request->connection->log);
    if (m == NULL) {
        return NULL;
    }

    if (rec->nshared < NGX_HTTP_KAFKA_RECORD_SHARED) {
        m->refs = 1;
        rec->shared[rec->nshared++] = m;
        rec->release = ngx_http_kafka_sse_record_release;
    }

    return m;
}


static void
ngx_http_kafka_sse_record_release(ngx_http_kafka_record_t *rec)
{
    ngx_uint_t  i;

    for (i = 0; i < rec->nshared; i++) {
        ngx_http_kafka_sse_msg_unref(rec->shared[i]);
    }

    rec->nshared = 0;
}


void
ngx_http_kafka_sse_msg_unref(ngx_http_kafka_sse_msg_t *m)
{
    if (--m->refs == 0) {
        ngx_free(m);
    }
}


/*
 * An event without its id line.
 *
 * "value": the record value as "data:" lines.  Line breaks (CRLF, CR, LF)
 * split it into several "data:" lines, which a client joins with LF.  A
 * value that is not UTF-8 is sent as one line of base64, after a
 * ": base64" comment line.
 *
 * "json": one "data:" line with {"topic","partition","offset",
 * "timestamp","key","value","headers"}; a key or value that is not UTF-8
 * is base64 and flagged by "key_encoding"/"value_encoding": "base64";
 * headers are [name, value] pairs, with a third element "base64" if the
 * value is not UTF-8.
 */

static ngx_http_kafka_sse_msg_t *
ngx_http_kafka_sse_format(const rd_kafka_message_t *msg, ngx_str_t *topic,
    ngx_uint_t format, ngx_str_t *event, ngx_log_t *log)
{
    u_char                    *p;
    size_t                     len;
    ngx_uint_t                 value_b64, key_b64;
    rd_kafka_headers_t        *headers;
    ngx_http_kafka_sse_msg_t  *m;

    len = sizeof("event: \n") - 1 + event->len;

    headers = NULL;
    value_b64 = 0;
    key_b64 = 0;

    if (format == NGX_HTTP_KAFKA_SSE_VALUE) {
        len += ngx_http_kafka_sse_value_len(msg, &value_b64);

    } else {
        len += ngx_http_kafka_sse_json_len(msg, topic, &key_b64, &value_b64,
                                           &headers);
    }

    m = ngx_alloc(offsetof(ngx_http_kafka_sse_msg_t, data) + len, log);
    if (m == NULL) {
        return NULL;
    }

    m->refs = 0;
    m->format = format;
    m->event = *event;

    p = ngx_cpymem(m->data, "event: ", sizeof("event: ") - 1);
    p = ngx_cpymem(p, event->data, event->len);
    *p++ = '\n';

    if (format == NGX_HTTP_KAFKA_SSE_VALUE) {
        p = ngx_http_kafka_sse_value_write(p, msg, value_b64);

    } else {
        p = ngx_http_kafka_sse_json_write(p, msg, topic, key_b64, value_b64,
                                          headers);
    }

    m->len = p - m->data;

    return m;
}


/* the "data:" lines of the "value" format, and whether it is base64 */

static size_t
ngx_http_kafka_sse_value_len(const rd_kafka_message_t *msg,
    ngx_uint_t *value_b64)
{
    u_char      *value;
    size_t       vlen, i;
    ngx_uint_t   breaks;

    value = msg->payload;
    vlen = value ? msg->len : 0;

    if (!ngx_http_kafka_utf8_valid(value, vlen)) {
        *value_b64 = 1;
        return sizeof(": base64\ndata: \n") - 1
               + ngx_base64_encoded_length(vlen);
    }

    breaks = 0;

    for (i = 0; i < vlen; i++) {
        if (value[i] == '\n' || value[i] == '\r') {
            breaks++;
        }
    }

    return sizeof("data: \n") - 1 + vlen + breaks * (sizeof("data: ") - 1);
}


static u_char *
ngx_http_kafka_sse_value_write(u_char *p, const rd_kafka_message_t *msg,
    ngx_uint_t value_b64)
{
    u_char     *value;
    size_t      vlen, i;
    ngx_str_t   src, dst;

    value = msg->payload;
    vlen = value ? msg->len : 0;

    if (value_b64) {
        p = ngx_cpymem(p, ": base64\ndata: ",
                       sizeof(": base64\ndata: ") - 1);

        src.data = value;
        src.len = vlen;
        dst.data = p;

        ngx_encode_base64(&dst, &src);

        p += dst.len;
        *p++ = '\n';

        return p;
    }

    p = ngx_cpymem(p, "data: ", sizeof("data: ") - 1);

    for (i = 0; i < vlen; i++) {
        if (value[i] == '\r' || value[i] == '\n') {
            if (value[i] == '\r' && i + 1 < vlen && value[i + 1] == '\n') {
                i++;
            }

            p = ngx_cpymem(p, "\ndata: ", sizeof("\ndata: ") - 1);
            continue;
        }

        *p++ = value[i];
    }

    *p++ = '\n';

    return p;
}


/*
 * The "data:" line of the "json" format at its largest, which of the key
 * and value are base64, and the record's headers.
 */

static size_t
ngx_http_kafka_sse_json_len(const rd_kafka_message_t *msg, ngx_str_t *topic,
    ngx_uint_t *key_b64, ngx_uint_t *value_b64, rd_kafka_headers_t **headers)
{
    u_char      *value, *key;
    size_t       len, vlen, hlen, size, idx;
    ngx_uint_t   b64;
    const char  *name;
    const void  *hvalue;

    value = msg->payload;
    vlen = value ? msg->len : 0;
    key = msg->key;

    len = sizeof("data: {\"topic\":\"\",\"partition\":,\"offset\":,"
                 "\"timestamp\":,\"key\":,\"value\":,\"headers\":[],"
                 "\"key_encoding\":\"base64\","
                 "\"value_encoding\":\"base64\"}\n") - 1
          + topic->len + NGX_INT32_LEN + 2 * NGX_INT64_LEN;

    len += key ? ngx_http_kafka_sse_json_string_len(key, msg->key_len,
                                                     key_b64)
               : sizeof("null") - 1;

    len += value ? ngx_http_kafka_sse_json_string_len(value, vlen, value_b64)
                 : sizeof("null") - 1;

    if (rd_kafka_message_headers(msg, headers) != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
        *headers = NULL;
    }

    for (idx = 0;
         *headers
         && rd_kafka_header_get_all(*headers, idx, &name, &hvalue, &size)
            == RD_KAFKA_RESP_ERR_NO_ERROR;
         idx++)
    {
        hlen = ngx_strlen(name);

        len += sizeof("[\"\",,\"base64\"],") - 1
               + ngx_http_kafka_json_escape_len((u_char *) name, hlen);

        len += hvalue ? ngx_http_kafka_sse_json_string_len(
                                          (u_char *) hvalue, size, &b64)
                      : sizeof("null") - 1;
    }

    return len;
}


static u_char *
ngx_http_kafka_sse_json_write(u_char *p, const rd_kafka_message_t *msg,
    ngx_str_t *topic, ngx_uint_t key_b64, ngx_uint_t value_b64,
    rd_kafka_headers_t *headers)
{
    u_char      *value, *v;
    size_t       vlen, size, idx;
    int64_t      ts;
    ngx_uint_t   b64;
    const char  *name;
    const void  *hvalue;

    value = msg->payload;
    vlen = value ? msg->len : 0;

    p = ngx_cpymem(p, "data: {\"topic\":\"",
                   sizeof("data: {\"topic\":\"") - 1);
    p = ngx_cpymem(p, topic->data, topic->len);

    ts = rd_kafka_message_timestamp(msg, NULL);

    p = ngx_sprintf(p, "\",\"partition\":%D,\"offset\":%L,\"timestamp\":",
                    msg->partition, (int64_t) msg->offset);

    p = (ts >= 0) ? ngx_sprintf(p, "%L", ts)
                  : ngx_cpymem(p, "null", sizeof("null") - 1);

    p = ngx_cpymem(p, ",\"key\":", sizeof(",\"key\":") - 1);

    p = msg->key ? ngx_http_kafka_sse_json_string(p, msg->key, msg->key_len,
                                                  key_b64)
                 : ngx_cpymem(p, "null", sizeof("null") - 1);

    p = ngx_cpymem(p, ",\"value\":", sizeof(",\"value\":") - 1);

    p = value ? ngx_http_kafka_sse_json_string(p, value, vlen, value_b64)
              : ngx_cpymem(p, "null", sizeof("null") - 1);

    p = ngx_cpymem(p, ",\"headers\":[", sizeof(",\"headers\":[") - 1);

    for (idx = 0;
         headers
         && rd_kafka_header_get_all(headers, idx, &name, &hvalue, &size)
            == RD_KAFKA_RESP_ERR_NO_ERROR;
         idx++)
    {
        if (idx) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, "[\"", 2);
        p = ngx_http_kafka_json_escape(p, (u_char *) name, ngx_strlen(name));
        p = ngx_cpymem(p, "\",", 2);

        if (hvalue == NULL) {
            p = ngx_cpymem(p, "null]", sizeof("null]") - 1);
            continue;
        }

        v = (u_char *) hvalue;
        b64 = !ngx_http_kafka_utf8_valid(v, size);

        p = ngx_http_kafka_sse_json_string(p, v, size, b64);

        p = b64 ? ngx_cpymem(p, ",\"base64\"]", sizeof(",\"base64\"]") - 1)
                : ngx_cpymem(p, "]", 1);
    }

    *p++ = ']';

    if (key_b64) {
        p = ngx_cpymem(p, ",\"key_encoding\":\"base64\"",
                       sizeof(",\"key_encoding\":\"base64\"") - 1);
    }

    if (value_b64) {
        p = ngx_cpymem(p, ",\"value_encoding\":\"base64\"",
                       sizeof(",\"value_encoding\":\"base64\"") - 1);
    }

    *p++ = '}';
    *p++ = '\n';

    return p;
}


/*
 * The length of a JSON string (quotes included) for these bytes: the
 * UTF-8 text escaped, or base64 (*base64 is set) if they are not UTF-8.
 */

static size_t
ngx_http_kafka_sse_json_string_len(u_char *p, size_t len, ngx_uint_t *base64)
{
    *base64 = !ngx_http_kafka_utf8_valid(p, len);

    if (*base64) {
        return 2 + ngx_base64_encoded_length(len);
    }

    return 2 + ngx_http_kafka_json_escape_len(p, len);
}


static u_char *
ngx_http_kafka_sse_json_string(u_char *dst, u_char *p, size_t len,
    ngx_uint_t base64)
{
    ngx_str_t  src, enc;

    *dst++ = '"';

    if (base64) {
        src.data = p;
        src.len = len;
        enc.data = dst;

        ngx_encode_base64(&enc, &src);

        dst += enc.len;

    } else {
        dst = ngx_http_kafka_json_escape(dst, p, len);
    }

    *dst++ = '"';

    return dst;
}
