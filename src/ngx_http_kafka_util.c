
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"


#define NGX_HTTP_KAFKA_ERROR_MESSAGE_LEN  1024


static ngx_str_t  ngx_http_kafka_json_type = ngx_string("application/json");


/* Kafka's own rule: 1 to 249 characters of [a-zA-Z0-9._-], not "." or ".." */

ngx_int_t
ngx_http_kafka_topic_valid(ngx_str_t *topic)
{
    u_char      ch;
    ngx_uint_t  i;

    if (topic->len == 0 || topic->len > NGX_HTTP_KAFKA_TOPIC_MAX_LEN) {
        return NGX_DECLINED;
    }

    if ((topic->len == 1 && topic->data[0] == '.')
        || (topic->len == 2 && topic->data[0] == '.' && topic->data[1] == '.'))
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < topic->len; i++) {
        ch = topic->data[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_'
              || ch == '-'))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * Sends a complete response and returns what ngx_http_finalize_request()
 * expects.  In a subrequest (e.g. a mirror) the body ends the subrequest's
 * part of the output, not the connection's.
 */

ngx_int_t
ngx_http_kafka_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *content_type, u_char *data, size_t len)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    r->headers_out.status = status;

    if (status == NGX_HTTP_KAFKA_UNPROCESSABLE) {
        ngx_str_set(&r->headers_out.status_line, "422 Unprocessable Entity");
    }

    r->headers_out.content_length_n = len;
    r->headers_out.content_type = content_type ? *content_type
                                               : ngx_http_kafka_json_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = len ? 1 : 0;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * An error in the Confluent REST Proxy shape:
 * {"error_code":42201,"message":"..."}
 * Returns what ngx_http_finalize_request() expects.
 */

ngx_int_t
ngx_http_kafka_send_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t code, const char *fmt, ...)
{
    u_char   *p, *body, *last;
    size_t    len;
    va_list   args;
    u_char    msg[NGX_HTTP_KAFKA_ERROR_MESSAGE_LEN];

    va_start(args, fmt);
    last = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    len = sizeof("{\"error_code\":,\"message\":\"\"}") - 1 + NGX_INT_T_LEN
          + ngx_http_kafka_json_escape_len(msg, last - msg);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"error_code\":%ui,\"message\":\"", code);
    p = ngx_http_kafka_json_escape(p, msg, last - msg);
    *p++ = '"';
    *p++ = '}';

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kafka error response %ui: %*s", status, p - body, body);

    return ngx_http_kafka_send_json(r, status, NULL, body, p - body);
}


/*
 * JSON string escaping.  Bytes outside printable ASCII are written as
 * \u00XX, so the output is valid JSON whatever the input bytes are.
 */

size_t
ngx_http_kafka_json_escape_len(u_char *src, size_t len)
{
    size_t  n;

    n = len;

    while (len--) {
        if (*src == '"' || *src == '\\') {
            n++;

        } else if (*src < 0x20 || *src >= 0x7f) {
            n += sizeof("\\u00XX") - 2;
        }

        src++;
    }

    return n;
}


u_char *
ngx_http_kafka_json_escape(u_char *dst, u_char *src, size_t len)
{
    static u_char  hex[] = "0123456789abcdef";

    while (len--) {
        if (*src == '"' || *src == '\\') {
            *dst++ = '\\';
            *dst++ = *src;

        } else if (*src == '\n') {
            *dst++ = '\\';
            *dst++ = 'n';

        } else if (*src < 0x20 || *src >= 0x7f) {
            *dst++ = '\\';
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = hex[*src >> 4];
            *dst++ = hex[*src & 0xf];

        } else {
            *dst++ = *src;
        }

        src++;
    }

    return dst;
}
