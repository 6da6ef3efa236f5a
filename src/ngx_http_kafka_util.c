
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include <pthread.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_rest.h"


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
 * A topic that a request may name: valid, and not internal ("__" starts
 * Kafka's own topics, e.g. __consumer_offsets) unless the location says
 * "kafka_internal_topics on" or the configuration names it literally.
 */

ngx_int_t
ngx_http_kafka_topic_allowed(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv, ngx_str_t *topic)
{
    ngx_http_kafka_loc_conf_t  *klcf;

    if (ngx_http_kafka_topic_valid(topic) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (topic->len < 2 || topic->data[0] != '_' || topic->data[1] != '_'
        || cv->lengths == NULL)
    {
        return NGX_OK;
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_gateway_module);

    return klcf->internal_topics ? NGX_OK : NGX_DECLINED;
}


/* the 400 answer for a topic that ngx_http_kafka_topic_allowed() refused */

ngx_int_t
ngx_http_kafka_topic_refuse(ngx_http_request_t *r, ngx_str_t *topic)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_kafka_topic_valid(topic) == NGX_OK) {
        return ngx_http_kafka_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         NGX_HTTP_KAFKA_REST_TOPIC_INVALID,
                                         "topic \"%V\" is internal to Kafka",
                                         topic);
    }

    return ngx_http_kafka_send_error(r, NGX_HTTP_BAD_REQUEST,
        NGX_HTTP_KAFKA_REST_TOPIC_INVALID,
        "invalid topic name \"%V\": 1 to 249 characters of "
        "a-z, A-Z, 0-9, \".\", \"_\", \"-\"", topic);
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
 * JSON string escaping for the whole module (error messages, header names
 * in SSE events).  Valid UTF-8 is kept as it is; each byte of an invalid
 * sequence becomes U+FFFD; control characters and DEL are escaped, so the
 * output is valid JSON and never holds a raw CR, LF or NUL, whatever the
 * input bytes are.
 */

static u_char  ngx_http_kafka_json_replacement[] = "\\ufffd";


/*
 * The length of the valid UTF-8 sequence of at least two bytes at "p",
 * or 0: overlong forms, surrogates and code points over U+10FFFF are
 * invalid, as RFC 3629 says.
 */

static size_t
ngx_http_kafka_utf8_len(u_char *p, u_char *last)
{
    size_t    n, i;
    uint32_t  u, min;

    if (*p >= 0xc2 && *p <= 0xdf) {
        n = 2; u = *p & 0x1f; min = 0x80;

    } else if (*p >= 0xe0 && *p <= 0xef) {
        n = 3; u = *p & 0x0f; min = 0x800;

    } else if (*p >= 0xf0 && *p <= 0xf4) {
        n = 4; u = *p & 0x07; min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        u = (u << 6) | (p[i] & 0x3f);
    }

    if (u < min || u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
        return 0;
    }

    return n;
}


/* well-formed UTF-8, as a browser's EventSource decodes it unreplaced */

ngx_uint_t
ngx_http_kafka_utf8_valid(u_char *p, size_t len)
{
    size_t   n;
    u_char  *last;

    if (len == 0) {
        return 1;            /* an empty ngx_str_t's data may be NULL */
    }

    last = p + len;

    while (p < last) {
        if (*p < 0x80) {
            p++;
            continue;
        }

        n = ngx_http_kafka_utf8_len(p, last);

        if (n == 0) {
            return 0;
        }

        p += n;
    }

    return 1;
}


size_t
ngx_http_kafka_json_escape_len(u_char *src, size_t len)
{
    size_t   n, size;
    u_char  *last;

    if (len == 0) {
        return 0;            /* an empty ngx_str_t's data may be NULL */
    }

    size = 0;
    last = src + len;

    while (src < last) {
        if (*src == '"' || *src == '\\' || *src == '\n' || *src == '\r'
            || *src == '\t')
        {
            size += 2;

        } else if (*src < 0x20 || *src == 0x7f) {
            size += sizeof("\\u00XX") - 1;

        } else if (*src >= 0x80) {
            n = ngx_http_kafka_utf8_len(src, last);

            if (n == 0) {
                size += sizeof(ngx_http_kafka_json_replacement) - 1;
                src++;
                continue;
            }

            size += n;
            src += n;
            continue;

        } else {
            size++;
        }

        src++;
    }

    return size;
}


u_char *
ngx_http_kafka_json_escape(u_char *dst, u_char *src, size_t len)
{
    size_t          n;
    u_char         *last;
    static u_char   hex[] = "0123456789abcdef";

    if (len == 0) {
        return dst;          /* an empty ngx_str_t's data may be NULL */
    }

    last = src + len;

    while (src < last) {
        if (*src == '"' || *src == '\\') {
            *dst++ = '\\';
            *dst++ = *src;

        } else if (*src == '\n' || *src == '\r' || *src == '\t') {
            *dst++ = '\\';
            *dst++ = (*src == '\n') ? 'n' : (*src == '\r') ? 'r' : 't';

        } else if (*src < 0x20 || *src == 0x7f) {
            *dst++ = '\\';
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = hex[*src >> 4];
            *dst++ = hex[*src & 0xf];

        } else if (*src >= 0x80) {
            n = ngx_http_kafka_utf8_len(src, last);

            if (n == 0) {
                dst = ngx_cpymem(dst, ngx_http_kafka_json_replacement,
                                 sizeof(ngx_http_kafka_json_replacement) - 1);
                src++;
                continue;
            }

            dst = ngx_cpymem(dst, src, n);
            src += n;
            continue;

        } else {
            *dst++ = *src;
        }

        src++;
    }

    return dst;
}


