
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
 * The bodies kafka_log captures, both copied as they pass, up to
 * kafka_log_body_max: the request body by a request body filter, as nginx
 * reads it for whoever reads it (proxy_pass, kafka_produce...), before it
 * may go to a temporary file that the upstream module closes when it is
 * done; the response body by a body filter.  The filters never hold a
 * buffer back, never change the chain and never fail: a copy that cannot
 * be made is marked truncated.  The copies are request pool memory: the
 * log handler hands them to librdkafka with RD_KAFKA_MSG_F_COPY before the
 * pool goes.
 */


/* the first allocation when the body's length is not known */
#define NGX_HTTP_KAFKA_LOG_BODY_CHUNK  4096


static ngx_http_kafka_log_ctx_t *ngx_http_kafka_log_body_ctx(
    ngx_http_request_t *r, ngx_uint_t body);
static ngx_int_t ngx_http_kafka_log_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_kafka_log_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_kafka_log_body_append(ngx_http_request_t *r,
    ngx_http_kafka_log_body_t *body, size_t max, ngx_buf_t *b);
static ngx_int_t ngx_http_kafka_log_body_grow(ngx_http_request_t *r,
    ngx_http_kafka_log_body_t *body, size_t need, size_t max,
    ngx_uint_t exact);


static ngx_http_request_body_filter_pt  ngx_http_next_request_body_filter;
static ngx_http_output_body_filter_pt   ngx_http_next_body_filter;


ngx_int_t
ngx_http_kafka_log_body_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_kafka_log_request_body_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_kafka_log_body_filter;

    return NGX_OK;
}


/* the capture context of a main request whose location wants "body" */

static ngx_http_kafka_log_ctx_t *
ngx_http_kafka_log_body_ctx(ngx_http_request_t *r, ngx_uint_t body)
{
    ngx_http_kafka_log_ctx_t       *ctx;
    ngx_http_kafka_log_loc_conf_t  *llcf;

    if (r != r->main) {
        return NULL;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_log_module);

    if (llcf->logs == NULL || !(llcf->body & body)) {
        return NULL;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_kafka_log_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kafka_log_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_kafka_log_module);
    }

    return ctx;
}


static ngx_int_t
ngx_http_kafka_log_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    ngx_chain_t                    *cl;
    ngx_http_kafka_log_ctx_t       *ctx;
    ngx_http_kafka_log_loc_conf_t  *llcf;

    ctx = ngx_http_kafka_log_body_ctx(r, NGX_HTTP_KAFKA_LOG_BODY_REQUEST);

    if (ctx) {
        llcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_log_module);

        if (!ctx->request.captured && r->headers_in.content_length_n > 0) {
            (void) ngx_http_kafka_log_body_grow(r, &ctx->request,
                       (size_t) ngx_min(r->headers_in.content_length_n,
                                        (off_t) llcf->body_max),
                       llcf->body_max, 1);
        }

        ctx->request.captured = 1;

        for (cl = in; cl; cl = cl->next) {
            ngx_http_kafka_log_body_append(r, &ctx->request, llcf->body_max,
                                           cl->buf);
        }
    }

    return ngx_http_next_request_body_filter(r, in);
}


static ngx_int_t
ngx_http_kafka_log_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                    *cl;
    ngx_http_kafka_log_ctx_t       *ctx;
    ngx_http_kafka_log_loc_conf_t  *llcf;

    if (in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_kafka_log_body_ctx(r, NGX_HTTP_KAFKA_LOG_BODY_RESPONSE);

    if (ctx) {
        llcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_log_module);

        if (!ctx->response.captured && r->headers_out.content_length_n > 0) {
            (void) ngx_http_kafka_log_body_grow(r, &ctx->response,
                       (size_t) ngx_min(r->headers_out.content_length_n,
                                        (off_t) llcf->body_max),
                       llcf->body_max, 1);
        }

        ctx->response.captured = 1;

        for (cl = in; cl; cl = cl->next) {
            ngx_http_kafka_log_body_append(r, &ctx->response, llcf->body_max,
                                           cl->buf);
        }
    }

    return ngx_http_next_body_filter(r, in);
}


/*
 * The bodies as captured, for the log handler; a body that did not pass
 * (a discarded request body, a response without one) is empty.
 */

ngx_http_kafka_log_body_t *
ngx_http_kafka_log_response_body(ngx_http_request_t *r)
{
    ngx_http_kafka_log_ctx_t  *ctx;

    ctx = ngx_http_kafka_log_body_ctx(r, NGX_HTTP_KAFKA_LOG_BODY_RESPONSE);

    return ctx ? &ctx->response : NULL;
}


ngx_http_kafka_log_body_t *
ngx_http_kafka_log_request_body(ngx_http_request_t *r)
{
    ngx_http_kafka_log_ctx_t  *ctx;

    ctx = ngx_http_kafka_log_body_ctx(r, NGX_HTTP_KAFKA_LOG_BODY_REQUEST);

    return ctx ? &ctx->request : NULL;
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

    if (ngx_http_kafka_log_body_grow(r, body, body->len + n, max, 0)
        != NGX_OK)
    {
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
    ngx_http_kafka_log_body_t *body, size_t need, size_t max,
    ngx_uint_t exact)
{
    u_char  *p;
    size_t   size;

    if (need <= body->size) {
        return NGX_OK;
    }

    /*
     * "exact": the body's length is known, and so what it needs.  Else
     * room to grow: twice the size, at least 4 KiB.
     */

    if (exact) {
        size = need;

    } else {
        size = ngx_max(body->size * 2, NGX_HTTP_KAFKA_LOG_BODY_CHUNK);
        size = ngx_max(size, need);
    }

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
