
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_log.h"


/*
 * The bodies kafka_log captures.  The response body is copied by a body
 * filter as it passes, up to kafka_log_body_max; the filter never holds a
 * buffer back, never changes the chain and never fails: a copy that cannot
 * be made is marked truncated.  The request body is copied in the log
 * phase from what nginx read (r->request_body->bufs, memory and/or the
 * temporary file).  Both copies are request pool memory: the log handler
 * hands them to librdkafka with RD_KAFKA_MSG_F_COPY before the pool goes.
 */


/* the first allocation when the body's length is not known */
#define NGX_HTTP_KAFKA_LOG_BODY_CHUNK  4096


static ngx_int_t ngx_http_kafka_log_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_kafka_log_body_append(ngx_http_request_t *r,
    ngx_http_kafka_log_body_t *body, size_t max, ngx_buf_t *b);
static ngx_int_t ngx_http_kafka_log_body_grow(ngx_http_request_t *r,
    ngx_http_kafka_log_body_t *body, size_t need, size_t max);


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;


ngx_int_t
ngx_http_kafka_log_body_init(ngx_conf_t *cf)
{
    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_kafka_log_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_log_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                    *cl;
    ngx_http_kafka_log_body_t      *body;
    ngx_http_kafka_log_loc_conf_t  *llcf;

    if (in == NULL || r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_log_module);

    if (llcf->logs == NULL || !(llcf->body & NGX_HTTP_KAFKA_LOG_BODY_RESPONSE))
    {
        return ngx_http_next_body_filter(r, in);
    }

    body = ngx_http_get_module_ctx(r, ngx_http_kafka_log_module);

    if (body == NULL) {
        body = ngx_pcalloc(r->pool, sizeof(ngx_http_kafka_log_body_t));
        if (body == NULL) {
            return ngx_http_next_body_filter(r, in);
        }

        body->captured = 1;

        if (r->headers_out.content_length_n > 0) {
            (void) ngx_http_kafka_log_body_grow(r, body,
                       (size_t) ngx_min(r->headers_out.content_length_n,
                                        (off_t) llcf->body_max),
                       llcf->body_max);
        }

        ngx_http_set_ctx(r, body, ngx_http_kafka_log_module);
    }

    for (cl = in; cl; cl = cl->next) {
        ngx_http_kafka_log_body_append(r, body, llcf->body_max, cl->buf);
    }

    return ngx_http_next_body_filter(r, in);
}


/* the response body captured so far, or NULL if none was */

ngx_http_kafka_log_body_t *
ngx_http_kafka_log_response_body(ngx_http_request_t *r)
{
    ngx_http_kafka_log_body_t  *body;

    body = ngx_http_get_module_ctx(r, ngx_http_kafka_log_module);
    if (body) {
        return body;
    }

    /* a response without a body (HEAD, 204, 304) captures an empty one */

    body = ngx_pcalloc(r->pool, sizeof(ngx_http_kafka_log_body_t));
    if (body == NULL) {
        return NULL;
    }

    body->captured = 1;

    return body;
}


/*
 * The request body as nginx read it for whoever read it (proxy_pass,
 * kafka_produce...); empty if it was discarded or never read.
 */

ngx_http_kafka_log_body_t *
ngx_http_kafka_log_request_body(ngx_http_request_t *r, size_t max)
{
    off_t                       total;
    ngx_chain_t                *cl;
    ngx_http_kafka_log_body_t  *body;

    body = ngx_pcalloc(r->pool, sizeof(ngx_http_kafka_log_body_t));
    if (body == NULL) {
        return NULL;
    }

    body->captured = 1;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return body;
    }

    total = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        total += ngx_buf_size(cl->buf);
    }

    if (total > 0
        && ngx_http_kafka_log_body_grow(r, body,
                                        (size_t) ngx_min(total, (off_t) max),
                                        max)
           != NGX_OK)
    {
        body->truncated = 1;
        body->total = total;
        return body;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        ngx_http_kafka_log_body_append(r, body, max, cl->buf);
    }

    return body;
}


static void
ngx_http_kafka_log_body_append(ngx_http_request_t *r,
    ngx_http_kafka_log_body_t *body, size_t max, ngx_buf_t *b)
{
    off_t    len;
    size_t   n;
    ssize_t  rc;

    if (ngx_buf_in_memory(b)) {
        len = b->last - b->pos;

    } else if (b->in_file) {
        len = b->file_last - b->file_pos;

    } else {
        return;
    }

    if (len <= 0) {
        return;
    }

    body->total += len;

    n = (size_t) ngx_min(len, (off_t) (max - body->len));

    if (n < (size_t) len) {
        body->truncated = 1;
    }

    if (n == 0) {
        return;
    }

    if (ngx_http_kafka_log_body_grow(r, body, body->len + n, max) != NGX_OK) {
        body->truncated = 1;
        return;
    }

    if (ngx_buf_in_memory(b)) {
        ngx_memcpy(body->data + body->len, b->pos, n);
        body->len += n;
        return;
    }

    /* a file buffer (a static file, a body in a temporary file) */

    rc = ngx_read_file(b->file, body->data + body->len, n, b->file_pos);

    if (rc != (ssize_t) n) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "kafka_log: could not read \"%V\", the body is "
                      "marked truncated", &b->file->name);
        body->truncated = 1;
        return;
    }

    body->len += n;
}


static ngx_int_t
ngx_http_kafka_log_body_grow(ngx_http_request_t *r,
    ngx_http_kafka_log_body_t *body, size_t need, size_t max)
{
    u_char  *p;
    size_t   size;

    if (need <= body->size) {
        return NGX_OK;
    }

    size = ngx_max(body->size * 2, NGX_HTTP_KAFKA_LOG_BODY_CHUNK);
    size = ngx_max(size, need);
    size = ngx_min(size, max);

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (body->len) {
        ngx_memcpy(p, body->data, body->len);
    }

    body->data = p;
    body->size = size;

    return NGX_OK;
}