/*
 * Adds a response header.  Every field is set: since nginx 1.23.0 headers
 * of the same name are linked through "next", and core phases walk that
 * list (e.g. the access phase's "satisfy any" over WWW-Authenticate).
 */

ngx_table_elt_t *
ngx_http_kafka_header_add(ngx_http_request_t *r, char *key, ngx_str_t *value)
{
    size_t            len;
    u_char           *lowcase;
    ngx_table_elt_t  *h;

    len = ngx_strlen(key);

    lowcase = ngx_pnalloc(r->pool, len);
    if (lowcase == NULL) {
        return NULL;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = len;
    h->value = *value;
    h->lowcase_key = lowcase;
    ngx_strlow(h->lowcase_key, h->key.data, len);
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}


/*
 * The post handler of ngx_conf_set_msec_slot and ngx_conf_set_size_slot:
 * ngx_msec_t is an ngx_uint_t and size_t is as wide, as nginx's own
 * ngx_conf_check_num_bounds() reads an ngx_int_t.
 */

char *
ngx_http_kafka_check_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_kafka_bounds_t  *b = post;
    ngx_uint_t               *value = data;

    if (*value < b->min || *value > b->max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", b->error);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * An arena for jansson while one request's JSON is parsed and dropped
 * (a REST Proxy envelope): jansson allocates five or six times per
 * record, and each malloc() and free() costs more than the parse of a
 * short value.  Between ngx_http_kafka_json_arena_begin() and _end()
 * jansson's memory comes from chunks of the request pool, and freeing
 * it does nothing; the pool goes with the request.  Outside of that,
 * and for anything freed that the arena did not give, or in any other
 * thread than the one that began it, jansson's functions are malloc()
 * and free() themselves, so libjwt and the configuration's JSON are as
 * before.  Nothing that jansson allocates in the arena may outlive
 * _end(): the caller drops the whole document.
 */

#define NGX_HTTP_KAFKA_JSON_CHUNKS  16

typedef struct {
    pthread_t    thread;
    ngx_pool_t  *pool;
    u_char      *pos;
    u_char      *last;
    size_t       next;
    ngx_uint_t   nchunks;
    u_char      *start[NGX_HTTP_KAFKA_JSON_CHUNKS];
    u_char      *end[NGX_HTTP_KAFKA_JSON_CHUNKS];
} ngx_http_kafka_json_arena_t;


static ngx_http_kafka_json_arena_t  *ngx_http_kafka_json_arena;


static void *
ngx_http_kafka_json_malloc(size_t size)
{
    u_char                       *p;
    size_t                        chunk;
    ngx_http_kafka_json_arena_t  *a;

    a = ngx_http_kafka_json_arena;

    if (a == NULL || !pthread_equal(a->thread, pthread_self())) {
        return malloc(size);
    }

    size = ngx_align(size, NGX_ALIGNMENT);

    if ((size_t) (a->last - a->pos) < size) {

        if (a->nchunks == NGX_HTTP_KAFKA_JSON_CHUNKS) {
            return malloc(size);
        }

        chunk = ngx_max(a->next, size);

        p = ngx_palloc(a->pool, chunk);
        if (p == NULL) {
            return NULL;
        }

        a->start[a->nchunks] = p;
        a->end[a->nchunks] = p + chunk;
        a->nchunks++;
        a->next = chunk * 2;

        a->pos = p;
        a->last = p + chunk;
    }

    p = a->pos;
    a->pos += size;

    return p;
}


static void
ngx_http_kafka_json_free(void *ptr)
{
    u_char                       *p;
    ngx_uint_t                    i;
    ngx_http_kafka_json_arena_t  *a;

    a = ngx_http_kafka_json_arena;

    if (a && pthread_equal(a->thread, pthread_self())) {
        p = ptr;

        for (i = 0; i < a->nchunks; i++) {
            if (p >= a->start[i] && p < a->end[i]) {
                return;
            }
        }
    }

    free(ptr);
}


/*
 * "hint" is the size of the text to parse; jansson needs a few times
 * that.  Returns NGX_DECLINED, without an arena, when one is already in
 * use, and NGX_ERROR when no memory is left.
 */

ngx_int_t
ngx_http_kafka_json_arena_begin(ngx_pool_t *pool, size_t hint)
{
    ngx_http_kafka_json_arena_t  *a;

    static ngx_uint_t  installed;

    if (ngx_http_kafka_json_arena) {
        return NGX_DECLINED;
    }

    if (!installed) {
        json_set_alloc_funcs(ngx_http_kafka_json_malloc,
                             ngx_http_kafka_json_free);
        installed = 1;
    }

    a = ngx_pcalloc(pool, sizeof(ngx_http_kafka_json_arena_t));
    if (a == NULL) {
        return NGX_ERROR;
    }

    a->thread = pthread_self();
    a->pool = pool;
    a->next = ngx_max(4 * hint, 4096);

    ngx_http_kafka_json_arena = a;

    return NGX_OK;
}


void
ngx_http_kafka_json_arena_end(void)
{
    ngx_http_kafka_json_arena = NULL;
}
